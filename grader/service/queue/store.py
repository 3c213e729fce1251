"""The service's state in the database, and the only code that queries it: submissions, regrades and the queue here
(the records it hands out are in records.py), reads of submissions and reports in views.py (`store.views`),
job transitions in leases.py (`store.leases`), tokens in tokens.py (`store.tokens`). Every state change is one
transaction with a conditional UPDATE."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from grader.report.model import Report
from grader.service import migrations
from grader.service.course.standing import UNCOUNTED
from grader.service.defaults import MAX_ATTEMPTS, QUEUE_CAP
from grader.service.lti.store import LtiStore
from grader.service.queue import db
from grader.service.queue.course import Course
from grader.service.queue.db import Job, Submission, Token, Upload, utcnow
from grader.service.queue.leases import Leases, claim_order
from grader.service.queue.ratelimit import RateLimit, check_rate, window_start
from grader.service.queue.records import (
    ACTIVE,
    INSTRUCTOR_REGRADE,
    QueuedJob,
    QueueFull,
    ReportVersion,
    StoreUnavailable,
    SubmissionLimit,
    SubmissionView,
    job_dict,
)
from grader.service.queue.tokens import Tokens
from grader.service.queue.views import Views, position

NEW, REGRADE = 0, 1  # priorities: lower runs first
QUEUE_LOCK = 0x7061_3567  # PostgreSQL's advisory lock for adding new jobs ("pa5g")


class Store:
    """All reads and writes of the service's state; safe to share between threads and processes."""

    def __init__(self, url: str, *, max_attempts: int = MAX_ATTEMPTS, queue_cap: int = QUEUE_CAP):
        self.url = url
        self.engine = db.make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)  # `with sessions.begin()`: writes
        self.readers = sessionmaker(self.engine.execution_options(**{db.READ_ONLY: True}), expire_on_commit=False)
        self.queue_cap = queue_cap
        self.leases = Leases(self.sessions, max_attempts=max_attempts)
        self.tokens = Tokens(self.sessions, self.readers)
        self.course = Course(self.sessions, self.readers)
        self.lti = LtiStore(self.sessions, self.readers)
        self.views = Views(self.readers)

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Make or upgrade the schema to this code's head revision; returns (from, to)."""
        return self._guard(lambda: migrations.upgrade(self.engine))

    def require_schema(self, *, fix: str) -> None:
        """SchemaBehind, naming `fix`, unless the database is at this code's schema revision."""
        self._guard(lambda: migrations.require_head(self.engine, fix=fix))

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers and holds our tables."""

        def q():
            with self.engine.connect() as c:
                c.execute(text("SELECT 1"))
                c.execute(select(func.count()).select_from(Token))

        self._guard(q)

    def _guard(self, fn):
        try:
            return fn()
        except SQLAlchemyError as e:
            url = self.engine.url.render_as_string(hide_password=True)
            raise StoreUnavailable(f"database {url} is not usable: {e.__class__.__name__}: {e.args[0]}") from None

    def session(self) -> Session:
        """A session for reading only (on SQLite it takes no lock); write with `with store.sessions.begin()`."""
        return self.readers()

    # -- submissions ------------------------------------------------------------------------------------------

    def admit_upload(self, *, student_id: str, limits: Iterable[RateLimit], now: dt.datetime | None = None) -> None:
        """Count one upload of `student_id` now, or raise RateLimited (and count nothing) if it would exceed a limit."""
        now = now or utcnow()
        limits = tuple(limits)
        start = window_start(limits, now)
        with self.sessions.begin() as s:
            # Serializes one student's uploads on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
            s.execute(select(Token.id).where(Token.student_id == student_id).with_for_update())
            s.execute(delete(Upload).where(Upload.student_id == student_id, Upload.at < start))
            times = s.scalars(select(Upload.at).where(Upload.student_id == student_id)).all()
            check_rate(list(times), limits, now)
            s.add(Upload(student_id=student_id, at=now))

    def add_submission(
        self,
        *,
        student_id: str,
        filename: str,
        files_zip: bytes,
        sha256: str,
        submitted_at: dt.datetime | None = None,
        now: dt.datetime | None = None,
        max_submissions: int | None = None,
    ) -> SubmissionView:
        """Store the bytes and their job in one transaction, superseding the student's job still queued; with
        `max_submissions`, refuse (SubmissionLimit) once the student has made that many that count.

        `submitted_at`: when the upload arrived, which lateness is judged by (default: `now`). `now`: when its job
        enters the queue (default: the clock, read once this transaction is the only one adding jobs, so places
        follow the order jobs are stored in and each upload is answered a place of its own).
        The rate limit was applied when the upload arrived (admit_upload), before it was checked."""
        with self.sessions.begin() as s:
            # Serializes one student's submissions on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
            s.execute(select(Token.id).where(Token.student_id == student_id).with_for_update())
            now = self._enter_queue(s, now)
            submitted_at = submitted_at or now
            if max_submissions is not None:
                made = s.scalar(
                    select(func.count())
                    .select_from(Submission)
                    .where(Submission.student_id == student_id, Submission.status.not_in(UNCOUNTED))
                )
                if made >= max_submissions:
                    raise SubmissionLimit(
                        f"you have used all {max_submissions} submissions this assignment allows "
                        "(submissions the grader failed on do not count)"
                    )
            queued = s.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0
            if queued >= self.queue_cap:
                raise QueueFull(f"the grading queue is full ({queued} waiting); try again in a minute", 60)
            old = s.scalars(
                select(Job)
                .join(Submission, Submission.id == Job.submission_id)
                .where(Submission.student_id == student_id, Job.status == "queued", Job.kind == "new")
                .with_for_update()
            ).all()
            for job in old:
                job.status, job.finished_at = "superseded", now
                s.get(Submission, job.submission_id).status = "superseded"
            sub = Submission(
                student_id=student_id, filename=filename, files_zip=files_zip, sha256=sha256, submitted_at=submitted_at
            )
            s.add(sub)
            s.flush()
            job = Job(submission_id=sub.id, kind="new", priority=NEW, created_at=now)
            s.add(job)
            s.flush()
            # What the view would read back, known here; only the place is counted (in the same snapshot).
            return SubmissionView(
                id=sub.id,
                student_id=student_id,
                filename=filename,
                sha256=sha256,
                status="queued",
                submitted_at=submitted_at,
                job_id=job.id,
                attempts=0,
                last_error=None,
                queue_position=position(s, job.id),
                score=None,
            )

    def _enter_queue(self, s: Session, now: dt.datetime | None) -> dt.datetime:
        """Make this transaction the only one adding jobs until it ends, and return `now` or else the clock's time.
        SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL takes an advisory lock."""
        if self.engine.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": QUEUE_LOCK})
        return now or utcnow()

    def is_student(self, student_id: str) -> bool:
        """Whether the roster (`admin students`) holds this student."""
        with self.session() as s:
            return s.scalar(select(Token.id).where(Token.student_id == student_id, Token.role == "student")) is not None

    def status_of(self, submission_id: int) -> str | None:
        with self.session() as s:
            return s.scalar(select(Submission.status).where(Submission.id == submission_id))

    def queue_position(self, job_id: int) -> int | None:
        with self.session() as s:
            return position(s, job_id)

    def queue(self) -> dict:
        """The running and queued jobs, in the order they run, and a count per status."""
        with self.session() as s:
            counts = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            rows = s.execute(
                select(Job, Submission.student_id)
                .join(Submission, Submission.id == Job.submission_id)
                .where(Job.status.in_(ACTIVE))
                .order_by(Job.status.desc(), *claim_order())  # running before queued
            ).all()
        return {
            "counts": {k: counts.get(k, 0) for k in ("queued", "running", "done", "failed", "superseded")},
            "jobs": [job_dict(job, student) for job, student in rows],
        }

    def queued_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0

    def queued_jobs(self, *, only: int | None = None) -> list[QueuedJob]:
        """The queued jobs in the order they run (or just job `only`, if queued)."""
        q = select(Job.id, Job.priority, Job.attempts, Job.created_at).where(Job.status == "queued")
        if only is not None:
            q = q.where(Job.id == only)
        with self.session() as s:
            return [QueuedJob(*row) for row in s.execute(q.order_by(*claim_order())).all()]

    def job_state(self, job_id: int) -> tuple[str, int] | None:
        """(status, priority) of a job; None for no such job."""
        with self.session() as s:
            row = s.execute(select(Job.status, Job.priority).where(Job.id == job_id)).first()
        return None if row is None else (row.status, row.priority)

    # -- regrades ---------------------------------------------------------------------------------------------

    def regrade(self, submission_id: int, *, reason: str = INSTRUCTOR_REGRADE) -> tuple[SubmissionView, bool] | None:
        """Queue a regrade after every new submission; a submission already queued or running is left as is.
        Returns the submission and whether a regrade was queued; None for no such submission."""
        with self.sessions.begin() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                return None
            queued = self._queue_regrade(s, sub, reason)
        return self.get_submission(submission_id, with_report=False), queued

    def regrade_all(self, *, reason: str = INSTRUCTOR_REGRADE) -> int:
        """Regrade every student's newest submission; returns how many were queued."""
        latest = select(func.max(Submission.id)).group_by(Submission.student_id)
        n = 0
        with self.sessions.begin() as s:
            for sub in s.scalars(select(Submission).where(Submission.id.in_(latest)).order_by(Submission.id)):
                n += self._queue_regrade(s, sub, reason)
        return n

    @staticmethod
    def _queue_regrade(s: Session, sub: Submission, reason: str) -> bool:
        active = s.scalar(select(Job.id).where(Job.submission_id == sub.id, Job.status.in_(ACTIVE)).limit(1))
        if active is not None:
            return False
        s.add(Job(submission_id=sub.id, kind="regrade", reason=reason[:64], priority=REGRADE, created_at=utcnow()))
        sub.status = "queued"
        return True

    # -- reads, composed: views.py (`store.views`) ---------------------------------------------------------------

    def get_submission(self, submission_id: int, *, with_report: bool = True) -> SubmissionView | None:
        return self.views.get_submission(submission_id, with_report=with_report)

    def list_submissions(self, *, student_id: str | None = None, limit: int = 500) -> list[SubmissionView]:
        return self.views.list_submissions(student_id=student_id, limit=limit)

    def latest_per_student(self, *, with_report: bool = False) -> list[SubmissionView]:
        return self.views.latest_per_student(with_report=with_report)

    def latest_reports(self) -> list[Report]:
        return self.views.latest_reports()

    def report_history(self, submission_id: int) -> list[ReportVersion]:
        return self.views.report_history(submission_id)

    def files_zip(self, submission_id: int) -> bytes | None:
        return self.views.files_zip(submission_id)
