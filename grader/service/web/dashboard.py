"""The class dashboard: the summary's charts, the gradebook (filtered by status, searched by id) and the queue, whose
section refreshes itself in place so the gradebook's filter form keeps what the instructor typed."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from grader.report.summary import ClassSummary
from grader.service.access.auth import Principal
from grader.service.course import gradebook as book
from grader.service.course.standing import GradebookStatus
from grader.service.queue.db import MAX_ID
from grader.service.web import class_api, course
from grader.service.web.charts import histogram_svg, split_bar_svg
from grader.service.web.pages import page, render_page, session_principal, signed_in

router = APIRouter(include_in_schema=False)
QUEUE_REFRESH_SECONDS = 5  # while a job is queued or running
STATUSES = get_args(GradebookStatus)


def _regraded(n: int, submission_id: int | None) -> str:
    """What a regrade button queued; regrade.py redirects to the dashboard with it."""
    if submission_id is not None:
        if n:
            return f"Queued a regrade of submission #{submission_id}."
        return f"Nothing queued: submission #{submission_id} is already queued or running."
    if n:
        return f"Queued {n} regrade{'s' if n != 1 else ''}."
    return "Nothing queued: every student's latest submission is already queued or running."


def _queue(request: Request, who: Principal) -> dict:
    """The queue section: the jobs with their places in line, and how often it refreshes while any is active."""
    queue = class_api.queue(request, who)
    position = 0
    for job in queue["jobs"]:
        position += job["status"] == "queued"
        job["position"] = position if job["status"] == "queued" else None
    return {
        "queue": queue,
        "status_refresh": QUEUE_REFRESH_SECONDS if queue["jobs"] else None,
        "status_url": str(request.url_for("dashboard_queue")),
    }


def _gradebook(request: Request, status: str | None, q: str | None, summary: ClassSummary) -> dict:
    status = status or None
    if status is not None and status not in STATUSES:
        raise HTTPException(400, f"unknown status {status[:40]!r}: choose one of {', '.join(STATUSES)}")
    tz = request.app.state.store.course.calendar().timezone
    everyone = course.gradebook_rows(request)
    rows = book.select(everyone, status=status, search=q)
    counts = {s: sum(r.status == s for r in everyone) for s in STATUSES}
    return {
        "rows": [book.row_json(r, tz) for r in rows],
        "timezone": tz,
        "status": status,
        "q": (q or "").strip(),
        "statuses": STATUSES,
        "status_counts": counts,
        "roster": len(everyone),
        "latest_says": {r.student_id: r for r in summary.rows},  # what each student's latest report names
    }


@router.get("/dashboard", name="dashboard")
@page
def dashboard(
    request: Request,
    regraded: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    submission: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """The class (JSON twins: GET /api/class/summary, /api/class/gradebook and /api/queue)."""
    who = signed_in(request, instructor=True)
    summary = class_api.class_summary(request, who)
    problem_svgs = {
        pid: histogram_svg(d.histogram, max_score=d.max_score, title=pid, width=300, height=110, caption=False)
        for pid, d in summary.problems.items()
    }
    split_svgs = {
        pid: split_bar_svg(d.full, d.partial, d.zero, title=f"{pid}: {d.full} full, {d.partial} partial, {d.zero} zero")
        for pid, d in summary.problems.items()
    }
    context = {
        "summary": summary,
        "gradebook": _gradebook(request, status, q, summary),
        **_queue(request, who),
        "score_svg": histogram_svg(
            summary.score.histogram, max_score=summary.score.max_score, title="Total score", width=640, height=240
        ),
        "problem_svgs": problem_svgs,
        "split_svgs": split_svgs,
        "flash": None if regraded is None else {"kind": "info", "text": _regraded(regraded, submission)},
    }
    return render_page(request, "dashboard.html", context)


@router.get("/dashboard/queue", name="dashboard_queue")
@page
def dashboard_queue(request: Request) -> Response:
    """The queue section alone, which static/status.js puts in place of the dashboard's while jobs are active."""
    who = session_principal(request)
    if who is None:  # a script asks, not a person: no sign-in page to follow
        return Response("sign in first", status_code=401, media_type="text/plain")
    if not who.is_instructor:
        return Response("for instructors", status_code=403, media_type="text/plain")
    response = render_page(request, "_queue.html", _queue(request, who))
    response.headers["Cache-Control"] = "no-store"
    return response
