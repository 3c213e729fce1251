"""The web pages: sign-in, a student's submissions and reports, the class dashboard; each renders the API's model."""

from __future__ import annotations

import functools
import inspect
from http import HTTPStatus
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from grader.service.access import auth
from grader.service.access.auth import Principal
from grader.service.web import api
from grader.service.web.charts import histogram_svg, split_bar_svg
from grader.service.web.page_format import install_filters

HERE = Path(__file__).parent
REFRESH_SECONDS = 3  # while something of the page's is queued or running
ACTIVE = ("queued", "running")

templates = Jinja2Templates(directory=HERE / "templates")  # Starlette turns autoescape on; page_format checks it
install_filters(templates.env)
router = APIRouter(include_in_schema=False)
CSRF_FIELD = "csrf_token"  # the hidden input every form carries
CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]


class SignInFirst(Exception):
    """Raised inside a page to send the browser to the sign-in page."""


def _who(request: Request) -> Principal | None:
    """The signed-in browser's principal. Pages take only the session cookie; the API also takes bearer tokens."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    return auth.read_session(request.app.state.store, request.app.state.session_key, cookie) if cookie else None


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    context = {"principal": _who(request), "csrf_token": auth.csrf_token(request), "refresh": None, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, e: HTTPException) -> Response:
    """An HTTP error as a page; app.py's handlers use it for page routes, so a browser never sees JSON."""
    return _error(request, e)


def _error(request: Request, e: HTTPException) -> Response:
    reason = HTTPStatus(e.status_code).phrase
    headers = {k: v for k, v in (e.headers or {}).items() if k.lower() == "retry-after"}
    page = _page(
        request, "error.html", {"status_code": e.status_code, "reason": reason, "detail": e.detail}, e.status_code
    )
    page.headers.update(headers)
    return page


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # after a POST, the browser GETs the result


def _signed_in(request: Request, *, instructor: bool = False) -> Principal:
    who = _who(request)
    if who is None:
        raise SignInFirst
    if instructor and not who.is_instructor:
        raise HTTPException(403, "this page is for instructors; sign in with an instructor token")
    return who


def page(fn):
    """Turn SignInFirst into a redirect and HTTP errors into an HTML page with the same status."""

    @functools.wraps(fn)
    async def wrapper(request: Request, *args, **kwargs):
        try:
            if inspect.iscoroutinefunction(fn):
                return await fn(request, *args, **kwargs)
            return await run_in_threadpool(fn, request, *args, **kwargs)  # the store's calls block
        except SignInFirst:
            return _redirect(str(request.url_for("signin")))
        except HTTPException as e:
            return _error(request, e)

    return wrapper


@router.get("/static/pages.css", name="pages_css")
def pages_css() -> FileResponse:
    return FileResponse(HERE / "static" / "pages.css", media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/", name="home")
@page
def home(request: Request) -> Response:
    who = _signed_in(request)
    return _redirect(str(request.url_for("dashboard" if who.is_instructor else "student_page")))


@router.get("/signin", name="signin")
@page
def signin(request: Request) -> Response:
    return _page(request, "signin.html", {})


@router.post("/signin", name="signin_post")
@page
def signin_post(request: Request, token: Annotated[str, Form()] = "", csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    response = _redirect(str(request.url_for("home")))
    if not token.strip() or auth.start_session(request, response, token.strip()) is None:
        flash = {"kind": "error", "text": "That token is not valid. Paste it whole, without spaces."}
        return _page(request, "signin.html", {"flash": flash}, 401)
    return response


@router.post("/signout", name="signout")
@page
def signout(request: Request, csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    response = _redirect(str(request.url_for("signin")))
    auth.end_session(response)
    return response


def _submissions_page(request: Request, who: Principal, student_id: str | None, flash: dict | None = None) -> Response:
    subs = api.list_submissions(request, who, student_id=student_id, limit=500)["submissions"]
    refresh = REFRESH_SECONDS if any(s["status"] in ACTIVE for s in subs) else None
    max_score = sum(p.points for p in request.app.state.spec.problems)
    context = {
        "submissions": subs,
        "student_id": student_id,
        "refresh": refresh,
        "flash": flash,
        "max_score": max_score,
    }
    return _page(request, "student.html", context)


@router.get("/me", name="student_page")
@page
def student_page(request: Request, student_id: Annotated[str | None, Query()] = None) -> Response:
    """A student's submissions (the JSON twin: GET /api/submissions); an instructor's view of anyone's."""
    who = _signed_in(request)
    return _submissions_page(request, who, student_id if who.is_instructor else None)


@router.post("/me/upload", name="upload")
@page
async def upload(
    request: Request, file: Annotated[UploadFile | None, File()] = None, csrf: CsrfField = None
) -> Response:
    auth.verify_csrf(request, csrf)
    who = _signed_in(request)
    if who.is_instructor:
        raise HTTPException(403, "instructors submit for a student with the API: POST /api/submissions")
    if file is None or not file.filename:
        raise HTTPException(400, "choose a file to upload: your backprop.py, or a .zip of your submission folder")
    try:
        await api.create_submission(request, who, file, None)
    except HTTPException as e:
        if e.status_code in (400, 413, 422, 429):  # the student's to fix: say so above their list
            page = _submissions_page(request, who, None, flash={"kind": "error", "text": e.detail})
            page.status_code = e.status_code
            page.headers.update({k: v for k, v in (e.headers or {}).items() if k.lower() == "retry-after"})
            return page
        raise
    return _redirect(str(request.url_for("student_page")))


@router.get("/submissions/{submission_id}", name="report_page")
@page
def report_page(request: Request, submission_id: api.SubmissionId) -> Response:
    """One submission and its report (the JSON twin: GET /api/submissions/{id})."""
    who = _signed_in(request)
    view = api.owned(request, who, submission_id)
    report = api.visible_report(request, who, view)
    sub = api.submission_json(view)
    refresh = REFRESH_SECONDS if report is None and sub["status"] in ACTIVE else None
    history = api.report_history(request, who, submission_id)["versions"]
    context = {"sub": sub, "report": report, "refresh": refresh, "max_failures": 3, "history": history}
    return _page(request, "report.html", context)


def _latest_graded(request: Request) -> dict[str, int]:
    """Student id -> their newest submission with a report: the one the class summary counts."""
    out: dict[str, int] = {}
    for v in request.app.state.store.list_submissions(limit=1_000_000):  # newest first
        if v.score is not None:
            out.setdefault(v.student_id, v.id)
    return out


@router.get("/dashboard", name="dashboard")
@page
def dashboard(request: Request) -> Response:
    """The class (JSON twins: GET /api/class/summary and GET /api/queue)."""
    who = _signed_in(request, instructor=True)
    summary = api.class_summary(request, who)
    queue = api.queue(request, who)
    position = 0
    for job in queue["jobs"]:
        position += job["status"] == "queued"
        job["position"] = position if job["status"] == "queued" else None
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
        "queue": queue,
        "latest": _latest_graded(request),
        "score_svg": histogram_svg(
            summary.score.histogram, max_score=summary.score.max_score, title="Total score", width=640, height=240
        ),
        "problem_svgs": problem_svgs,
        "split_svgs": split_svgs,
        "refresh": 10 if queue["jobs"] else None,
    }
    return _page(request, "dashboard.html", context)


@router.post("/submissions/{submission_id}/regrade", name="regrade_page")
@page
def regrade_page(request: Request, submission_id: api.SubmissionId, csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    who = _signed_in(request, instructor=True)
    api.regrade_one(request, who, submission_id)
    return _redirect(str(request.url_for("dashboard")))


@router.post("/dashboard/regrade", name="regrade_all_page")
@page
def regrade_all_page(request: Request, csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    who = _signed_in(request, instructor=True)
    api.regrade_all(request, who)
    return _redirect(str(request.url_for("dashboard")))
