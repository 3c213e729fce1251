"""Grading one submission: public cases (self-test) or public plus hidden cases (instructor)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

from grader.cases.generate import generate
from grader.cases.model import Case
from grader.cases.seeds import hidden_seed
from grader.cases.store import load_cases
from grader.config import default_cases_dir
from grader.feedback.explore import new_seed
from grader.feedback.plan import plan_feedback
from grader.report.model import Report
from grader.results import CallResult, RunResult
from grader.sandbox import Backend
from grader.sandbox.runner import run_submission
from grader.scoring.score import build_report
from grader.spec import Spec
from grader.submission import Submission, load_submission


def evaluate(
    *,
    submission: Submission,
    cases: list[Case],
    spec: Spec,
    backend: Backend,
    student_id: str | None,
    mode: str,
    redact: tuple[str, ...] = (),
    cancel=None,
    explore: int = 0,
    seed: int | None = None,
) -> Report:
    """Run and score `cases`, with the unscored feedback calls; `explore` random cases from `seed` if asked for."""
    started = dt.datetime.now(dt.timezone.utc)
    feedback = plan_feedback(spec, explore=explore, seed=seed)
    shrinker = feedback.shrinker(spec, graded=cases)
    run = run_submission(
        submission=submission,
        cases=[*cases, *feedback.explore],  # under the submission's limit, not the feedback budget
        backend=backend,
        limits=spec.limits,
        redact=redact,
        cancel=cancel,
        more=shrinker,
    )
    return build_report(
        spec=spec,
        cases=cases,
        run=run,
        submission_sha256=submission.sha256,
        student_id=student_id,
        mode=mode,
        started=started,
        probes=feedback.probes,
        fresh=[*feedback.candidates, *shrinker.tried],
        explore=feedback.explore,
        explore_seed=seed if explore else None,
        submission_notes=submission.notes,
    )


def check(
    *,
    submission: str | Path,
    spec: Spec,
    backend: Backend,
    cases_dir: str | Path | None = None,
    explore: int = 0,
    seed: int | None = None,
) -> Report:
    """The student self-test: the stored public cases, no reference needed; with `explore`, that many random
    cases more, from `seed` (a fresh one when None; the report holds it for a replay)."""
    cases = load_cases(cases_dir or default_cases_dir(), spec=spec)
    if explore and seed is None:
        seed = new_seed()
    return evaluate(
        submission=load_submission(submission),
        cases=cases,
        spec=spec,
        backend=backend,
        student_id=None,
        mode="check",
        explore=explore,
        seed=seed,
    )


def hidden_cases(*, spec: Spec, secret: bytes, student_id: str) -> list[Case]:
    seed = hidden_seed(secret=secret, assignment=spec.assignment, student_id=student_id)
    return generate(spec=spec, seed=seed, hidden=True)


@functools.lru_cache(maxsize=4)
def public_cases(spec: Spec) -> tuple[Case, ...]:
    # The same for every student of a batch; cases are never mutated, so one copy serves all.
    return tuple(generate(spec=spec, seed=spec.cases.public_seed, hidden=False))


def grading_cases(*, spec: Spec, secret: bytes, student_id: str) -> list[Case]:
    """Public cases (regenerated, identical to test_cases/) followed by this student's hidden cases."""
    return [*public_cases(spec), *hidden_cases(spec=spec, secret=secret, student_id=student_id)]


def grade(
    *, submission: str | Path | Submission, student_id: str, secret: bytes, spec: Spec, backend: Backend, cancel=None
) -> Report:
    """The instructor's grade: public plus hidden cases, the secret redacted from anything captured."""
    sub = submission if isinstance(submission, Submission) else load_submission(submission)
    cases = grading_cases(spec=spec, secret=secret, student_id=student_id)
    redact = (secret.decode("utf-8", "replace"),)
    return evaluate(
        submission=sub,
        cases=cases,
        spec=spec,
        backend=backend,
        student_id=student_id,
        mode="grade",
        redact=redact,
        cancel=cancel,
    )


def failed_report(
    *,
    message: str,
    cases: list[Case],
    spec: Spec,
    backend: Backend,
    student_id: str | None,
    mode: str,
    sha256: str = "",
) -> Report:
    """A zero-score report for a submission that could not even be run (no backprop.py, grader crash)."""
    run = RunResult(
        calls={c.id: CallResult(c.id, "error", message) for c in cases},
        import_error=message,
        output="",
        output_truncated=False,
        backend=backend.name,
        isolated=backend.isolated,
        note=backend.note,
        seconds=0.0,
    )
    return build_report(
        spec=spec,
        cases=cases,
        run=run,
        submission_sha256=sha256 or hashlib.sha256(b"").hexdigest(),
        student_id=student_id,
        mode=mode,
        started=dt.datetime.now(dt.timezone.utc),
    )


def failed_grade(
    *, message: str, student_id: str, secret: bytes, spec: Spec, backend: Backend, sha256: str = ""
) -> Report:
    """The zero report of `grade` for a submission that could not run: each public and hidden case an error."""
    cases = grading_cases(spec=spec, secret=secret, student_id=student_id)
    return failed_report(
        message=message, cases=cases, spec=spec, backend=backend, student_id=student_id, mode="grade", sha256=sha256
    )
