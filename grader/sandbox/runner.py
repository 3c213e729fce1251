"""Runs every case of a submission through a backend, restarting the harness after a crash or timeout."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from grader.cases.model import Case
from grader.contract import LAYERS
from grader.results import CallResult, RunResult
from grader.sandbox.capture import Capture
from grader.sandbox.protocol import (
    clear_rounds,
    read_call,
    read_import_status,
    read_progress,
    write_job,
    write_plan,
    write_round,
)
from grader.spec import Limits
from grader.submission import Submission

POLL = 0.02


class Attempt(Protocol):
    def poll(self, timeout: float) -> int | None: ...
    def kill(self) -> None: ...
    def describe_exit(self, code: int) -> str: ...


class Session(Protocol):
    """One submission's use of a backend: any number of attempts, then close()."""

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> Attempt: ...
    def finish(self, attempt: Attempt) -> None: ...
    def close(self) -> None: ...


class Backend(Protocol):
    name: str
    isolated: bool
    note: str

    def new_job(self) -> Path: ...
    def open(self, job: Path) -> Session: ...


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
    """
    t0 = time.monotonic()
    clock = _Clock(t0, limits, first_extra=len(cases))
    first = len(cases) + len(extra)
    cases = [*cases, *extra]
    capture = Capture(keep=limits.output_kb << 10)
    job = backend.new_job()
    import_error = None
    try:
        job.chmod(0o755)
        write_job(job, submission=submission, cases=cases, rounds=more is not None)
        run = _Calls(backend.open(job), job, cases, limits, capture, clock, cancel, rounds=more is not None)
        try:
            import_error = run.run(list(range(first)))
            while more is not None and import_error is None and clock.open(time.monotonic()):
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
        printed = _printed(job)
        results = run.results
    finally:
        shutil.rmtree(job, ignore_errors=True)
    if import_error is not None:
        results = {i: CallResult(c.id, "error", import_error) for i, c in enumerate(cases[:first])}
    paths = {f"{job}/submission/": "", "/job/submission/": "", str(job): "<job>", "/job/": "<job>/"}
    text, cut = capture.text(redact, paths)
    return RunResult(
        calls={cases[i].id: r for i, r in sorted(results.items())},
        import_error=import_error,
        output=text,
        output_truncated=cut,
        output_bytes=max(capture.total, printed),
        backend=backend.name,
        isolated=backend.isolated,
        note=backend.note,
        seconds=time.monotonic() - t0,
    )


def _printed(job: Path) -> int:
    """Bytes the harness runs say they printed (most of a flood is discarded in the sandbox): a count, no more."""
    try:
        with open(job / "out" / "printed", "rb") as f:
            lines = f.read(4096).split()
    except OSError:
        return 0
    return sum(int(n) for n in lines if n.isdigit() and len(n) < 16)


class _Clock:
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


class _Calls:
    """One submission's calls through one backend session: attempts, restarted after a crash or timeout,
    and with rounds a harness kept waiting between them, so the next round needs no new interpreter."""

    def __init__(self, session, job, cases, limits, capture, clock, cancel, *, rounds: bool):
        self.session, self.job, self.cases, self.limits = session, job, cases, limits
        self.capture, self.clock, self.cancel, self.rounds = capture, clock, cancel, rounds
        self.results: dict[int, CallResult] = {}
        self.waiting: Attempt | None = None  # a harness that ran its calls and waits for round-N.json
        self.asked = 0  # rounds asked of it

    def ask(self, calls: list[int]) -> Attempt:
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
                attempt, self.asked = self.session.start(todo, self.capture, limits), 0
            self.waiting = None
            try:
                reason, code = _watch(attempt, job, limits, self.clock, self.cancel, todo if self.rounds else None)
            except BaseException:
                self.session.finish(attempt)
                raise
            if reason == "waiting":
                self.waiting = attempt
            else:
                self.session.finish(attempt)
            started, current, ended = read_progress(job)
            status = read_import_status(job)
            if status is None or not status.ok:
                return _import_failure(status, started, reason, code, attempt, limits)
            results = self.results
            for i in todo:
                if i in ended:
                    results[i] = _finished(job, i, cases[i])
            remaining = [i for i in todo if i not in ended]
            if current is not None and current in remaining:
                results[current] = _interrupted(cases[current], reason, code, attempt, limits)
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
                results[remaining[0]] = _interrupted(cases[remaining[0]], reason, code, attempt, limits)
                remaining.pop(0)
            if reason in ("deadline", "feedback-budget"):
                for i in remaining:
                    results[i] = CallResult(cases[i].id, "timeout", "not run: " + _LATE[reason](limits))
                remaining = []
            todo = remaining
        return None


class Cancelled(Exception):
    """The caller asked to stop (Ctrl-C in a batch); the attempt was killed."""


def _watch(attempt: Attempt, job: Path, limits: Limits, clock: _Clock, cancel, todo: list[int] | None):
    """Wait for the attempt to end or break a limit; with rounds, also for it to finish `todo` and wait for
    the next round ("waiting"). Returns (reason, exit code)."""
    seen: dict[object, float] = {}
    while True:
        code = attempt.poll(POLL)
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
        if reason:
            attempt.kill()
            code = attempt.poll(5)
            return reason, (-signal.SIGKILL if code is None else code)


def _finished(job: Path, index: int, case: Case) -> CallResult:
    """A finished call under plain names: arrays by problem id, modified inputs by argument name."""
    status, arrays = read_call(job, index)
    if status.status != "ok":
        return CallResult(case.id, status.status, status.message, seconds=status.seconds)
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


def _interrupted(case: Case, reason: str, code: int, attempt: Attempt, limits: Limits) -> CallResult:
    if reason == "call-timeout":
        return CallResult(case.id, "timeout", f"timed out after {limits.call_timeout:g} s")
    if reason in _LATE:
        return CallResult(case.id, "timeout", _LATE[reason](limits))
    return CallResult(case.id, "crashed", attempt.describe_exit(code))


def _import_failure(status, started: bool, reason: str, code: int, attempt: Attempt, limits: Limits) -> str:
    if status is not None:
        return status.message
    if reason in ("call-timeout", "deadline"):
        return f"importing backprop.py timed out after {limits.call_timeout:g} s"
    if not started:
        return f"the sandbox could not start the harness ({attempt.describe_exit(code)})"
    return f"importing backprop.py crashed: {attempt.describe_exit(code)}"
