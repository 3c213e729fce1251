"""What a student's counting score is now: the one seam between passback and the course calendar
(`store.course.standing`: the counting submission under the score policy, its score after any late penalty, and
whether hidden results are released to the student)."""

from __future__ import annotations

import datetime as dt

from grader.service.queue.course import StudentStanding
from grader.spec import Spec

__all__ = ["StudentStanding", "standing"]


def standing(store, student_id: str, now: dt.datetime, *, spec: Spec) -> StudentStanding | None:
    """The student's counting submission and score at `now`, or None when nothing of theirs counts yet."""
    return store.course.standing(
        student_id,
        now,
        spec_visibility=spec.hidden_visibility,
        max_score=float(sum(p.points for p in spec.problems)),
    )
