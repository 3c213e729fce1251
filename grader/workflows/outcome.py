"""The one failure policy: what "grade this submission" comes to, for batch, the service's workers and Gradescope.

A student's failure (code that crashes, a folder without backprop.py) is a report like any other. A failure of the
grader (a bug, a sandbox that broke mid-grade) is the same zero report, saying so, and is flagged: batch lists
it, the service retries the job and keeps that report when it gives up, Gradescope shows it. A stop asked for
(Cancelled) and a sandbox that cannot run at all (SandboxUnavailable, or another GraderError about the grader's
own set-up) are raised: the caller stops, and no submission is blamed for them.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError, SubmissionError
from grader.report.model import Report
from grader.sandbox import Backend
from grader.sandbox.calls import Cancelled
from grader.spec import Spec
from grader.submission import Submission, load_submission
from grader.workflows.grade import failed_grade, grade

log = logging.getLogger("pa5-grader")
GRADER_FAILED = "the autograder failed on this submission; the instructor has the details in the log"


@dataclass(frozen=True)
class Graded:
    report: Report
    grader_failed: bool = False  # the report is the zero of a grader failure, not the student's result
    reason: str = ""  # what failed, for the instructor's log and the job's last_error


def grade_or_zero(
    *,
    submission: str | Path | Submission,
    student_id: str,
    secret: bytes,
    spec: Spec,
    backend: Backend,
    cancel=None,
) -> Graded:
    """The submission's report, whatever happens to it; see the module's docstring for what is raised."""
    try:
        sub = submission if isinstance(submission, Submission) else load_submission(submission)
    except SubmissionError as e:  # the student's: nothing gradable was handed in
        return Graded(failed_grade(message=str(e), student_id=student_id, secret=secret, spec=spec, backend=backend))
    try:
        report = grade(submission=sub, student_id=student_id, secret=secret, spec=spec, backend=backend, cancel=cancel)
    except (Cancelled, GraderError):
        raise
    except Exception as e:  # a grader bug costs this submission's report, never the batch or the worker
        log.error("grading %s failed:\n%s", student_id, traceback.format_exc())
        report = failed_grade(
            message=GRADER_FAILED, student_id=student_id, secret=secret, spec=spec, backend=backend, sha256=sub.sha256
        )
        return Graded(report, grader_failed=True, reason=f"{e.__class__.__name__}: {e}")
    return Graded(report)


class NoSandbox:
    """What a zero report names as its sandbox when none could be made (the report's reason says why)."""

    name, isolated = "process", False

    def __init__(self, why: str):
        self.note = f"no sandbox could run: {why}"
