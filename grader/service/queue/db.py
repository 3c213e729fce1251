"""The service's tables as SQLAlchemy 2 typed models, and the engine that opens them (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    exists,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, aliased, mapped_column

READ_ONLY = "pa5_read_only"  # execution option of the store's read sessions
MAX_ID = 2**31 - 1  # ids are INTEGER columns, 32-bit on PostgreSQL: a larger id names nothing


def utcnow() -> dt.datetime:
    """Naive UTC: SQLite drops time zones, so every stored time is UTC without one, on every database."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Token(Base):
    """A bearer token, stored only as its sha256; one per student, any number for instructors."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # instructor | student
    student_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    # The token's first characters, kept in the clear to name it (`admin tokens --list`); null before 0003.
    prefix: Mapped[str | None] = mapped_column(String(16))
    # Revoked: its hash is replaced by one no token has, so it and its sessions stop working; the row (and a
    # student's place on the roster) stays.
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime())


class Submission(Base):
    """An accepted upload: its files as a normalized zip, written in the same transaction as its job."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(128), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    files_zip: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # that of its latest job


class Upload(Base):
    """One upload, accepted or refused, counted before it is checked: what the per-student rate limit counts."""

    __tablename__ = "uploads"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(DateTime())

    __table_args__ = (Index("ix_uploads_student_at", "student_id", "at"),)


class Job(Base):
    """One grading of one submission; the row is the truth, workers hold it by a lease."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # new | regrade
    reason: Mapped[str | None] = mapped_column(String(64))  # why a regrade was queued, shown in the report history
    priority: Mapped[int] = mapped_column(Integer)  # lower runs first: new submissions before regrades
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued running done failed superseded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires: Mapped[dt.datetime | None] = mapped_column(DateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (Index("ix_jobs_claim", "status", "priority", "created_at", "id"),)


class Report(Base):
    """One version of a submission's report: a regrade adds version n + 1; the highest version is the current one.

    `score` is the raw score (before any late penalty, which the calendar applies when read); `public_score` and
    `public_max_score` count the public cases only: what a student may see before hidden results are released."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(64), default="submitted")
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    public_score: Mapped[float | None] = mapped_column(Float)
    public_max_score: Mapped[float | None] = mapped_column(Float)
    report_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("submission_id", "version", name="uq_reports_submission_version"),
        Index("ix_reports_submission_id", "submission_id"),
    )


class Assignment(Base):
    """The course's calendar: one row (id 1), read on every request so a change applies at once. Times are naive
    UTC; `timezone` is the zone they are shown in and naive input is read in."""

    __tablename__ = "assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    opens_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    late_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    late_penalty: Mapped[float] = mapped_column(Float, default=0.0)  # fraction of the raw score per day late
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    release: Mapped[str | None] = mapped_column(String(16))  # after-due | immediately | manual; null: the spec's
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime())  # `admin release`
    score_policy: Mapped[str] = mapped_column(String(16), default="latest")  # latest | best
    max_submissions: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime())


class Extension(Base):
    """One student's own due date (and late due date), replacing the assignment's."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(128), unique=True)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime())
    late_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)


def current_report():
    """The WHERE clause that keeps each submission's current report: its highest version."""
    newer = aliased(Report)
    return ~exists().where(newer.submission_id == Report.submission_id, newer.version > Report.version)


def make_engine(url: str) -> Engine:
    """An engine; on SQLite, write transactions take the write lock at BEGIN so concurrent claims queue, not fail."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A deferred transaction that reads then writes can fail at once with SQLITE_BUSY; IMMEDIATE waits
            # instead. Read-only sessions need no lock at all under WAL, so they never queue behind a writer.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    # "postgresql://" would pick psycopg2; the scale extra installs psycopg 3. A dead host fails in 10 s, not minutes.
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    connect_args = {"connect_timeout": 10} if url.startswith("postgresql+psycopg") else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
