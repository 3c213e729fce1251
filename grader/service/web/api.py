"""The JSON API: submissions, reports, the class summary, regrades and the queue."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from grader.errors import SubmissionError
from grader.report.model import Report
from grader.report.render import render
from grader.report.render_csv import render_summary_csv
from grader.report.summary import ClassSummary, summarize
from grader.scoring.catalogue import generic_words
from grader.service.access.auth import Principal, get_principal, require_instructor
from grader.service.access.uploads import UploadRejected, check_upload
from grader.service.queue.db import MAX_ID
from grader.service.queue.ratelimit import RateLimited
from grader.service.queue.store import ACTIVE, Store, SubmissionView, iso
from grader.service.web.visibility import StudentReport, as_report, hidden_released, student_view

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


def submission_json(view: SubmissionView, report: Report | StudentReport | None = None) -> dict:
    return {
        "id": view.id,
        "student_id": view.student_id,
        "filename": view.filename,
        "status": view.status,
        "queue_position": view.queue_position,
        "submitted_at": iso(view.submitted_at),
        "score": view.score,
        "attempts": view.attempts,
        "error": view.last_error if view.status == "failed" else None,
        "passed": report.passed if report else None,
        "report": report.model_dump(mode="json") if report else None,
    }


def visible_report(request: Request, who: Principal, view: SubmissionView) -> Report | StudentReport | None:
    """The stored report as this caller may see it: in full for instructors, else the student's view of it."""
    report = view.report
    if report is None or who.is_instructor:
        return report
    return student_view(report, released=hidden_released(request.app.state.spec))


def owned(request: Request, who: Principal, submission_id: int, *, with_report: bool = True) -> SubmissionView:
    """A submission the caller may read; another student's is answered exactly like a missing one (404)."""
    view = _store(request).get_submission(submission_id, with_report=with_report)
    if view is None or not (who.is_instructor or view.student_id == who.student_id):
        raise HTTPException(404, f"no submission {submission_id} of yours")
    return view


def accept(request: Request, student_id: str, filename: str, data: bytes) -> SubmissionView:
    """Count the upload against the rate limit, then check it and store it with its job; refusals become HTTP errors
    (4xx, 429 with Retry-After). Counting comes first: a refused upload costs the same checks as an accepted one."""
    settings = request.app.state.settings
    try:
        _store(request).admit_upload(student_id=student_id, limits=settings.rate_limits)
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
        )
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
    view = await run_in_threadpool(accept, request, sid, file.filename or "", data)
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
    views = _store(request).list_submissions(student_id=student_id, limit=limit)
    return {"submissions": [submission_json(v) for v in views]}


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
    return await run_in_threadpool(lambda: submission_json(view, visible_report(request, who, view)))


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


def _summary(request: Request) -> ClassSummary:
    spec = request.app.state.spec
    points = {p.id: p.points for p in spec.problems}
    return summarize(_store(request).latest_reports(), points=points, words=generic_words)


@router.get("/api/class/summary")
def class_summary(request: Request, who: Instructor) -> ClassSummary:
    """Each student's latest graded submission, summarised as `batch` does."""
    return _summary(request)


@router.get("/api/class/summary.csv")
def class_summary_csv(request: Request, who: Instructor) -> PlainTextResponse:
    return PlainTextResponse(
        render_summary_csv(_summary(request)),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="summary.csv"'},
    )


@router.post("/api/submissions/{submission_id}/regrade", status_code=202)
def regrade_one(request: Request, who: Instructor, submission_id: SubmissionId) -> dict:
    """Queue a regrade behind every new submission (nothing new if it is already queued or running)."""
    view = _store(request).regrade(submission_id)
    if view is None:
        raise HTTPException(404, f"no submission {submission_id}")
    request.app.state.dispatcher.notify(view.job_id)
    return {"id": view.id, "status": view.status, "queue_position": view.queue_position}


@router.post("/api/regrade", status_code=202)
def regrade_all(request: Request, who: Instructor) -> dict:
    """Regrade every student's latest submission."""
    n = _store(request).regrade_all()
    request.app.state.dispatcher.notify(0)
    return {"queued": n}


@router.get("/api/queue")
def queue(request: Request, who: Instructor) -> dict:
    return _store(request).queue()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Liveness and the queue's size; 503 when the database does not answer."""
    store = _store(request)
    try:
        queued = store.queued_count()
    except Exception as e:
        return JSONResponse({"status": "error", "detail": f"database: {e.__class__.__name__}"}, status_code=503)
    return JSONResponse({"status": "ok", "queued": queued, "workers": request.app.state.settings.workers})
