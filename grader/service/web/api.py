"""The JSON API: submissions and their reports (the class summary, regrades and the queue: class_api.py)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from grader.errors import SubmissionError
from grader.report.model import Report
from grader.report.numbers import points
from grader.report.render import render
from grader.service.access.auth import Principal, get_principal, require_instructor
from grader.service.access.uploads import UploadRejected, check_upload
from grader.service.course.standing import with_worth
from grader.service.queue.db import MAX_ID
from grader.service.queue.ratelimit import RateLimited
from grader.service.queue.records import ACTIVE, SubmissionLimit, SubmissionView, iso
from grader.service.queue.store import Store
from grader.service.web.course import StudentCalendar, aware, counting_id, facts_of, standing_json, student_calendar
from grader.service.web.visibility import StudentReport, as_report, details_allowed, student_view

router = APIRouter()
Caller = Annotated[Principal, Depends(get_principal)]
Instructor = Annotated[Principal, Depends(require_instructor)]
MAX_WAIT = 60.0
WAIT_POLL = 0.05
# Every id in a path: a whole number the database can hold; anything else names nothing (404, see app.py).
SubmissionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A submission's id.")]
MEDIA = {"json": "application/json", "junit": "application/xml", "text": "text/plain", "gradescope": "application/json"}


def _store(request: Request) -> Store:
    return request.app.state.store


def submission_json(
    view: SubmissionView,
    report: Report | StudentReport | None = None,
    *,
    standing: dict | None = None,
    counts: bool | None = None,
) -> dict:
    """A submission as the API shows it; `standing` (course.standing_json) is its worth to the caller under the
    calendar, `counts` whether it is the one that counts (None: not known to the caller yet)."""
    worth = standing or {}
    return {
        "id": view.id,
        "student_id": view.student_id,
        "filename": view.filename,
        "status": view.status,
        "queue_position": view.queue_position,
        "submitted_at": iso(view.submitted_at),
        "score": worth.get("score", view.score),
        "max_score": worth.get("max_score", view.max_score),
        "raw_score": worth.get("raw_score"),
        "penalty": worth.get("penalty"),
        "late": worth.get("late"),
        "lateness_seconds": worth.get("lateness_seconds"),
        "scores_include_hidden": worth.get("scores_include_hidden"),
        "counts": counts,
        "report_version": view.report_version,
        "attempts": view.attempts,
        "error": view.last_error if view.status == "failed" else None,
        "passed": report.passed if report else None,
        "report": report.model_dump(mode="json") if report else None,
    }


def visible_report(
    request: Request, who: Principal, view: SubmissionView, sc: StudentCalendar | None = None
) -> Report | StudentReport | None:
    """The stored report under the calendar (its score after any late penalty), as this caller may see it: in full
    for instructors, else the student's view of it (hidden results as released to them)."""
    report = view.report
    if report is None:
        return None
    sc = sc or student_calendar(request, view.student_id)
    report = with_worth(report, sc.worth(report.score, aware(view.submitted_at)))
    if who.is_instructor:
        return report
    spec = request.app.state.spec
    return student_view(report, released=sc.released, details=details_allowed(spec), when=sc.when)


def described(request: Request, who: Principal, view: SubmissionView, *, with_report: bool) -> dict:
    """The submission's JSON for this caller, with its worth under the calendar and whether it counts."""
    sc = student_calendar(request, view.student_id)
    facts = [facts_of(v) for v in _store(request).list_submissions(student_id=view.student_id, limit=100_000)]
    report = visible_report(request, who, view, sc) if with_report else None
    counts = counting_id(who, facts, sc)
    return submission_json(
        view, report, standing=standing_json(who, view, sc), counts=None if counts is None else counts == view.id
    )


def owned(request: Request, who: Principal, submission_id: int, *, with_report: bool = True) -> SubmissionView:
    """A submission the caller may read; another student's is answered exactly like a missing one (404)."""
    view = _store(request).get_submission(submission_id, with_report=with_report)
    if view is None or not (who.is_instructor or view.student_id == who.student_id):
        raise HTTPException(404, f"no submission {submission_id} of yours")
    return view


def accept(request: Request, who: Principal, student_id: str, filename: str, data: bytes) -> SubmissionView:
    """Apply the calendar (a student's upload outside the open window: 403), count the upload against the rate
    limit, then check it and store it with its job, accepted at the moment it arrived; refusals become HTTP errors
    (4xx, 429 with Retry-After). Counting comes first: a refused upload costs the same checks as an accepted one.
    An instructor submitting for a student is held to neither the window nor --max-submissions."""
    settings = request.app.state.settings
    sc = student_calendar(request, student_id)
    limit = None if who.is_instructor else sc.calendar.max_submissions
    refusal = None if who.is_instructor else sc.refusal()
    if refusal:
        raise HTTPException(403, refusal)
    arrived = sc.now.replace(tzinfo=None)  # the store's times are naive UTC
    try:
        _store(request).admit_upload(student_id=student_id, limits=settings.rate_limits, now=arrived)
        accepted = check_upload(
            filename=filename,
            data=data,
            tmp_dir=settings.tmp_dir,
            max_bytes=settings.upload_max_bytes,
            max_members=settings.zip_max_members,
            max_unpacked=settings.zip_max_unpacked,
        )
        return _store(request).add_submission(
            student_id=student_id,
            filename=accepted.filename,
            files_zip=accepted.files_zip,
            sha256=accepted.sha256,
            submitted_at=arrived,
            max_submissions=limit,
        )
    except SubmissionLimit as e:
        raise HTTPException(429, str(e)) from None
    except UploadRejected as e:
        raise HTTPException(e.status, str(e)) from None
    except SubmissionError as e:  # the unpacked upload read as `grade` reads a folder; never show the server's path
        where = re.escape(str(settings.tmp_dir)) + r"\S*/submission"
        raise HTTPException(422, re.sub(where, "the upload", str(e))) from None
    except RateLimited as e:
        raise HTTPException(429, str(e), {"Retry-After": str(e.retry_after)}) from None


@router.post("/api/submissions", status_code=202)
async def create_submission(
    request: Request,
    who: Caller,
    file: Annotated[UploadFile, File(description="A .py file, or a .zip of a submission folder.")],
    student_id: Annotated[str | None, Form(description="Instructors only: the student to submit for.")] = None,
) -> JSONResponse:
    """Accept a submission: its bytes and its job are committed together before this answers 202."""
    settings = request.app.state.settings
    if who.is_instructor:
        if not student_id:
            raise HTTPException(422, "an instructor submitting must name the student: form field student_id")
    elif student_id not in (None, who.student_id):
        raise HTTPException(403, "a student token can only submit for its own student")
    sid = who.student_id if not who.is_instructor else student_id
    if who.is_instructor and not await run_in_threadpool(_store(request).is_student, sid):
        raise HTTPException(422, f"no student {sid[:200]!r} on the roster: add them with `pa5-grader admin students`")
    data = await file.read(settings.upload_max_bytes + 1)
    # Checking and storing block (compile, files, the database's write lock): not on the event loop.
    # At most ACCEPTING at once (app.state.accepting): the rest wait here, not in threads contending for the GIL and
    # the database's write lock (which serializes them anyway), so a burst of uploads leaves the graders CPU.
    view = await anyio.to_thread.run_sync(
        accept, request, who, sid, file.filename or "", data, limiter=request.app.state.accepting
    )
    request.app.state.dispatcher.notify(view.job_id)
    return JSONResponse(
        {"id": view.id, "status": view.status, "queue_position": view.queue_position},
        status_code=202,
        headers={"Location": f"/api/submissions/{view.id}"},
    )


@router.get("/api/submissions")
def list_submissions(
    request: Request,
    who: Caller,
    student_id: Annotated[str | None, Query(description="Instructors: only this student's.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict:
    """The caller's own submissions, newest first; an instructor sees everyone's."""
    if not who.is_instructor:
        if student_id not in (None, who.student_id):
            raise HTTPException(403, "a student can only list their own submissions")
        student_id = who.student_id
    store = _store(request)
    views = store.list_submissions(student_id=student_id, limit=limit)
    by_student: dict[str, list[SubmissionView]] = {}
    for v in views:
        by_student.setdefault(v.student_id, []).append(v)
    out = {}
    for sid, mine in by_student.items():
        sc = student_calendar(request, sid)
        everything = mine if student_id is not None else store.list_submissions(student_id=sid, limit=100_000)
        counts = counting_id(who, [facts_of(v) for v in everything], sc)
        for v in mine:
            out[v.id] = submission_json(
                v, standing=standing_json(who, v, sc), counts=None if counts is None else counts == v.id
            )
    return {"submissions": [out[v.id] for v in views]}


@router.get("/api/submissions/{submission_id}")
async def get_submission(
    request: Request,
    who: Caller,
    submission_id: SubmissionId,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT, description="Seconds to wait for a queued or running submission's status to change."),
    ] = 0,
) -> dict:
    """The submission and, once done, its report. With `wait`, answers as soon as the status changes (long poll)."""
    view = await run_in_threadpool(owned, request, who, submission_id)
    deadline = time.monotonic() + wait
    while view.status in ACTIVE and time.monotonic() < deadline:
        await asyncio.sleep(WAIT_POLL)  # a primary-key read: far cheaper than the client asking again over HTTP
        if await run_in_threadpool(_store(request).status_of, submission_id) != view.status:
            view = await run_in_threadpool(owned, request, who, submission_id)
            break
    return await run_in_threadpool(described, request, who, view, with_report=True)


@router.get("/api/submissions/{submission_id}/report")
def get_report(
    request: Request,
    who: Caller,
    submission_id: SubmissionId,
    format: Literal["json", "junit", "text", "gradescope"] = "json",
) -> Response:
    """The report rendered as `pa5-grader grade --format` would."""
    view = owned(request, who, submission_id)
    report = visible_report(request, who, view)
    if report is None:
        why = view.last_error if view.status == "failed" else f"it is {view.status}"
        raise HTTPException(404, f"submission {submission_id} has no report yet: {why}")
    spec = request.app.state.spec
    if isinstance(report, StudentReport) and format == "json":  # the student's view, as GET /api/submissions/{id}
        return Response(report.model_dump_json(indent=2) + "\n", media_type=MEDIA[format])
    if isinstance(report, StudentReport):  # the renderers take a Report: one built from the view holds no more
        report = as_report(report)
    body = render(report, format, hidden_visibility=spec.hidden_visibility)
    return Response(body, media_type=MEDIA[format])


@router.get("/api/submissions/{submission_id}/reports")
def report_history(request: Request, who: Caller, submission_id: SubmissionId) -> dict:
    """Every version of the submission's report, oldest first: a regrade adds one, with its reason and the change
    of score (as the caller may see scores: before release, a student's count the public cases only)."""
    view = owned(request, who, submission_id, with_report=False)
    sc = student_calendar(request, view.student_id)
    full = who.is_instructor or sc.released
    versions, previous, grader = [], None, None
    for r in _store(request).report_history(submission_id):
        raw = r.score if full else r.public_score
        w = sc.worth(raw or 0.0, aware(view.submitted_at))
        reason = r.reason
        if grader is not None and r.grader_version and r.grader_version != grader:
            reason += f" (grader update {grader} → {r.grader_version})"
        versions.append(
            {
                "version": r.version,
                "created_at": iso(r.created_at),
                "reason": reason,
                "grader_version": r.grader_version,
                "score": w.score,
                "raw_score": w.raw_score,
                "max_score": r.max_score if full else r.public_max_score,
                "previous_score": previous,
                "change": None if previous is None else f"{points(previous)} → {points(w.score)}",
            }
        )
        previous, grader = w.score, r.grader_version or grader
    return {"submission_id": submission_id, "scores_include_hidden": full, "versions": versions}


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Liveness and the queue's size; 503 when the database does not answer."""
    store = _store(request)
    try:
        queued = store.queued_count()
    except Exception as e:
        return JSONResponse({"status": "error", "detail": f"database: {e.__class__.__name__}"}, status_code=503)
    return JSONResponse({"status": "ok", "queued": queued, "workers": request.app.state.settings.workers})
