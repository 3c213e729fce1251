"""What a student's counting score is now: the one seam between passback and the course calendar.

Until the calendar's `store.course.standing(student_id, now)` is merged, this computes the same model from the
student's newest graded submission, with no late penalty and hidden results never released."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class StudentStanding:
    submission_id: int  # the submission that counts
    submitted_at: dt.datetime  # when it was accepted, aware UTC
    score: float  # final, after any late penalty
    max_score: float
    released: bool  # hidden results are released to this student


def standing(store, student_id: str, now: dt.datetime) -> StudentStanding | None:
    """The student's counting submission and score at `now`, or None when nothing of theirs is graded yet."""
    for view in store.list_submissions(student_id=student_id):  # newest first
        if view.score is None:
            continue
        report = store.get_submission(view.id).report
        return StudentStanding(
            submission_id=view.id,
            submitted_at=view.submitted_at.replace(tzinfo=dt.timezone.utc),
            score=view.score,
            max_score=report.max_score,  # the spec's problems' points, as that grade counted them
            released=False,
        )
    return None
