"""The LTI routes: /lti/login, /lti/launch, /lti/jwks, /lti/config, and the instructor's /lti/status (with its JSON
twin, a roster sync and a resend-all button)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from grader.errors import GraderError
from grader.service.access import auth
from grader.service.access.auth import Principal, require_instructor
from grader.service.lti import keys, roster
from grader.service.lti.claims import LINEITEM_SCOPE, NRPS_SCOPE, SCORE_SCOPE
from grader.service.lti.launch import LaunchRefused, SignIn, Unknown, launch, login
from grader.service.lti.passback import naive
from grader.service.lti.status import status
from grader.service.lti.sweeper import sweep_once
from grader.service.web.page_format import install_filters

HERE = Path(__file__).parent
WEB = HERE.parent / "web" / "templates"
MARKER = "pa5_lti"  # a browser signed in by a launch: its pages may be framed by the registered platforms
templates = Jinja2Templates(directory=[HERE / "templates", WEB])  # extends the pages' base.html
install_filters(templates.env)
router = APIRouter(include_in_schema=False)
Instructor = Annotated[Principal, Depends(require_instructor)]


def _lti(request: Request):
    return request.app.state.lti


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _who(request: Request) -> Principal | None:
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    return auth.read_session(request.app.state.store, request.app.state.session_key, cookie) if cookie else None


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    context = {"principal": _who(request), "csrf_token": auth.csrf_token(request), "refresh": None, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _refused(request: Request, status_code: int, detail: str) -> Response:
    from http import HTTPStatus

    context = {"status_code": status_code, "reason": HTTPStatus(status_code).phrase, "detail": detail}
    return _page(request, "error.html", context, status_code)


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


@router.api_route("/lti/login", methods=["GET", "POST"], name="lti_login")
async def lti_login(request: Request) -> Response:
    """OIDC login initiation: the platform sends the browser here first."""
    params = await _params(request)
    state = _lti(request)
    try:
        return await run_in_threadpool(
            login,
            store=request.app.state.store,
            data_dir=state.data_dir,
            params=params,
            cookies=request.cookies,
            secure=_secure(request),
            launch_url=str(request.url_for("lti_launch")),
            clock=state.clock,
        )
    except LaunchRefused as e:
        return _refused(request, e.status, str(e))


@router.post("/lti/launch", name="lti_launch")
async def lti_launch(request: Request) -> Response:
    """The launch the platform posts (id_token and state): sign in, then the submissions page or the dashboard."""
    params = await _params(request)
    state = _lti(request)
    try:
        outcome = await run_in_threadpool(
            launch,
            store=request.app.state.store,
            data_dir=state.data_dir,
            params=params,
            cookies=request.cookies,
            secure=_secure(request),
            clock=state.clock,
        )
    except (LaunchRefused, roster.RosterError) as e:
        return _refused(request, getattr(e, "status", 502), str(e))
    if isinstance(outcome, Unknown):
        return _page(request, "lti_unknown.html", {"launch": outcome.launch}, 403)
    return sign_in(request, outcome)


@router.get("/lti/launch", name="lti_launch_get")
def lti_launch_get(request: Request) -> Response:
    return _refused(request, 405, "the LMS posts its launch here: open the PA5 grader from your course")


def sign_in(request: Request, outcome: SignIn) -> Response:
    """The session cookie for the matched token row, cross-site over TLS (the LMS frames the pages), and the
    marker that lets the LMS frame them; a CSRF cookie made for this browser now is cross-site too (the flag)."""
    response = RedirectResponse(str(request.url_for(outcome.landing)), status_code=303)
    t = outcome.token
    principal = Principal(t.role, t.student_id, t.id)
    value = auth.session_value(request.app.state.session_key, principal, t.token_sha256)
    for key, v in ((auth.SESSION_COOKIE, value), (MARKER, str(outcome.platform.id))):
        if _secure(request):
            auth.cross_site_cookie(response, key, v, max_age=auth.SESSION_SECONDS, path="/")
        else:  # plain HTTP (loopback): no frame can keep a cookie; a top-level launch still signs in
            response.set_cookie(key, v, max_age=auth.SESSION_SECONDS, path="/", httponly=True, samesite="lax")
    request.state.cross_site_cookies = _secure(request)
    return response


def signed_out_in_frame(request: Request, status: int) -> bool:
    """Whether a response of this status is the pages' sign-out succeeding for a browser an LTI launch signed in
    over TLS."""
    return (
        request.method == "POST"
        and request.url.path == request.app.url_path_for("signout")
        and status == 303
        and MARKER in request.cookies
        and _secure(request)
    )


@router.get("/lti/jwks", name="lti_jwks")
def lti_jwks(request: Request) -> JSONResponse:
    """The tool's public keys (old and new during a rotation)."""
    return JSONResponse(keys.jwks(_lti(request).data_dir), headers={"Cache-Control": "max-age=300"})


@router.get("/lti/config", name="lti_config")
def lti_config(request: Request) -> JSONResponse:
    """The tool's configuration, to paste into Canvas (Developer Keys, LTI key, Paste JSON) or read into Moodle."""
    login_url, launch_url = str(request.url_for("lti_login")), str(request.url_for("lti_launch"))
    placement = {"message_type": "LtiResourceLinkRequest", "target_link_uri": launch_url, "text": "PA5 grader"}
    return JSONResponse(
        {
            "title": "PA5 grader",
            "description": "Auto-grader for the PA5 backpropagation assignment: submissions, reports and grades.",
            "oidc_initiation_url": login_url,
            "target_link_uri": launch_url,
            "redirect_uris": [launch_url],
            "public_jwk_url": str(request.url_for("lti_jwks")),
            "scopes": [LINEITEM_SCOPE, SCORE_SCOPE, NRPS_SCOPE],
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "privacy_level": "public",
                    "domain": request.url.hostname,
                    "settings": {
                        "placements": [
                            {"placement": "assignment_selection", **placement},
                            {"placement": "link_selection", **placement},
                        ]
                    },
                }
            ],
            "custom_fields": {},
        }
    )


def _status_page(request: Request, flash: dict | None = None, status_code: int = 200) -> Response:
    who = _who(request)
    if who is None:
        return RedirectResponse(str(request.url_for("signin")), status_code=303)
    if not who.is_instructor:
        return _refused(request, 403, "this page is for instructors")
    model = status(request.app.state.store.lti)
    return _page(request, "lti_status.html", {"status": model, "flash": flash}, status_code)


@router.get("/lti/status", name="lti_status")
async def lti_status(request: Request) -> Response:
    """Each student's passback state (the JSON twin: /lti/status.json)."""
    return await run_in_threadpool(_status_page, request)


@router.get("/lti/status.json", name="lti_status_json")
def lti_status_json(request: Request, who: Instructor) -> JSONResponse:
    return JSONResponse(
        status(request.app.state.store.lti).model_dump(mode="json"), headers={"Cache-Control": "no-store"}
    )


def _instructor_post(request: Request, csrf: str | None) -> None:
    auth.verify_csrf(request, csrf)
    who = _who(request)
    if who is None or not who.is_instructor:
        raise HTTPException(403, "this needs an instructor's session")


@router.post("/lti/status/sync", name="lti_sync")
async def lti_sync(request: Request, csrf: Annotated[str | None, Form(alias="csrf_token")] = None) -> Response:
    """Roster sync from every course a launch has shown."""
    state = _lti(request)

    def run() -> Response:
        try:
            _instructor_post(request, csrf)
            r = roster.sync(store=request.app.state.store, data_dir=state.data_dir, now=state.clock())
        except HTTPException as e:
            return _refused(request, e.status_code, e.detail)
        except GraderError as e:
            return _status_page(request, {"kind": "error", "text": str(e)}, 502)
        text = f"roster sync: {len(r.added)} added, {len(r.linked)} linked to the roster, {r.known} known before"
        if r.skipped:
            text += "; skipped: " + "; ".join(r.skipped[:5])
        return _status_page(request, {"kind": "info", "text": text})

    return await run_in_threadpool(run)


@router.post("/lti/status/push", name="lti_push")
async def lti_push(request: Request, csrf: Annotated[str | None, Form(alias="csrf_token")] = None) -> Response:
    """Send every student's score again, now."""
    state = _lti(request)

    def run() -> Response:
        try:
            _instructor_post(request, csrf)
        except HTTPException as e:
            return _refused(request, e.status_code, e.detail)
        store, now = request.app.state.store, state.clock()
        n = store.lti.passbacks.resend_all(naive(now))
        r = sweep_once(store=store, data_dir=state.data_dir, now=now, spec=request.app.state.spec)
        text = f"resent {n}: {r.sent} sent, {r.failed} failed, {r.waiting} waiting, {r.ungraded} with nothing graded"
        return _status_page(request, {"kind": "info", "text": text})

    return await run_in_threadpool(run)
