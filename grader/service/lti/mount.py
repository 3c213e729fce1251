"""LTI on the service's app: its router, the framing rule of its pages, and the passback sweeper for the app's
lifetime; nothing but a warning where PyLTI1p3 is not installed (the `lti` extra)."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from grader.service.web.asgi import EditResponse, append_cookie

log = logging.getLogger("pa5-grader.service.lti")


@dataclass
class LtiState:
    """app.state.lti; a test may set `clock` and turn the sweeper off (sweep_seconds = None) before the app starts."""

    data_dir: Path
    clock: Callable
    sweep_seconds: float | None


def install(app: FastAPI) -> None:
    if importlib.util.find_spec("pylti1p3") is None:
        log.warning("LTI is off: PyLTI1p3 is not installed (pip install 'pa5-grader[lti]')")
        return
    from grader.service.lti import routes, sweeper

    clock = getattr(app.state, "clock", None) or sweeper.utc_now  # the service's clock, which the calendar reads
    app.state.lti = LtiState(app.state.settings.data_dir, clock, sweeper.SWEEP_SECONDS)
    app.include_router(routes.router)

    def lti_marks(request: Request) -> None:
        """Before the routes: over TLS, a browser an LTI launch signed in gets cross-site cookies (a CSRF cookie
        it needs now too)."""
        if routes.MARKER in request.cookies and request.url.scheme == "https":
            request.state.cross_site_cookies = True

    async def lti_frames(request: Request, status: int, headers: MutableHeaders) -> None:
        """A page of an LTI session (or of /lti/) may be framed by the registered platforms' origins; every other
        page keeps frame-ancestors 'none'."""
        path = request.url.path
        if not (path.startswith("/lti/") or routes.MARKER in request.cookies):
            return
        if routes.signed_out_in_frame(request, status):
            # The pages' sign-out deletes the plain cookie; a partitioned one is deleted only by its like. The
            # marker stays, so the sign-in page it leads to still shows in the LMS's frame.
            append_cookie(
                headers, lambda r: routes.auth.cross_site_cookie(r, routes.auth.SESSION_COOKIE, "", max_age=0, path="/")
            )
        if not path.startswith("/api/"):
            origins = await run_in_threadpool(app.state.store.lti.frame_origins)
            if origins:
                from grader.service.web.app import CSP

                frames = "frame-ancestors 'self' " + " ".join(sorted(origins))
                headers["Content-Security-Policy"] = re.sub(r"frame-ancestors [^;]*", frames, CSP)

    app.add_middleware(EditResponse, edit=lti_frames, before=lti_marks)

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI):
        async with inner(a) as state:
            lti: LtiState = a.state.lti
            sweep = None
            if lti.sweep_seconds:
                sweep = sweeper.Sweeper(
                    store=a.state.store,
                    data_dir=lti.data_dir,
                    spec=a.state.spec,
                    interval=lti.sweep_seconds,
                    clock=lti.clock,
                )
                sweep.start()
            try:
                yield state
            finally:
                if sweep is not None:
                    sweep.stop()

    app.router.lifespan_context = lifespan
