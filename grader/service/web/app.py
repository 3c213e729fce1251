"""The FastAPI application: the API and the pages, security headers, a body limit, and the dispatcher's lifetime."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
from collections.abc import Callable

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.datastructures import MutableHeaders
from starlette.formparsers import MultiPartParser

from grader import __version__
from grader.service.access import auth
from grader.service.course.clock import Clock, clock_from_env
from grader.service.lti import mount as lti_mount
from grader.service.ops.settings import ServiceSettings
from grader.service.queue.db import MAX_ID
from grader.service.queue.embedded import Dispatcher, NullDispatcher
from grader.service.queue.store import Store
from grader.service.web import api, class_api, course
from grader.service.web.asgi import EditResponse
from grader.spec import Spec, load_spec

log = logging.getLogger("pa5-grader.service")
MULTIPART_SLACK = 64 << 10  # form boundaries and headers around the file
# Uploads checked and stored at once. Each holds the GIL for most of its ~10 ms and writes the database, whose
# writes are one at a time: more in flight only adds waiting threads (and, in a deadline burst, 40 threads
# handing the GIL round cost ~7 ms an upload more). 2 keeps one checking while the other writes.
ACCEPTING = 2
# script-src and connect-src: static/status.js, which fetches a page's status area from the same origin.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# FastAPI's /docs page loads Swagger UI from a CDN and runs it inline.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def security_headers(path: str) -> dict[str, str]:
    """The headers every answer carries, pages and API alike."""
    docs = path in ("/docs", "/redoc", "/docs/oauth2-redirect")
    return {
        "Content-Security-Policy": DOCS_CSP if docs else CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


class BodyLimit:
    """Refuse request bodies over the limit (413) while they arrive, before anything is parsed or spooled: as JSON
    under /api/, else as a page (`page(detail, status_code=, root_path=)` gives its HTML) with a way back."""

    def __init__(self, app, limit: int, page: Callable[..., str] | None = None):
        self.app, self.limit, self.page = app, limit, page

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(scope, receive, send)
        total, refused = 0, False

        async def limited():
            nonlocal total, refused
            message = await receive()
            total += len(message.get("body", b""))
            if total > self.limit and not refused:
                refused = True
                await self._refuse(scope, receive, send)
                return {"type": "http.disconnect"}  # the app stops reading; whatever it answers is dropped below
            return message

        async def guarded(message):
            if not refused:
                await send(message)

        await self.app(scope, limited, guarded)

    def _message(self) -> str:
        return f"the request is larger than {self.limit - MULTIPART_SLACK} bytes, the upload limit"

    async def _refuse(self, scope, receive, send):
        path = scope["path"]
        if self.page is None or path.startswith("/api/"):
            body, kind = json.dumps({"detail": self._message()}).encode(), "application/json"
        else:
            html = self.page(self._message(), status_code=413, root_path=scope.get("root_path", ""))
            body, kind = html.encode(), "text/html; charset=utf-8"
        headers = {"content-type": kind, "connection": "close", **security_headers(path)}
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def headers(request: Request, status: int, headers: MutableHeaders) -> None:
    """Middleware: the security headers on every answer, and no caching of the API's."""
    path = request.url.path
    for name, value in security_headers(path).items():
        headers.setdefault(name, value)
    if path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")


def invalid_request(errors) -> HTTPException:
    """A request FastAPI could not validate: 404 when a path parameter (an id) names nothing, else 422 saying why."""
    if errors and all(e["loc"][0] == "path" for e in errors):
        e = errors[0]
        what = str(e["loc"][-1]).removesuffix("_id").replace("_", " ")
        return HTTPException(404, f"no {what} {str(e.get('input'))[:40]!r}: ids are whole numbers from 1 to {MAX_ID}")
    where = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errors)
    return HTTPException(422, f"invalid request: {where}")


def create_app(
    settings: ServiceSettings,
    *,
    store: Store | None = None,
    dispatcher: Dispatcher | None = None,
    spec: Spec | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The service over settings.data_dir; without a dispatcher it accepts and shows but grades nothing. `clock`
    is the calendar's time (default: the system's, or $PA5_CLOCK_FILE's in tests)."""
    store = store or Store(settings.db_url, max_attempts=settings.max_attempts, queue_cap=settings.queue_cap)
    dispatcher = dispatcher or NullDispatcher()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()

    app = FastAPI(
        title="pa5-grader service",
        version=__version__,
        description="Submit PA5 solutions, read their reports; instructors see the class. "
        "Send `Authorization: Bearer TOKEN`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.dispatcher = dispatcher
    app.state.spec = spec or load_spec(settings.spec_path)
    app.state.session_key = auth.load_session_key(settings.data_dir)
    app.state.clock = clock or clock_from_env()
    app.state.accepting = anyio.CapacityLimiter(ACCEPTING)
    # Keep a whole upload in memory while it is parsed: Starlette would spool a larger file to the system /tmp.
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, settings.upload_max_bytes + MULTIPART_SLACK)

    app.include_router(api.router)
    app.include_router(class_api.router)
    app.include_router(course.router)
    lti_mount.install(app)  # LTI 1.3: /lti/ routes, framing by registered LMSs, grade passback (grader/service/lti/)
    pages = None
    if importlib.util.find_spec("grader.service.web.pages") is None:
        log.warning("the web pages are not installed here (grader/service/web/pages.py); serving the API only")
    else:
        from grader.service.web import code, dashboard, pages, regrade

        app.include_router(pages.router)
        app.include_router(dashboard.router)
        app.include_router(regrade.router)
        app.include_router(code.router)

    def refuse(request: Request, e: HTTPException):
        if pages is not None and not request.url.path.startswith("/api/"):
            return pages.error_page(request, e)
        return JSONResponse({"detail": e.detail}, status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return refuse(request, invalid_request(exc.errors()))

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError):
        # A value the database refuses (a NUL in a PostgreSQL string, a number out of a column's range): the
        # request's fault, whichever parameter carried it.
        log.warning("refused a request the database could not take: %s", exc.orig)
        return refuse(request, HTTPException(422, "the request holds a value the service cannot store or look up"))

    # Plain ASGI middleware (asgi.py), each added around the last; from the outside in: the body limit, the CSRF
    # cookie, these headers, LTI's framing (lti/mount.py).
    app.add_middleware(EditResponse, edit=headers)
    app.add_middleware(EditResponse, edit=auth.csrf_cookie, before=auth.csrf_seed)
    page = pages.refused_html if pages is not None else None
    app.add_middleware(BodyLimit, limit=settings.upload_max_bytes + MULTIPART_SLACK, page=page)
    return app
