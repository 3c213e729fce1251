"""The passback sweeper: every few seconds, compare each linked student's standing with what their line item was last
sent, and send the difference. Its state is in the database, so a restart resumes where it stopped; each student is
sent and fails on their own."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.service.lti import roster, scores
from grader.service.lti.adapters import http_session
from grader.service.lti.passback import Failed, backoff, make_lineitem, naive, send, wanted
from grader.service.lti.rows import LinkRow, PassbackRow, PlatformRow
from grader.spec import Spec

log = logging.getLogger("pa5-grader.service.lti")
SWEEP_SECONDS = 10.0
CLAIM_SECONDS = 120  # how long one process may take to make a link's line item before another may try


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # a difference to send, but not yet: a retry time, a platform's Retry-After, a line item
    unchanged: int = 0
    ungraded: int = 0


class _Sweep:
    """One pass over the passback rows at one `now`; connectors and line items are reused within it."""

    def __init__(self, store, data_dir: Path, now: dt.datetime, spec: Spec):
        self.store, self.data_dir, self.now, self.naive_now, self.spec = store, data_dir, now, naive(now), spec
        self.platforms: dict[int, PlatformRow] = {p.id: p for p in store.lti.platforms()}
        self.connectors: dict[int, object] = {}
        self.http = contextlib.ExitStack()  # the sessions of the connectors, closed when the pass ends
        self.lineitems: dict[int, str | Failed | None] = {}
        self.standings: dict[str, object] = {}
        self.result = SweepResult()

    def connector(self, platform: PlatformRow):
        if platform.id not in self.connectors:
            http = self.http.enter_context(http_session())
            self.connectors[platform.id] = roster.connector(platform, self.data_dir, http)
        return self.connectors[platform.id]

    def lineitem(self, link: LinkRow, platform: PlatformRow, max_score: float) -> str | None:
        """The link's line item URL; None while another process makes it; raises Failed."""
        if link.lineitem_url:
            return link.lineitem_url
        if link.id not in self.lineitems:
            lti, until = self.store.lti, self.naive_now + dt.timedelta(seconds=CLAIM_SECONDS)
            if not lti.claim_lineitem(link.id, self.naive_now, until):
                self.lineitems[link.id] = lti.link(link.id).lineitem_url
            else:
                try:
                    url = make_lineitem(self.connector(platform), link, max_score, self.now)
                    lti.set_lineitem(link.id, url)
                    self.lineitems[link.id] = url
                except Failed as f:
                    lti.set_lineitem(link.id, None, error=f.answer)
                    self.lineitems[link.id] = f
        got = self.lineitems[link.id]
        if isinstance(got, Failed):
            raise got
        return got

    def wanted(self, student_id: str):
        """The student's score now, once per pass (a student has a row per line item)."""
        if student_id not in self.standings:
            self.standings[student_id] = wanted(scores.standing(self.store, student_id, self.now, spec=self.spec))
        return self.standings[student_id]

    def row(self, row: PassbackRow) -> None:
        lti, now = self.store.lti, self.naive_now
        platform = self.platforms.get(row.link.platform_id)
        if platform is None:  # removed during this pass
            return
        w = self.wanted(row.user.student_id)
        if w is None:
            self.result.ungraded += 1
            return
        if row.sent_at is not None and w.same_as(row):
            if row.status != "sent":
                lti.passbacks.settle(row.id, now)
            self.result.unchanged += 1
            return
        if row.status == "sent":
            lti.passbacks.mark_pending(row.id, now)
        if (row.next_attempt_at and row.next_attempt_at > now) or (platform.not_before and platform.not_before > now):
            self.result.waiting += 1
            return
        try:
            url = self.lineitem(row.link, platform, w.max_score)
            if url is None:
                self.result.waiting += 1
                return
            answer = send(self.connector(platform), row.link, url, row.user.sub, w, self.now)
        except Failed as f:
            self.fail(row, platform, f)
            return
        lti.passbacks.record_sent(
            row.id,
            submission_id=w.submission_id,
            score=w.score,
            max_score=w.max_score,
            timestamp=naive(w.timestamp),
            progress=w.grading,
            answer=answer,
            now=now,
        )
        self.result.sent += 1

    def fail(self, row: PassbackRow, platform: PlatformRow, f: Failed) -> None:
        delay = f.retry_after if f.retry_after is not None else backoff(row.failures + 1)
        lti, retry_at = self.store.lti, self.naive_now + dt.timedelta(seconds=delay)
        lti.passbacks.record_failed(row.id, code=f.code, answer=f.answer, retry_at=retry_at, now=self.naive_now)
        if f.code == 429:  # the platform asks the tool, not this student, to wait
            lti.hold_platform(platform.id, retry_at)
            self.platforms[platform.id] = dataclasses.replace(platform, not_before=retry_at)
        self.result.failed += 1


def sweep_once(*, store, data_dir: Path, now: dt.datetime, spec: Spec) -> SweepResult:
    """One pass at `now` (aware UTC): send what changed, retry what is due. A student's failure, even an unexpected
    one, is recorded on their row and the pass goes on."""
    sweep = _Sweep(store, data_dir, now, spec)
    store.lti.state_sweep(sweep.naive_now)
    with sweep.http:
        for row in store.lti.passbacks.rows():
            try:
                sweep.row(row)
            except Exception as e:  # a bug here must cost one row, not the class's passback
                log.exception("passback for %s failed unexpectedly", row.user.student_id)
                platform = sweep.platforms.get(row.link.platform_id)
                if platform is not None:
                    why = f"internal error in the grader: {e.__class__.__name__}: {e}"
                    sweep.fail(row, platform, Failed(None, why))
    return sweep.result


class Sweeper:
    """sweep_once every `interval` seconds in a thread of its own, from start() to stop()."""

    def __init__(
        self, *, store, data_dir: Path, spec: Spec, interval: float = SWEEP_SECONDS, clock: Callable = utc_now
    ):
        self.store, self.data_dir, self.spec, self.interval, self.clock = store, data_dir, spec, interval, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lti-passback", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.store.lti.platforms():
                try:
                    sweep_once(store=self.store, data_dir=self.data_dir, now=self.clock(), spec=self.spec)
                except Exception:
                    log.exception("the passback sweep failed; trying again in %s s", self.interval)
            self._stop.wait(self.interval)
