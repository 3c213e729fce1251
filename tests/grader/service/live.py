"""A real service for tests: a data folder made by `admin init`, tokens, and uvicorn on a free loopback port."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from grader.service.ops import admin
from grader.service.ops.serve import server_config
from grader.service.ops.settings import ServiceSettings
from grader.service.queue.embedded import EmbeddedDispatcher
from grader.service.queue.store import Store
from grader.service.web.app import create_app
from grader.spec import default_spec
from tests.children import default_signals

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "submissions_example"
STUDENTS = ("alice", "bob", "carol", "dave")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    """A data folder with an instructor token and one token per student in STUDENTS."""

    data: Path
    instructor: str
    tokens: dict[str, str]
    secret: bytes
    url: str = ""
    store: Store | None = None
    settings: ServiceSettings | None = None
    server: uvicorn.Server | None = field(default=None, repr=False)
    dispatcher: EmbeddedDispatcher | None = field(default=None, repr=False)

    def client(self, who: str | None = None, **kw) -> httpx.Client:
        token = self.instructor if who == "instructor" else self.tokens.get(who or "", None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 30.0, **kw})

    def wait_done(self, submission_id: int, timeout: float = 120.0) -> dict:
        with self.client("instructor") as c:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                state = c.get(f"/api/submissions/{submission_id}").json()
                if state["status"] in ("done", "failed", "superseded"):
                    return state
                time.sleep(0.1)
        raise AssertionError(f"submission {submission_id} still {state['status']} after {timeout} s")


def make_data(tmp: Path, students=STUDENTS) -> Service:
    data = tmp / "data"
    made = admin.init(data_dir=data)
    roster = tmp / "roster.csv"
    roster.write_text("student_id\n" + "\n".join(students) + "\n")
    store = admin.open_store(data, None)
    admin.students(store=store, roster=roster, out=tmp / "TOKENS.csv")
    store.engine.dispose()
    with (tmp / "TOKENS.csv").open() as f:
        tokens = {r["student_id"]: r["token"] for r in csv.DictReader(f)}
    return Service(data=data, instructor=made.token, tokens=tokens, secret=made.secret.read_bytes().strip())


@contextmanager
def running(service: Service, *, workers: int = 0, backend=None, spec=None, clock=None, **overrides):
    """Serve the data folder over real HTTP in this process; workers > 0 grade with the given backend; `clock`
    is the calendar's time (a ManualClock in tests of deadlines)."""
    settings = ServiceSettings(data_dir=service.data, sandbox="process", workers=workers, **overrides)
    store = Store(settings.db_url, max_attempts=settings.max_attempts, queue_cap=settings.queue_cap)
    spec = spec or default_spec()
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
    app = create_app(settings, store=store, dispatcher=dispatcher, spec=spec, clock=clock)
    port = free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    service.url, service.store, service.settings, service.server = f"http://127.0.0.1:{port}", store, settings, server
    service.dispatcher = dispatcher
    try:
        yield service
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.engine.dispose()


def release_hidden(service: Service) -> None:
    """Release hidden results at once (`admin assignment --release immediately`): for tests of what a student sees
    once they are out."""
    service.store.course.update_calendar({"release": "immediately"}, now=dt.datetime.now(dt.timezone.utc))


class ManualClock:
    """The calendar's time, set by the test: never a sleep until a deadline."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, now: dt.datetime) -> None:
        self.now = now


def worker_processes(pid: int) -> list[int]:
    """The worker processes (grader/service/ops/workers.py) whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and (b"grader.service.ops.workers" in cmd or b"child_main" in cmd):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@contextmanager
def serve_process(data: Path, *args: str, prelude: str | None = None, env: dict | None = None):
    """A real `pa5-grader serve` subprocess (process sandbox) on a free loopback port: yields (process, url).

    `prelude`: Python run in that process before its command line (a test's stand-in for a misbehaving part)."""
    port = free_port()
    log = open(data.parent / f"serve-{port}.log", "w")  # noqa: SIM115 - closed below, after the process
    main = ["-m", "grader"] if prelude is None else ["-c", f"{prelude}\nfrom grader.cli import cli\ncli()"]
    cmd = [sys.executable, *main, "serve", "--data", str(data), "--port", str(port), "--sandbox", "process"]
    proc = subprocess.Popen(
        [*cmd, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=default_signals,  # stopped with SIGTERM below
        env=None if env is None else {**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (data.parent / f"serve-{port}.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
