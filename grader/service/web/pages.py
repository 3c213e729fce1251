"""The web pages: sign-in, a student's submissions and reports, the class dashboard; each renders the API's model."""

from __future__ import annotations

import functools
import inspect
from http import HTTPStatus
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from grader.service.access import auth
from grader.service.access.auth import Principal
from grader.service.web import api, course
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


def session_principal(request: Request) -> Principal | None:
    """The signed-in browser's principal. Pages take only the session cookie; the API also takes bearer tokens."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    return auth.read_session(request.app.state.store, request.app.state.session_key, cookie) if cookie else None


def render_page(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    """A template with what every page needs: who is signed in, the forms' CSRF token, no refresh unless asked."""
    context = {
        "principal": session_principal(request),
        "csrf_token": auth.csrf_token(request),
        "refresh": None,
        **context,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, e: HTTPException) -> Response:
    """An HTTP error as a page; app.py's handlers use it for page routes, so a browser never sees JSON."""
    return _error(request, e)


def _error(request: Request, e: HTTPException) -> Response:
    reason = HTTPStatus(e.status_code).phrase
    headers = {k: v for k, v in (e.headers or {}).items() if k.lower() == "retry-after"}
    page = render_page(
        request, "error.html", {"status_code": e.status_code, "reason": reason, "detail": e.detail}, e.status_code
    )
    page.headers.update(headers)
    return page


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # after a POST, the browser GETs the result


def signed_in(request: Request, *, instructor: bool = False) -> Principal:
    who = session_principal(request)
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
            return redirect(str(request.url_for("signin")))
        except HTTPException as e:
            return _error(request, e)

    return wrapper


@router.get("/static/pages.css", name="pages_css")
def pages_css() -> FileResponse:
    return FileResponse(HERE / "static" / "pages.css", media_type="text/css", headers={"Cache-Control": "max-age=300"})


@router.get("/static/status.js", name="status_js")
def status_js() -> FileResponse:
    """The one script: it refreshes a page's status area in place, so a form being filled in keeps its input."""
    js = HERE / "static" / "status.js"
    return FileResponse(js, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})


def refused_html(detail: str, *, status_code: int, root_path: str = "") -> str:
    """A refusal made outside any route (app.py's body limit): a short page with the message and a way back."""
    context = {
        "status_code": status_code,
        "reason": HTTPStatus(status_code).phrase,
        "detail": detail,
        "back": f"{root_path}/me",
        "css": f"{root_path}/static/pages.css",
    }
    return templates.get_template("refused.html").render(context)


@router.get("/", name="home")
@page
def home(request: Request) -> Response:
    who = signed_in(request)
    return redirect(str(request.url_for("dashboard" if who.is_instructor else "student_page")))


@router.get("/signin", name="signin")
@page
def signin(request: Request) -> Response:
    return render_page(request, "signin.html", {})


@router.post("/signin", name="signin_post")
@page
def signin_post(request: Request, token: Annotated[str, Form()] = "", csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    response = redirect(str(request.url_for("home")))
    if not token.strip() or auth.start_session(request, response, token.strip()) is None:
        flash = {"kind": "error", "text": "That token is not valid. Paste it whole, without spaces."}
        return render_page(request, "signin.html", {"flash": flash}, 401)
    return response


@router.post("/signout", name="signout")
@page
def signout(request: Request, csrf: CsrfField = None) -> Response:
    auth.verify_csrf(request, csrf)
    response = redirect(str(request.url_for("signin")))
    auth.end_session(response)
    return response


def _submissions(request: Request, who: Principal, student_id: str | None) -> dict:
    """What the submissions list shows, on the page and in its status fragment."""
    subs = api.list_submissions(request, who, student_id=student_id, limit=500)["submissions"]
    status_url = str(request.url_for("student_status"))
    if student_id:
        status_url += "?" + urlencode({"student_id": student_id})
    return {
        "submissions": subs,
        "student_id": student_id,
        "status_refresh": REFRESH_SECONDS if any(s["status"] in ACTIVE for s in subs) else None,
        "status_url": status_url,
        "max_score": sum(p.points for p in request.app.state.spec.problems),
        "counting_later": _counting_later(request, who),
    }


def _counting_later(request: Request, who: Principal) -> bool:
    """Whether a student learns which submission counts only at release (the best score needs hidden results)."""
    if who.student_id is None:
        return False
    sc = course.student_calendar(request, who.student_id)
    return sc.calendar.score_policy == "best" and not sc.released


def _submissions_page(request: Request, who: Principal, student_id: str | None, flash: dict | None = None) -> Response:
    """The list, and for a student the calendar card: their own due dates, what is left and when hidden results come."""
    calendar = course.calendar_json(request, who) if who.student_id is not None else None
    context = {**_submissions(request, who, student_id), "flash": flash, "calendar": calendar}
    return render_page(request, "student.html", context)


@router.get("/me", name="student_page")
@page
def student_page(request: Request, student_id: Annotated[str | None, Query()] = None) -> Response:
    """A student's submissions (the JSON twin: GET /api/submissions); an instructor's view of anyone's."""
    who = signed_in(request)
    return _submissions_page(request, who, student_id if who.is_instructor else None)


@router.get("/me/status", name="student_status")
@page
def student_status(request: Request, student_id: Annotated[str | None, Query()] = None) -> Response:
    """The submissions list alone, which static/status.js puts in place of the page's while one is being graded."""
    who = session_principal(request)
    if who is None:  # a script asks, not a person: no sign-in page to follow
        return Response("sign in first", status_code=401, media_type="text/plain")
    context = _submissions(request, who, student_id if who.is_instructor else None)
    response = render_page(request, "_submissions.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/me/upload", name="upload")
@page
async def upload(
    request: Request, file: Annotated[UploadFile | None, File()] = None, csrf: CsrfField = None
) -> Response:
    auth.verify_csrf(request, csrf)
    who = signed_in(request)
    if who.is_instructor:
        raise HTTPException(403, "instructors submit for a student with the API: POST /api/submissions")
    if file is None or not file.filename:
        raise HTTPException(400, "choose a file to upload: your backprop.py, or a .zip of your submission folder")
    try:
        await api.create_submission(request, who, file, None)
    except HTTPException as e:
        if e.status_code in (400, 403, 413, 422, 429):  # said above the form: the student sees why and can retry
            page = _submissions_page(request, who, None, flash={"kind": "error", "text": e.detail})
            page.status_code = e.status_code
            page.headers.update({k: v for k, v in (e.headers or {}).items() if k.lower() == "retry-after"})
            return page
        raise
    return redirect(str(request.url_for("student_page")))


@router.get("/submissions/{submission_id}", name="report_page")
@page
def report_page(request: Request, submission_id: api.SubmissionId) -> Response:
    """One submission and its report (the JSON twin: GET /api/submissions/{id})."""
    who = signed_in(request)
    view = api.owned(request, who, submission_id)
    report = api.visible_report(request, who, view)
    sub = api.submission_json(view)
    refresh = REFRESH_SECONDS if report is None and sub["status"] in ACTIVE else None
    history = api.report_history(request, who, submission_id)["versions"]
    context = {"sub": sub, "report": report, "refresh": refresh, "max_failures": 3, "history": history}
    return render_page(request, "report.html", context)
