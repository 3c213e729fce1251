"""The instructor's JSON API over the whole class: its summary (JSON and CSV), regrades and the queue."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from grader.report.render_csv import render_summary_csv
from grader.report.summary import ClassSummary, summarize
from grader.scoring.catalogue import generic_words
from grader.service.queue.store import Store
from grader.service.web.api import Instructor, SubmissionId

router = APIRouter()


def _store(request: Request) -> Store:
    return request.app.state.store


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
    done = _store(request).regrade(submission_id)
    if done is None:
        raise HTTPException(404, f"no submission {submission_id}")
    view, queued = done
    request.app.state.dispatcher.notify(view.job_id)
    return {"id": view.id, "status": view.status, "queue_position": view.queue_position, "queued": queued}


@router.post("/api/regrade", status_code=202)
def regrade_all(request: Request, who: Instructor) -> dict:
    """Regrade every student's latest submission."""
    n = _store(request).regrade_all()
    request.app.state.dispatcher.notify(0)
    return {"queued": n}


@router.get("/api/queue")
def queue(request: Request, who: Instructor) -> dict:
    return _store(request).queue()
