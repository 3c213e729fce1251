"""Middleware that edits a response's status line and headers as they go out, as plain ASGI.

Starlette's BaseHTTPMiddleware (`@app.middleware("http")`) runs the app in a task of its own and streams its body
through a memory channel: three layers of it were about a tenth of the server's CPU in a deadline burst of
uploads. Edits to the headers need none of that."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

# edit(request, status, headers): headers is the response's own, to change in place; awaited before they are sent.
Edit = Callable[[Request, int, MutableHeaders], Awaitable[None]]


class EditResponse:
    """`app.add_middleware(EditResponse, edit=..., before=...)`: `before(request)`, if given, runs before the app
    (to set `request.state` for the routes), and `edit` sees each HTTP response's start. Both get a request that
    shares the scope, and so `request.state`, with the routes."""

    def __init__(self, app, edit: Edit, before: Callable[[Request], None] | None = None):
        self.app, self.edit, self.before = app, edit, before

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        if self.before is not None:
            self.before(request)

        async def sending(message: dict[str, Any]):
            if message["type"] == "http.response.start":
                await self.edit(request, message["status"], MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, sending)


def append_cookie(headers: MutableHeaders, set_cookie: Callable[[Response], None]) -> None:
    """Append the Set-Cookie header(s) that `set_cookie(response)` writes on a Response (Starlette's own
    `set_cookie`, or a helper over it), so a cookie made in middleware is spelled exactly as a route's."""
    scratch = Response()
    set_cookie(scratch)
    for name, value in scratch.raw_headers:
        if name == b"set-cookie":
            headers.append("set-cookie", value.decode("latin-1"))
