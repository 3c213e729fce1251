"""What each submission is worth under the calendar, which one counts, and the gradebook's rows: pure functions of
the submissions' stored facts, the calendar and the time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from grader.report.model import Report
from grader.service.course.calendar import Calendar, Deadlines, lateness_seconds, penalty

GradebookStatus = Literal["no submission", "pending", "graded", "failed"]
UNCOUNTED = ("failed", "superseded")  # never graded for the student's fault: free against --max-submissions


@dataclass(frozen=True)
class Facts:
    """A submission as stored: when it was accepted, its status and its current report's scores (None if none)."""

    id: int
    student_id: str
    submitted_at: dt.datetime  # aware UTC
    status: str
    score: float | None  # raw, of the current report
    max_score: float | None


@dataclass(frozen=True)
class Worth:
    """A graded submission under the calendar."""

    late: bool
    lateness_seconds: int
    raw_score: float
    penalty: float
    score: float


def worth(raw_score: float, submitted_at: dt.datetime, dl: Deadlines, calendar: Calendar) -> Worth:
    late = lateness_seconds(dl, submitted_at)
    taken = penalty(raw_score, late, calendar.late_penalty)
    return Worth(late > 0, late, raw_score, taken, max(0.0, raw_score - taken))


def gradable(f: Facts) -> bool:
    """A submission that can count: graded, and not one the grader failed on."""
    return f.score is not None and f.status == "done"


def counting(facts: Iterable[Facts], dl: Deadlines, calendar: Calendar) -> Facts | None:
    """The submission that counts: the newest graded one (latest), or the highest final score, newest on a tie."""
    graded = [f for f in facts if gradable(f)]
    if not graded:
        return None
    if calendar.score_policy == "best":
        return max(graded, key=lambda f: (worth(f.score, f.submitted_at, dl, calendar).score, f.id))
    return max(graded, key=lambda f: f.id)


def used(facts: Iterable[Facts]) -> int:
    """Submissions counted against --max-submissions: all but those the grader failed on or never graded."""
    return sum(f.status not in UNCOUNTED for f in facts)


@dataclass(frozen=True)
class GradebookRow:
    student_id: str
    submission_id: int | None
    submitted_at: dt.datetime | None
    late: bool | None
    lateness_seconds: int | None
    raw_score: float | None
    penalty: float | None
    score: float | None
    max_score: float
    submissions: int
    status: GradebookStatus
    extended_due: dt.datetime | None


def row(student_id: str, facts: list[Facts], dl: Deadlines, calendar: Calendar, *, max_score: float) -> GradebookRow:
    """One roster student's row: `pending` while a submission of theirs is queued or running, `graded` when one
    counts, `failed` when the grader failed on every one, `no submission` when there is none."""
    best = counting(facts, dl, calendar)
    if any(f.status in ("queued", "running") for f in facts):
        status: GradebookStatus = "pending"
    elif best is not None:
        status = "graded"
    elif facts and all(f.status in UNCOUNTED for f in facts):
        status = "failed" if any(f.status == "failed" for f in facts) else "pending"
    else:
        status = "no submission" if not facts else "pending"
    w = worth(best.score, best.submitted_at, dl, calendar) if best else None
    return GradebookRow(
        student_id=student_id,
        submission_id=best.id if best else None,
        submitted_at=best.submitted_at if best else None,
        late=w.late if w else None,
        lateness_seconds=w.lateness_seconds if w else None,
        raw_score=w.raw_score if w else None,
        penalty=w.penalty if w else None,
        score=w.score if w else None,
        max_score=max_score,
        submissions=len(facts),
        status=status,
        extended_due=dl.due if dl.extended else None,
    )


def with_worth(report: Report, w: Worth) -> Report:
    """The report with the calendar applied: its score is the final one, the raw score and penalty beside it."""
    return report.model_copy(
        update={
            "raw_score": w.raw_score,
            "penalty": w.penalty,
            "score": w.score,
            "late": w.late,
            "lateness_seconds": w.lateness_seconds,
        }
    )
