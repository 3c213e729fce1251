"""`pa5-grader worker`: Celery pool processes that claim jobs under leases and grade them with the service's run_job.

A message names a job. If that job is no longer queued (done, failed, superseded, or held by a live lease) the
task does nothing: redelivery is harmless. Otherwise the process claims the first queued job in the database's
order (new before regrade, oldest first: the embedded pool's order) and, if that was another job, sends the
named one a fresh message. Completion is conditional on the lease, so every submission gets exactly one report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

log = logging.getLogger("pa5-grader.worker")
UID_STRIDE = 1000  # each pool process takes sandbox uids from its own range (allocation is per process)


@dataclass
class WorkerConfig:
    """What every pool process needs; set in the parent before the pool forks. The secret never goes over the broker."""

    database_url: str
    sandbox: str
    spec_path: Path | None
    secret: bytes = field(repr=False)
    lease_seconds: float
    tmp_dir: Path


_config: WorkerConfig | None = None
_local: dict = {}  # this process's store, backend and id; rebuilt after a fork


def configure(config: WorkerConfig) -> None:
    global _config
    _config = config


def _context() -> dict:
    if _local.get("pid") != os.getpid():
        from grader.sandbox import make_backend
        from grader.service.store import Store
        from grader.spec import load_spec

        assert _config is not None, "the worker was not configured"
        spec, stack = load_spec(_config.spec_path), contextlib.ExitStack()
        backend = stack.enter_context(make_backend(_config.sandbox))
        stack.enter_context(backend.pool(1, spec.limits))  # one started sandbox waits for the next job (bwrap, docker)
        _local.clear()
        _local.update(
            pid=os.getpid(),
            store=Store(_config.database_url),
            spec=spec,
            stack=stack,
            backend=backend,
            worker_id=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}",
        )
    return _local


def process_init(index: int) -> None:
    """In a new pool process: its own sandbox uid range, then its store and backend."""
    from grader.sandbox import reaper

    reaper.UID_BASE += UID_STRIDE * (index + 1)
    _context()


def process_shutdown() -> None:
    if _local.get("pid") == os.getpid():
        _local["stack"].close()
        _local["store"].engine.dispose()
        _local.clear()


def grade_task(task, job_id: int) -> str:
    """The body of the pa5.grade task (bound: `task.app` publishes)."""
    from grader.service.celery_app import publish
    from grader.service.db import Job

    ctx = _context()
    store = ctx["store"]
    with store.session() as s:
        row = s.execute(select(Job.status, Job.priority).where(Job.id == job_id)).first()
    if row is None or row.status != "queued":
        return f"job {job_id} is {row.status if row else 'unknown'}: nothing to do"
    claim = store.claim_next(ctx["worker_id"], _config.lease_seconds)
    if claim is None:
        return f"job {job_id} was taken meanwhile; the queue is empty"
    if claim.job_id != job_id:  # an earlier job came first; the named one still needs a message
        publish(task.app, job_id, row.priority)
    return _grade(task.app, ctx, claim)


def _grade(app, ctx: dict, claim) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    from grader.sandbox.calls import Cancelled
    from grader.service.worker import run_job

    store, worker_id = ctx["store"], ctx["worker_id"]
    cancel, done = threading.Event(), threading.Event()
    renewer = threading.Thread(target=_renew, args=(store, claim.job_id, worker_id, cancel, done), daemon=True)
    renewer.start()
    try:
        report = run_job(
            files_zip=claim.files_zip,
            student_id=claim.student_id,
            secret=_config.secret,
            spec=ctx["spec"],
            backend=ctx["backend"],
            tmp_dir=_config.tmp_dir,
            cancel=cancel,
        )
    except Cancelled:
        log.warning("job %s: lease lost; another worker grades it", claim.job_id)
        return f"job {claim.job_id}: lease lost"
    except SoftTimeLimitExceeded:
        return _retry(app, store, claim, worker_id, "grading ran past the task's time limit")
    except Exception as e:  # a grader failure: retried, and failed with this reason after max attempts
        log.error("job %s attempt %s failed:\n%s", claim.job_id, claim.attempt, traceback.format_exc())
        return _retry(app, store, claim, worker_id, f"{e.__class__.__name__}: {e}")
    finally:
        done.set()
        renewer.join()
    if not store.complete_job(claim.job_id, worker_id, report):
        log.warning("job %s: lease lost before completion; its report was discarded", claim.job_id)
        return f"job {claim.job_id}: lease lost before completion"
    return f"job {claim.job_id}: done, score {report.score:g}"


def _retry(app, store, claim, worker_id: str, error: str) -> str:
    from grader.service.celery_app import publish

    status = store.fail_or_retry(claim.job_id, worker_id, error)
    if status == "queued":
        publish(app, claim.job_id, 0 if claim.kind == "new" else 1)
    return f"job {claim.job_id}: {status or 'lease lost'} ({error})"


def _renew(store, job_id: int, worker_id: str, cancel: threading.Event, done: threading.Event) -> None:
    while not done.wait(_config.lease_seconds / 3):
        try:
            if not store.renew_lease(job_id, worker_id, _config.lease_seconds):
                cancel.set()  # another worker owns it now: stop grading a job this one cannot complete
                return
        except Exception:
            log.error("renewing the lease of job %s failed:\n%s", job_id, traceback.format_exc())


def run_worker(
    *,
    database_url: str,
    broker_url: str,
    sandbox: str,
    concurrency: int,
    spec_path: Path | None,
    secret: bytes,
    lease_seconds: float = 60.0,
    loglevel: str = "INFO",
) -> None:
    """Check the database, the broker and the spec, then consume until stopped (SIGTERM finishes running grades)."""
    from celery import signals

    from grader.service.celery_app import QUEUE, check_broker, make_app
    from grader.service.store import Store
    from grader.spec import load_spec

    spec = load_spec(spec_path)
    from grader.service.admin import upgrade_command

    store = Store(database_url)
    try:
        store.ping()  # StoreUnavailable names the URL with its password hidden
        store.require_schema(fix=f"run `{upgrade_command(None, database_url)}` first")
    finally:
        store.engine.dispose()
    app = make_app(broker_url, spec)
    check_broker(app, broker_url)
    tmp = Path(tempfile.gettempdir()) / f"pa5-grader-worker-{os.getpid()}"
    tmp.mkdir(mode=0o700, exist_ok=True)
    configure(WorkerConfig(database_url, sandbox, spec_path, secret, lease_seconds, tmp))
    signals.worker_process_init.connect(lambda **_: process_init(_pool_index()), weak=False)
    signals.worker_process_shutdown.connect(lambda **_: process_shutdown(), weak=False)
    name = f"pa5-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            *("worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "-Q", QUEUE, "-n", name),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ]
    )


def _pool_index() -> int:
    from billiard.process import current_process

    return getattr(current_process(), "index", 0) or 0
