"""The store's calendar (`store.course`): the assignment's settings, extensions, the release, and the facts the
gradebook is computed from. Times are stored naive UTC and handed out aware."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from grader.service.course.calendar import Calendar, Deadlines, deadlines, released
from grader.service.course.standing import Facts, GradebookRow, counting, row, worth
from grader.service.queue import db
from grader.service.queue.db import Assignment, Extension, Submission, Token, current_report

SETTINGS = tuple(Calendar.model_fields)
COLUMNS = {"opens": "opens_at", "due": "due_at", "late_due": "late_due_at"}


def aware(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.replace(tzinfo=dt.timezone.utc)


def naive(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class StudentStanding:
    """A student's counting submission under the calendar (what LMS passback sends)."""

    submission_id: int
    submitted_at: dt.datetime
    score: float
    max_score: float
    released: bool


class Course:
    def __init__(self, sessions: sessionmaker, readers: sessionmaker):
        self.sessions, self.readers = sessions, readers

    # -- the assignment ---------------------------------------------------------------------------------------

    def calendar(self) -> Calendar:
        with self.readers() as s:
            a = s.get(Assignment, 1)
        if a is None:
            return Calendar()
        return Calendar(
            opens=aware(a.opens_at),
            due=aware(a.due_at),
            late_due=aware(a.late_due_at),
            late_penalty=a.late_penalty,
            timezone=a.timezone,
            release=a.release,
            released_at=aware(a.released_at),
            score_policy=a.score_policy,
            max_submissions=a.max_submissions,
        )

    def update_calendar(self, changes: dict, *, now: dt.datetime) -> Calendar:
        """Apply the given settings (a key with None clears it), validated as a whole; returns the new calendar."""
        unknown = set(changes) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown calendar settings: {', '.join(sorted(unknown))}")
        with self.sessions.begin() as s:
            a = s.get(Assignment, 1, with_for_update=True)
            current = self._of(a)
            new = Calendar.model_validate({**current.model_dump(), **changes})
            if a is None:
                a = Assignment(id=1)
                s.add(a)
            for name in SETTINGS:
                value = getattr(new, name)
                setattr(a, COLUMNS.get(name, name), naive(value) if isinstance(value, dt.datetime) else value)
            a.updated_at = naive(now)
        return new

    def _of(self, a: Assignment | None) -> Calendar:
        if a is None:
            return Calendar()
        values = {name: getattr(a, COLUMNS.get(name, name)) for name in SETTINGS}
        return Calendar.model_validate({k: aware(v) if isinstance(v, dt.datetime) else v for k, v in values.items()})

    def release_now(self, now: dt.datetime) -> Calendar:
        """Publish hidden results to everyone from `now` on (kept if already released earlier)."""
        current = self.calendar()
        if current.released_at is not None and current.released_at <= now:
            return current
        return self.update_calendar({"released_at": now}, now=now)

    # -- extensions -------------------------------------------------------------------------------------------

    def set_extension(self, student_id: str, due: dt.datetime, late_due: dt.datetime | None) -> None:
        with self.sessions.begin() as s:
            e = s.scalar(select(Extension).where(Extension.student_id == student_id).with_for_update())
            if e is None:
                s.add(Extension(student_id=student_id, due_at=naive(due), late_due_at=naive(late_due)))
            else:
                e.due_at, e.late_due_at = naive(due), naive(late_due)

    def clear_extension(self, student_id: str) -> bool:
        with self.sessions.begin() as s:
            return s.execute(delete(Extension).where(Extension.student_id == student_id)).rowcount > 0

    def extensions(self) -> dict[str, tuple[dt.datetime, dt.datetime | None]]:
        with self.readers() as s:
            rows = s.execute(select(Extension.student_id, Extension.due_at, Extension.late_due_at)).all()
        return {sid: (aware(due), aware(late)) for sid, due, late in rows}

    def deadlines(self, student_id: str, calendar: Calendar | None = None) -> Deadlines:
        calendar = calendar or self.calendar()
        with self.readers() as s:
            e = s.scalar(select(Extension).where(Extension.student_id == student_id))
        return deadlines(calendar, None if e is None else (aware(e.due_at), aware(e.late_due_at)))

    # -- facts ------------------------------------------------------------------------------------------------

    def roster(self) -> list[str]:
        """Every student with a token row (revoked ones included: they are still in the course)."""
        with self.readers() as s:
            return sorted(s.scalars(select(Token.student_id).where(Token.role == "student")))

    def facts(self, student_id: str | None = None) -> list[Facts]:
        """Every submission (or one student's), oldest first, with its current report's raw scores."""
        q = (
            select(
                Submission.id,
                Submission.student_id,
                Submission.submitted_at,
                Submission.status,
                db.Report.score,
                db.Report.max_score,
            )
            .outerjoin(db.Report, (db.Report.submission_id == Submission.id) & current_report())
            .order_by(Submission.id)
        )
        if student_id is not None:
            q = q.where(Submission.student_id == student_id)
        with self.readers() as s:
            return [Facts(r[0], r[1], aware(r[2]), r[3], r[4], r[5]) for r in s.execute(q).all()]

    def gradebook(self, *, max_score: float) -> list[GradebookRow]:
        """A row for every roster student (and anyone else with a submission), by student id."""
        calendar = self.calendar()
        extensions = self.extensions()
        by_student: dict[str, list[Facts]] = {sid: [] for sid in self.roster()}
        for f in self.facts():
            by_student.setdefault(f.student_id, []).append(f)
        return [
            row(sid, facts, deadlines(calendar, extensions.get(sid)), calendar, max_score=max_score)
            for sid, facts in sorted(by_student.items())
        ]

    def standing(
        self, student_id: str, now: dt.datetime, *, spec_visibility: str, max_score: float
    ) -> StudentStanding | None:
        """The student's counting submission and its final score now; None if nothing counts yet."""
        calendar = self.calendar()
        dl = self.deadlines(student_id, calendar)
        best = counting(self.facts(student_id), dl, calendar)
        if best is None:
            return None
        w = worth(best.score, best.submitted_at, dl, calendar)
        return StudentStanding(
            submission_id=best.id,
            submitted_at=best.submitted_at,
            score=w.score,
            max_score=best.max_score if best.max_score is not None else max_score,
            released=released(calendar, dl, now, spec_visibility=spec_visibility),
        )
