"""The store's read side (`store.views`): submissions with their job, report and queue place; history and files."""

from __future__ import annotations

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from grader.report.model import Report
from grader.service.queue import db
from grader.service.queue.db import Job, Submission, current_report
from grader.service.queue.leases import claim_order
from grader.service.queue.records import ReportVersion, SubmissionView, grader_version_of

FEW = 8  # up to this many jobs, each place is counted in the index; more, and the whole queue is read once


def positions(s: Session, job_ids: list[int]) -> dict[int, int]:
    """1 for the job the next free worker takes, 2 for the one after, and so on, for those of `job_ids` queued
    (more may come back). A few jobs cost a count each, not a read of the queue, which is long in a deadline burst."""
    if len(job_ids) <= FEW:
        return {jid: n for jid in job_ids if (n := position(s, jid)) is not None}
    ids = s.scalars(select(Job.id).where(Job.status == "queued").order_by(*claim_order()))
    return {jid: n for n, jid in enumerate(ids, 1)}


def position(s: Session, job_id: int) -> int | None:
    """A queued job's place (None if it is not queued): one more than the queued jobs before it in claim order."""
    key = s.execute(select(*claim_order()).where(Job.id == job_id, Job.status == "queued")).first()
    if key is None:
        return None
    ahead = select(func.count()).select_from(Job).where(Job.status == "queued", tuple_(*claim_order()) < tuple_(*key))
    return (s.scalar(ahead) or 0) + 1


class Views:
    """Reads only, each in a session of `readers` (on SQLite it takes no lock); the Store forwards to these."""

    def __init__(self, readers: sessionmaker):
        self.readers = readers

    def get_submission(self, submission_id: int, *, with_report: bool = True) -> SubmissionView | None:
        views = self._views([submission_id], with_report=with_report)
        return views[0] if views else None

    def list_submissions(self, *, student_id: str | None = None, limit: int = 500) -> list[SubmissionView]:
        """Newest first; one student's or everyone's."""
        q = select(Submission.id).order_by(Submission.id.desc()).limit(limit)
        if student_id is not None:
            q = q.where(Submission.student_id == student_id)
        with self.readers() as s:
            ids = list(s.scalars(q))
        return self._views(ids, with_report=False)

    def latest_per_student(self, *, with_report: bool = False) -> list[SubmissionView]:
        """Each student's newest submission, by student id."""
        latest = select(func.max(Submission.id)).group_by(Submission.student_id)
        with self.readers() as s:
            ids = list(s.scalars(select(Submission.id).where(Submission.id.in_(latest))))
        return sorted(self._views(ids, with_report=with_report), key=lambda v: v.student_id)

    def latest_reports(self) -> list[Report]:
        """The current report of each student's newest graded submission: what the class summary counts."""
        graded = (
            select(func.max(Submission.id))
            .join(db.Report, db.Report.submission_id == Submission.id)
            .group_by(Submission.student_id)
        )
        with self.readers() as s:
            rows = s.scalars(select(db.Report.report_json).where(current_report(), db.Report.submission_id.in_(graded)))
            return [Report.model_validate_json(r) for r in rows]

    def _views(self, ids: list[int], *, with_report: bool) -> list[SubmissionView]:
        if not ids:
            return []
        with self.readers() as s:
            subs = s.execute(
                select(
                    Submission.id,
                    Submission.student_id,
                    Submission.filename,
                    Submission.sha256,
                    Submission.status,
                    Submission.submitted_at,
                ).where(Submission.id.in_(ids))
            ).all()
            jobs: dict[int, Job] = {}
            for job in s.scalars(select(Job).where(Job.submission_id.in_(ids)).order_by(Job.id)):
                jobs[job.submission_id] = job  # the latest job wins
            cols = [
                db.Report.submission_id,
                db.Report.score,
                db.Report.max_score,
                db.Report.public_score,
                db.Report.public_max_score,
                db.Report.version,
            ] + ([db.Report.report_json] if with_report else [])
            rows = s.execute(select(*cols).where(current_report(), db.Report.submission_id.in_(ids)))
            reports = {r[0]: r[1:] for r in rows}
            places = positions(s, [j.id for j in jobs.values() if j.status == "queued"])
        order = {sid: n for n, sid in enumerate(ids)}
        out = []
        for row in sorted(subs, key=lambda r: order[r.id]):
            job = jobs.get(row.id)
            rep = reports.get(row.id)
            out.append(
                SubmissionView(
                    id=row.id,
                    student_id=row.student_id,
                    filename=row.filename,
                    sha256=row.sha256,
                    status=row.status,
                    submitted_at=row.submitted_at,
                    job_id=job.id if job else None,
                    attempts=job.attempts if job else 0,
                    last_error=job.last_error if job else None,
                    queue_position=places.get(job.id) if job else None,
                    score=rep[0] if rep else None,
                    report_json=rep[5] if rep and with_report else None,
                    max_score=rep[1] if rep else None,
                    public_score=rep[2] if rep else None,
                    public_max_score=rep[3] if rep else None,
                    report_version=rep[4] if rep else None,
                )
            )
        return out

    def report_history(self, submission_id: int) -> list[ReportVersion]:
        """Every version of the submission's report, oldest first."""
        with self.readers() as s:
            rows = s.scalars(
                select(db.Report).where(db.Report.submission_id == submission_id).order_by(db.Report.version)
            ).all()
            return [
                ReportVersion(
                    version=r.version,
                    created_at=r.created_at,
                    reason=r.reason,
                    score=r.score,
                    max_score=r.max_score,
                    public_score=r.public_score,
                    public_max_score=r.public_max_score,
                    grader_version=grader_version_of(r.report_json),
                )
                for r in rows
            ]

    def files_zip(self, submission_id: int) -> bytes | None:
        """The submission's files as stored (the normalized zip of uploads.pack_files); None for no submission."""
        with self.readers() as s:
            return s.scalar(select(Submission.files_zip).where(Submission.id == submission_id))
