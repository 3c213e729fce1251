"""The worker side of the queue: claiming a job under a lease, renewing it, and finishing it exactly once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.report.model import Report
from grader.service.queue import db
from grader.service.queue.db import Job, Submission, utcnow

MAX_ERROR = 4000


@dataclass(frozen=True)
class Claim:
    """A job a worker now holds, with everything needed to grade it."""

    job_id: int
    submission_id: int
    student_id: str
    kind: str
    priority: int  # the store's, for a message sent again (Celery)
    attempt: int
    files_zip: bytes


def claim_order():
    return (Job.priority, Job.created_at, Job.id)


class Leases:
    """The store's job transitions (`store.leases`): each method is one transaction whose UPDATE only applies if the
    caller holds the job."""

    def __init__(self, sessions: sessionmaker, *, max_attempts: int):
        self.sessions, self.max_attempts = sessions, max_attempts

    def claim_next(self, worker_id: str, lease_seconds: float) -> Claim | None:
        """Take the first queued job (new before regrade, oldest first) under a lease; None when the queue is empty."""
        with self.sessions.begin() as s:
            candidates = s.scalars(
                select(Job.id)
                .where(Job.status == "queued")
                .order_by(*claim_order())
                .limit(5)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders none and serializes writers
            ).all()
            now = utcnow()
            for jid in candidates:
                took = s.execute(
                    update(Job)
                    .where(Job.id == jid, Job.status == "queued")
                    .values(
                        status="running",
                        lease_owner=worker_id,
                        lease_expires=now + dt.timedelta(seconds=lease_seconds),
                        attempts=Job.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if took.rowcount != 1:
                    continue  # another worker won it between our SELECT and UPDATE
                job = s.get(Job, jid, populate_existing=True)
                sub = s.get(Submission, job.submission_id)
                sub.status = "running"
                return Claim(job.id, sub.id, sub.student_id, job.kind, job.priority, job.attempts, sub.files_zip)
        return None

    def renew_lease(self, job_id: int, worker_id: str, lease_seconds: float) -> bool:
        """Extend a held lease; False means the lease was lost and the grade should stop."""
        with self.sessions.begin() as s:
            r = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.lease_owner == worker_id)
                .values(lease_expires=utcnow() + dt.timedelta(seconds=lease_seconds))
            )
            return r.rowcount == 1

    def complete_job(self, job_id: int, worker_id: str, report: Report) -> bool:
        """Store the report if this worker still holds the job; a repeated or stale completion changes nothing."""
        now = utcnow()
        with self.sessions.begin() as s:
            r = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.lease_owner == worker_id)
                .values(status="done", lease_owner=None, lease_expires=None, finished_at=now, last_error=None)
            )
            if r.rowcount != 1:
                return False
            job = s.get(Job, job_id)
            _put_report(s, job, report, now, replace=True)
            s.get(Submission, job.submission_id).status = "done"
            return True

    def fail_or_retry(self, job_id: int, worker_id: str, error: str, *, zero: Report | None = None) -> str | None:
        """Put a job the grader failed on back in the queue, or fail it after max attempts; None if the lease was
        lost. Failed for good, a submission that has no report yet keeps `zero` (the grader's zero report saying
        so); one that has a report (a regrade) keeps it."""
        with self.sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is None or job.status != "running" or job.lease_owner != worker_id:
                return None
            status = self._retry_or_fail(s, job, error)
            if status == "failed" and zero is not None:
                _put_report(s, job, zero, utcnow(), replace=False)
            return status

    def requeue_expired(self) -> int:
        """Jobs whose worker stopped renewing its lease go back to the queue (or fail after max attempts)."""
        now = utcnow()
        n = 0
        with self.sessions.begin() as s:
            expired = s.scalars(
                select(Job)
                .where(Job.status == "running", Job.lease_expires < now)
                .order_by(Job.id)
                .with_for_update(skip_locked=True)
            ).all()
            for job in expired:
                self._retry_or_fail(
                    s, job, f"the worker {job.lease_owner} stopped answering during attempt {job.attempts}"
                )
                n += 1
        return n

    def _retry_or_fail(self, s: Session, job: Job, error: str) -> str:
        final = job.attempts >= self.max_attempts
        job.status = "failed" if final else "queued"
        job.last_error = (f"failed after {job.attempts} attempts; last: " if final else "") + error[:MAX_ERROR]
        job.lease_owner, job.lease_expires = None, None
        job.finished_at = utcnow() if final else None
        sub = s.get(Submission, job.submission_id)
        sub.status = job.status
        return job.status

    def fail_overdue(self, job_id: int, worker_id: str, attempt: int, error: str) -> bool:
        """End a held attempt `failed` at once, releasing its lease (the budget rule: never retried, since a grade
        that outlived its budget would hold a worker again); False if this worker no longer holds that attempt."""
        now = utcnow()
        with self.sessions.begin() as s:
            r = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.lease_owner == worker_id, Job.attempts == attempt)
                .values(
                    status="failed", lease_owner=None, lease_expires=None, finished_at=now, last_error=error[:MAX_ERROR]
                )
            )
            if r.rowcount != 1:
                return False
            s.get(Submission, s.get(Job, job_id).submission_id).status = "failed"
            return True

    def release_job(self, job_id: int, worker_id: str) -> bool:
        """Give a held job back untouched (a clean shutdown): queued again, and this claim does not count."""
        with self.sessions.begin() as s:
            r = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.lease_owner == worker_id)
                .values(status="queued", lease_owner=None, lease_expires=None, attempts=Job.attempts - 1)
            )
            if r.rowcount != 1:
                return False
            s.get(Submission, s.get(Job, job_id).submission_id).status = "queued"
            return True


def _put_report(s: Session, job: Job, report: Report, now, *, replace: bool) -> None:
    """The submission's report from this job: a new version after the current one (`replace`), or, without
    `replace`, only if the submission has none yet (the grader's zero report of a failed first grade)."""
    current = s.scalar(select(func.max(db.Report.version)).where(db.Report.submission_id == job.submission_id))
    if current is not None and not replace:
        return
    public = [c for p in report.problems for c in p.cases if not c.hidden]
    row = db.Report(
        submission_id=job.submission_id,
        job_id=job.id,
        version=(current or 0) + 1,
        reason=job.reason or ("submitted" if job.kind == "new" else "regrade"),
        score=report.score,
        max_score=report.max_score,
        public_score=sum(c.points for c in public),
        public_max_score=sum(c.max_points for c in public),
        report_json=report.model_dump_json(),
    )
    row.created_at = now
    s.add(row)
