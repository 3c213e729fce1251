"""Starting the service, the one bootstrap for both dispatchers: checks that fail fast with a clear message, then
uvicorn."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
from pathlib import Path

from grader.errors import GraderError
from grader.service.course.clock import CLOCK_ENV, clock_from_env
from grader.service.ops.admin import open_store
from grader.service.ops.secret import service_secret
from grader.service.ops.settings import ServiceSettings
from grader.service.queue.embedded import EmbeddedDispatcher, NullDispatcher
from grader.service.web.app import create_app
from grader.spec import load_spec

log = logging.getLogger("pa5-grader.service")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, *, public: bool) -> None:
    if not is_loopback(host) and not public:
        raise GraderError(
            f"refusing to listen on {host}: the service speaks plain HTTP, so tokens and submissions would cross "
            "the network unencrypted. Put it behind a TLS reverse proxy and pass --public, or keep --host 127.0.0.1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise GraderError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def grading_secret(settings: ServiceSettings) -> bytes:
    """--secret-file (agreeing with DATA/secret), else DATA/secret from `admin init`, else $PA5_GRADER_SECRET."""
    return service_secret(
        data_dir=settings.data_dir, secret_file=settings.secret_file, insecure_default=settings.insecure_default_secret
    )


def serve(*, settings: ServiceSettings, host: str, port: int, public: bool, log_level: str = "info", on_ready=None):
    """Run until interrupted, with either dispatcher: the embedded pool, or Celery workers elsewhere (`--broker`).
    Everything that can be wrong is checked before the port opens. on_ready(description) is called then."""
    import uvicorn

    check_bind(host, port, public=public)
    store = open_store(
        settings.data_dir, settings.database_url, max_attempts=settings.max_attempts, queue_cap=settings.queue_cap
    )
    spec = load_spec(settings.spec_path)
    clock = clock_from_env()  # checked before the port opens, like the rest
    if os.environ.get(CLOCK_ENV):
        log.warning("%s is set: the calendar's time is read from %s (for tests only)", CLOCK_ENV, os.environ[CLOCK_ENV])
    settings.tmp_dir.mkdir(exist_ok=True, mode=0o700)
    _sweep_tmp(settings.tmp_dir)
    with _dispatcher(settings, store, spec) as (dispatcher, description):
        app = create_app(settings, store=store, dispatcher=dispatcher, spec=spec, clock=clock)
        if on_ready:
            on_ready(description)
        uvicorn.Server(server_config(app, host=host, port=port, log_level=log_level)).run()


def server_config(app, *, host: str, port: int, log_level: str = "info"):
    """uvicorn's settings for the service (`serve`, and the tests' servers): uvloop's event loop where installed
    (the `service` extra; a deadline burst's uploads cost the server about 30% less CPU than on asyncio's), and h11
    always: httptools, which uvicorn's `auto` would take where installed, reads a request's headers without a
    limit (152 MB of them into one connection, here), where h11 refuses them past 16 KiB with a 400."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", server_header=False, http="h11", loop="auto"
    )


@contextlib.contextmanager
def _dispatcher(settings: ServiceSettings, store, spec):
    """(who grades, in words): Celery workers elsewhere (needs no sandbox and no secret here), else the embedded
    pool in a worker process of its own (workers.py)."""
    if settings.broker_url:
        from grader.service.queue.celery.app import check_broker, hide_password, make_app
        from grader.service.queue.celery.dispatch import CeleryDispatcher

        app = make_app(settings.broker_url, spec, margin=settings.grade_margin)
        check_broker(app, settings.broker_url)
        yield (
            CeleryDispatcher(store=store, app=app, stale_seconds=settings.resend_seconds),
            (f"jobs go to {hide_password(settings.broker_url)}"),
        )
        return
    if not settings.workers:
        yield NullDispatcher(), "no workers: submissions wait for workers elsewhere"
        return
    from grader.service.ops.workers import WorkerProcess

    workers = WorkerProcess(settings, spec, grading_secret(settings))
    description = workers.open()
    try:
        yield workers, description
    finally:
        workers.stop()  # the app's lifespan stops it too; this ends it if the app never started


@contextlib.contextmanager
def embedded_pool(settings: ServiceSettings, store, spec, secret: bytes):
    """(the embedded pool, in words), with its sandboxes, one warm per worker: what the worker process runs."""
    from grader.sandbox import make_backend

    with make_backend(settings.sandbox) as backend, _warm(backend, settings, spec):
        if not backend.isolated:
            log.warning("sandbox %s: %s", backend.name, backend.note)
        dispatcher = EmbeddedDispatcher(
            store=store,
            backend=backend,
            spec=spec,
            secret=secret,
            tmp_dir=settings.tmp_dir,
            workers=settings.workers,
            lease_seconds=settings.lease_seconds,
            recovery_seconds=settings.recovery_seconds,
            margin=settings.grade_margin,
        )
        yield dispatcher, f"sandbox {backend.name}, {settings.workers} worker(s)"


def _warm(backend, settings: ServiceSettings, spec):
    """A started sandbox waiting for each worker, so a job skips the interpreter's start-up (bwrap, docker)."""
    if settings.warm_pool:
        return backend.pool(settings.workers, spec.limits)
    return contextlib.nullcontext()


def _sweep_tmp(tmp: Path) -> None:
    """Folders left by a process that was killed mid-upload or mid-grade; nothing in them is needed. One that
    cannot be removed is logged and left (remove_tree never raises): it must never stop the service starting."""
    from grader.sandbox.jobfiles import remove_tree

    for p in tmp.iterdir():
        if p.name.startswith(("upload-", "job-")) and not remove_tree(p):
            log.warning("could not remove the leftover %s; remove it by hand", p)
