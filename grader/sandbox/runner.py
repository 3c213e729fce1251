"""Runs every case of a submission through a backend, under a watchdog: the backend protocol and run_submission."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from grader.cases.model import Case
from grader.results import CallResult, RunResult
from grader.sandbox import Backend
from grader.sandbox.calls import Calls, Clock
from grader.sandbox.capture import Capture
from grader.sandbox.jobfiles import read_capped
from grader.sandbox.protocol import OUT, write_job, write_plan
from grader.sandbox.storage import remove_job
from grader.spec import Limits
from grader.submission import Submission

log = logging.getLogger("pa5-grader.sandbox")
# How long past the submission's limit its worker may run before the watchdog kills its sandbox, and again
# before it gives up on the worker (a hang on the trusted side) and answers for the submission without it.
WATCHDOG_SECONDS = 5.0


def run_submission(
    *,
    submission: Submission,
    cases: list[Case],
    backend: Backend,
    limits: Limits,
    redact: tuple[str, ...] = (),
    cancel=None,
    extra: Sequence[Case] = (),
    more: Callable[[dict[str, CallResult]], list[Case]] | None = None,
) -> RunResult:
    """Run the graded cases, then the unscored `extra` ones in the same session (after the graded calls, so
    they never change them); every case that runs ends as exactly one CallResult, whatever the student code does.

    Then, in rounds and in the same session, the cases `more` asks for given the results so far (shrink
    candidates), until it asks for none. The unscored calls share limits.feedback_seconds, counted from the
    first of them, within the submission's limit.

    The work runs in a thread of its own, watched from this one: whatever hangs on the trusted side (a read, a
    backend call), the submission's limit still ends it, as a result for this submission.
    """
    run = _Run(submission, [*cases, *extra], backend, limits, cancel, more, first_extra=len(cases))
    worker = threading.Thread(target=run.body, name="pa5-grade", daemon=True)
    worker.start()
    try:
        worker.join(limits.submission_timeout + WATCHDOG_SECONDS)
        if worker.is_alive():
            log.error("a grade outlived its %g s limit; the watchdog stops it", limits.submission_timeout)
            run.kill()
            worker.join(WATCHDOG_SECONDS)
            return run.result(redact, abandoned=True)
    except BaseException:  # Ctrl-C while waiting: end the sandbox before leaving
        run.kill()
        worker.join(WATCHDOG_SECONDS)
        raise
    if run.error is not None:
        raise run.error
    return run.result(redact, abandoned=False)


class _Run:
    """One submission's run, done by run_submission's worker thread and readable by its watchdog."""

    def __init__(self, submission, cases, backend, limits, cancel, more, *, first_extra: int):
        self.submission, self.cases, self.backend, self.limits = submission, cases, backend, limits
        self.stop = threading.Event()  # set by the watchdog: the worker ends at its next look
        self.cancel = _Either(cancel, self.stop) if cancel is not None else self.stop
        self.more, self.first = more, len(cases)
        self.t0 = time.monotonic()
        self.clock = Clock(self.t0, limits, first_extra=first_extra)
        self.capture = Capture(keep=limits.output_kb << 10)
        self.calls: Calls | None = None
        self.job: Path | None = None
        self.import_error: str | None = None
        self.printed = 0
        self.error: BaseException | None = None

    def body(self) -> None:
        try:
            self._body()
        except BaseException as e:  # handed to the waiting thread
            self.error = e

    def _body(self) -> None:
        cases, limits, more = self.cases, self.limits, self.more
        self.job = job = self.backend.new_job(limits)
        try:
            write_job(job, submission=self.submission, cases=cases, rounds=more is not None)
            session = self.backend.open(job)
            run = Calls(session, job, cases, limits, self.capture, self.clock, self.cancel, rounds=more is not None)
            self.calls = run
            try:
                self.import_error = run.run(list(range(self.first)))
                while more is not None and self.import_error is None and self.clock.open(time.monotonic()):
                    added = more({cases[i].id: r for i, r in run.results.items()})
                    if not added:
                        break
                    todo = list(range(len(cases), len(cases) + len(added)))
                    cases += added
                    write_plan(job, cases, rounds=True)
                    run.run(todo)
                run.close(gently=True)
            finally:
                run.close(gently=False)
                run.session.close()
            self.printed = _printed(job)
        finally:
            remove_job(job)

    def kill(self) -> None:
        """From the watchdog: stop the worker at its next look, and end the attempt that is running, if any, so
        a wait on the sandbox ends too."""
        self.stop.set()
        attempt = self.calls.current if self.calls is not None else None
        if attempt is not None:
            try:
                attempt.kill()
            except Exception:  # the worker may be finishing it at the same moment
                log.warning("killing a sandbox from the watchdog failed", exc_info=True)

    def result(self, redact: tuple[str, ...], *, abandoned: bool) -> RunResult:
        cases = self.cases
        results = _copy(self.calls.results) if self.calls is not None else {}
        if abandoned:
            why = f"the grader stopped this submission at its {self.limits.submission_timeout:g} s limit"
            for i in range(self.first):
                results.setdefault(i, CallResult(cases[i].id, "timeout", why))
        elif self.import_error is not None:
            results = {i: CallResult(c.id, "error", self.import_error) for i, c in enumerate(cases[: self.first])}
        job = self.job or Path("/nonexistent")
        paths = {f"{job}/submission/": "", "/job/submission/": "", str(job): "<job>", "/job/": "<job>/"}
        text, cut = self.capture.text(redact, paths)
        return RunResult(
            calls={cases[i].id: r for i, r in sorted(results.items())},
            import_error=None if abandoned else self.import_error,
            output=text,
            output_truncated=cut,
            output_bytes=max(self.capture.total, self.printed),
            backend=self.backend.name,
            isolated=self.backend.isolated,
            note=self.backend.note,
            seconds=time.monotonic() - self.t0,
        )


class _Either:
    """Set when either event is."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()


def _copy(results: dict) -> dict:
    """A copy of a dict the worker may still be adding to (an abandoned one)."""
    while True:
        try:
            return dict(results)
        except RuntimeError:  # changed size during the copy
            continue


def _printed(job: Path) -> int:
    """Bytes the harness runs say they printed (most of a flood is discarded in the sandbox): a count, no more."""
    lines = (read_capped(job, f"{OUT}/printed", 4096) or b"").split()
    return sum(int(n) for n in lines if n.isdigit() and len(n) < 16)
