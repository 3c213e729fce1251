"""The grader as the LTI tool for the tests: a real app (create_app) on uvicorn on loopback, with the injected clock
and the sweeper's thread off, so a test runs each passback sweep itself at the time it chooses; and a browser-like
client that goes through the OIDC login and launch."""

from __future__ import annotations

import datetime as dt
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx

from grader.service.lti.sweeper import SweepResult, sweep_once
from grader.service.ops.settings import ServiceSettings
from grader.service.queue.embedded import EmbeddedDispatcher
from grader.service.queue.store import Store
from grader.service.web.app import create_app
from grader.spec import default_spec
from tests.grader.service.live import Service
from tests.grader.service.lti.lms import serve

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


class Clock:
    """The injected clock: stands still until a test moves it."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@dataclass
class Tool:
    url: str
    store: Store
    app: object
    clock: Clock
    service: Service

    def sweep(self) -> SweepResult:
        return sweep_once(store=self.store, data_dir=self.service.data, now=self.clock(), spec=self.app.state.spec)


@contextmanager
def serving(
    service: Service,
    *,
    port: int,
    clock: Clock,
    workers: int = 0,
    backend=None,
    ssl: dict | None = None,
    sweep_seconds: float | None = None,
):
    settings = ServiceSettings(data_dir=service.data, sandbox="process", workers=workers, rate_limits=())
    store = Store(settings.db_url)
    spec = default_spec()
    dispatcher = None
    if workers:
        dispatcher = EmbeddedDispatcher(
            store=store,
            backend=backend,
            spec=spec,
            secret=service.secret,
            tmp_dir=settings.tmp_dir,
            workers=workers,
            lease_seconds=settings.lease_seconds,
            recovery_seconds=settings.recovery_seconds,
            poll_seconds=0.2,
            margin=settings.grade_margin,
        )
    app = create_app(settings, store=store, dispatcher=dispatcher, spec=spec)
    app.state.lti.clock, app.state.lti.sweep_seconds = clock, sweep_seconds
    server = serve(app, port, lifespan="on", **(ssl or {}))
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and server.thread.is_alive(), "the tool did not start"
        time.sleep(0.02)
    scheme = "https" if ssl else "http"
    host = "localhost" if ssl else "127.0.0.1"
    try:
        yield Tool(f"{scheme}://{host}:{port}", store, app, clock, service)
    finally:
        server.should_exit = True
        server.thread.join(timeout=30)
        store.engine.dispose()


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        if tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def form_of(page: str) -> tuple[str, dict]:
    parser = _Form()
    parser.feed(page)
    assert parser.action, page[:500]
    return parser.action, parser.fields


class Browser:
    """Cookies kept, redirects followed, forms posted as the LMS's script would post them."""

    def __init__(self, **kw):
        self.http = httpx.Client(follow_redirects=True, timeout=30.0, **kw)
        self.form: tuple[str, dict] | None = None

    def open_from_lms(self, lms, user: str, link: str = "rl-pa5") -> httpx.Response:
        """The LMS's launch form, after the OIDC login: (action, fields) kept in self.form."""
        r = self.http.get(f"{lms.url}/start", params={"user": user, "link": link})
        assert r.status_code == 200 and "id_token" in r.text, (r.status_code, r.text[:500])
        self.form = form_of(r.text)
        return r

    def post_form(self, fields: dict | None = None) -> httpx.Response:
        action, sent = self.form
        return self.http.post(action, data=fields or sent)

    def launch(self, lms, user: str, link: str = "rl-pa5") -> httpx.Response:
        self.open_from_lms(lms, user, link)
        return self.post_form()

    def csrf(self, page: httpx.Response) -> str:
        return CSRF.search(page.text).group(1)

    def close(self):
        self.http.close()
