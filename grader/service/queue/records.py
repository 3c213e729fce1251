"""What the store hands out: plain records of submissions, report versions and queued jobs, the store's errors,
and how its times and jobs read as JSON. No database access here (store.py owns that)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from grader.errors import GraderError
from grader.report.model import Report
from grader.service.queue.db import Job
from grader.service.queue.ratelimit import RateLimited

INSTRUCTOR_REGRADE = "instructor regrade"
ACTIVE = ("queued", "running")


class StoreUnavailable(GraderError):
    """The database cannot be opened or queried."""


class QueueFull(RateLimited):
    """The queue cap is reached; new submissions wait until it drains."""


class SubmissionLimit(GraderError):
    """The student has used every submission the assignment allows."""


@dataclass(frozen=True)
class SubmissionView:
    id: int
    student_id: str
    filename: str
    sha256: str
    status: str
    submitted_at: dt.datetime
    job_id: int | None
    attempts: int
    last_error: str | None
    queue_position: int | None
    score: float | None  # raw score of the current report
    report_json: str | None = None
    max_score: float | None = None
    public_score: float | None = None
    public_max_score: float | None = None
    report_version: int | None = None

    @property
    def report(self) -> Report | None:
        return Report.model_validate_json(self.report_json) if self.report_json else None


@dataclass(frozen=True)
class ReportVersion:
    """One version of a submission's report, for its history."""

    version: int
    created_at: dt.datetime
    reason: str
    score: float
    max_score: float | None
    public_score: float | None
    public_max_score: float | None
    grader_version: str | None


@dataclass(frozen=True)
class QueuedJob:
    id: int
    priority: int
    attempts: int
    created_at: dt.datetime


def grader_version_of(report_json: str) -> str | None:
    try:
        return json.loads(report_json).get("grader_version")
    except (ValueError, AttributeError):
        return None


def job_dict(job: Job, student_id: str) -> dict:
    return {
        "job_id": job.id,
        "submission_id": job.submission_id,
        "student_id": student_id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "lease_expires": iso(job.lease_expires),
        "last_error": job.last_error,
    }


def iso(t: dt.datetime | None) -> str | None:
    """Stored times are naive UTC; the API says so."""
    return None if t is None else t.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds")
