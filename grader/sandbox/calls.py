"""One submission's calls through one backend session: attempts, restarted after a crash or timeout, the limits
that end them, and what each call came to."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from grader.cases.model import Case
from grader.contract import LAYERS
from grader.results import CallResult
from grader.sandbox.protocol import (
    clear_rounds,
    is_protocol_file,
    read_call,
    read_import_status,
    read_progress,
    write_round,
)
from grader.sandbox.storage import box_full, capped, fresh_scratch, out_over_quota
from grader.spec import Limits

POLL = 0.02
QUOTA_EVERY = 0.1


class Clock:
    """The submission's deadline, and the feedback budget that starts with the first extra call."""

    def __init__(self, t0: float, limits: Limits, first_extra: int):
        self.deadline = t0 + limits.submission_timeout
        self.first_extra, self.budget = first_extra, limits.feedback_seconds
        self.extra_deadline: float | None = None

    def is_extra(self, index: int) -> bool:
        return index >= self.first_extra

    def open(self, now: float) -> bool:
        """Whether there is time left for more unscored calls."""
        return now < self.deadline and (self.extra_deadline is None or now < self.extra_deadline)

    def over(self, now: float, current: int | None, ended: set[int]) -> str | None:
        if now > self.deadline:
            return "deadline"
        if self.extra_deadline is None and (
            (current is not None and self.is_extra(current)) or any(map(self.is_extra, ended))
        ):
            self.extra_deadline = now + self.budget
        if self.extra_deadline is not None and now > self.extra_deadline:
            return "feedback-budget"
        return None


class Calls:
    """One submission's calls through one backend session: attempts, restarted after a crash or timeout,
    and with rounds a harness kept waiting between them, so the next round needs no new interpreter."""

    def __init__(self, session, job, cases, limits, capture, clock, cancel, *, rounds: bool):
        self.session, self.job, self.cases, self.limits = session, job, cases, limits
        self.capture, self.clock, self.cancel, self.rounds = capture, clock, cancel, rounds
        self.results: dict[int, CallResult] = {}
        self.current = None  # the attempt being watched, for a watchdog outside to kill
        self.waiting = None  # a harness that ran its calls and waits for round-N.json
        self.asked = 0  # rounds asked of it

    def ask(self, calls: list[int]):
        self.asked += 1
        write_round(self.job, self.asked, calls)
        return self.waiting

    def close(self, *, gently: bool) -> None:
        """Finish a waiting harness; gently: first let it end as it would without rounds (its last output)."""
        if self.waiting is None:
            return
        try:
            if gently:
                self.ask([]).poll(5)
        finally:
            self.session.finish(self.waiting)
            self.waiting = None

    def run(self, todo: list[int]) -> str | None:
        """Until every case in `todo` has a result; returns the import error, if any."""
        cases, job, limits = self.cases, self.job, self.limits
        while todo:
            if self.waiting is not None:
                attempt = self.ask(todo)
            else:
                clear_rounds(job)
                fresh_scratch(job, is_protocol_file, limits)
                attempt, self.asked = self.session.start(todo, self.capture, limits), 0
            self.waiting, self.current = None, attempt
            try:
                reason, code = _watch(attempt, job, limits, self.clock, self.cancel, todo if self.rounds else None)
            except BaseException:
                self.session.finish(attempt)
                raise
            finally:
                self.current = None
            if reason == "waiting":
                self.waiting = attempt
            else:
                self.session.finish(attempt)
            full = reason == "disk-quota" or box_full(job, limits)
            started, current, ended = read_progress(job)
            status = read_import_status(job)
            if status is None or not status.ok:
                return _with_quota(_import_failure(status, started, reason, code, attempt, limits), full, limits)
            results = self.results
            for i in todo:
                if i in ended:
                    results[i] = _finished(job, i, cases[i], full, limits)
            remaining = [i for i in todo if i not in ended]
            if current is not None and current in remaining:
                results[current] = _interrupted(cases[current], reason, code, attempt, limits, full)
                remaining.remove(current)
                if reason == "call-timeout":
                    # Its siblings would most likely hang too; charging each another timeout helps nobody.
                    for i in [i for i in remaining if cases[i].layer == cases[current].layer]:
                        results[i] = CallResult(
                            cases[i].id, "timeout", "not run: an earlier call of the same function timed out"
                        )
                        remaining.remove(i)
            elif remaining and reason == "exited":
                # The harness stopped between calls: treat the next call as the one that was cut off.
                results[remaining[0]] = _interrupted(cases[remaining[0]], reason, code, attempt, limits, full)
                remaining.pop(0)
            if reason in ("deadline", "feedback-budget"):
                for i in remaining:
                    results[i] = CallResult(cases[i].id, "timeout", "not run: " + _LATE[reason](limits))
                remaining = []
            todo = remaining
        return None


class Cancelled(Exception):
    """The caller asked to stop (Ctrl-C in a batch); the attempt was killed."""


def _watch(attempt, job: Path, limits: Limits, clock: Clock, cancel, todo: list[int] | None):
    """Wait for the attempt to end or break a limit; with rounds, also for it to finish `todo` and wait for
    the next round ("waiting"). Returns (reason, exit code)."""
    seen: dict[object, float] = {}
    measure = not capped(job)  # without a capped box, out/ is measured here (no more often than QUOTA_EVERY)
    measured = time.monotonic()
    while True:
        code = attempt.poll(POLL, progress=True)
        if code is not None:
            return "exited", code
        now = time.monotonic()
        _, current, ended = read_progress(job)
        if todo is not None and current is None and ended.issuperset(todo):
            return "waiting", 0
        key = ("call", current) if current is not None else ("between", len(ended))
        if cancel is not None and cancel.is_set():
            attempt.kill()
            raise Cancelled()
        reason = None
        if now - seen.setdefault(key, now) > limits.call_timeout:
            reason = "call-timeout"
        else:
            reason = clock.over(now, current, ended)
        if reason is None and measure and now - measured > QUOTA_EVERY:
            measured = now
            reason = "disk-quota" if out_over_quota(job, limits) else None
        if reason:
            attempt.kill()
            code = attempt.poll(5)
            return reason, (-signal.SIGKILL if code is None else code)


def _finished(job: Path, index: int, case: Case, full: bool, limits: Limits) -> CallResult:
    """A finished call under plain names: arrays by problem id, modified inputs by argument name."""
    status, arrays = read_call(job, index)
    if status.status != "ok":
        return CallResult(case.id, status.status, _with_quota(status.message, full, limits), seconds=status.seconds)
    outputs = LAYERS[case.layer].outputs
    return CallResult(
        case.id,
        "ok",
        outputs={pid: arrays[f"r{k}"] for k, pid in enumerate(outputs) if f"r{k}" in arrays},
        unreadable={pid: why for pid, why in zip(outputs, status.output_problems, strict=False) if why},
        # The job folder names inputs "<call>.<argument>".
        modified_inputs=[name.rpartition(".")[2] for name in status.modified_inputs],
        seconds=status.seconds,
    )


_LATE = {
    "deadline": lambda limits: f"the submission's {limits.submission_timeout:g} s limit was reached",
    "feedback-budget": lambda limits: f"the {limits.feedback_seconds:g} s for unscored feedback calls ran out",
}


def _interrupted(case: Case, reason: str, code: int, attempt, limits: Limits, full: bool) -> CallResult:
    if reason == "call-timeout":
        return CallResult(case.id, "timeout", f"timed out after {limits.call_timeout:g} s")
    if reason in _LATE:
        return CallResult(case.id, "timeout", _LATE[reason](limits))
    if reason == "disk-quota":
        return CallResult(case.id, "crashed", "stopped: " + _quota(limits))
    return CallResult(case.id, "crashed", _with_quota(attempt.describe_exit(code), full, limits))


def _with_quota(message: str, full: bool, limits: Limits) -> str:
    """A message, and why, when the sandbox had filled its writable space: it could not write its results."""
    return f"{message}; {_quota(limits)}" if full else message


def _quota(limits: Limits) -> str:
    return (
        f"the sandbox had filled its writable space (limits.disk_mb = {limits.disk_mb} MiB, "
        f"limits.files = {limits.files} files for its results, working folder, /tmp and /dev/shm together)"
    )


def _import_failure(status, started: bool, reason: str, code: int, attempt, limits: Limits) -> str:
    if status is not None:
        return status.message
    if reason in ("call-timeout", "deadline"):
        return f"importing backprop.py timed out after {limits.call_timeout:g} s"
    if not started:
        return f"the sandbox could not start the harness ({attempt.describe_exit(code)})"
    return f"importing backprop.py crashed: {attempt.describe_exit(code)}"
