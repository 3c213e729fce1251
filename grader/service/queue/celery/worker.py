"""`pa5-grader worker`: Celery pool processes that claim jobs under leases and grade them through the one lifecycle.

A message names a job. If that job is no longer queued (done, failed, superseded, or held by a live lease) the
task does nothing: redelivery is harmless. Otherwise the process claims the first queued job in the database's
order (new before regrade, oldest first: the embedded pool's order) and, if that was another job, sends the
named one a fresh message. Completion is conditional on the lease, so every submission gets exactly one report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.service.defaults import LEASE_SECONDS, MARGIN
from grader.service.queue.keeper import LeaseKeeper, grade_budget, stuck_grace
from grader.service.queue.lifecycle import Lifecycle, worker_id

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
    margin: float = MARGIN  # seconds a grade may run past the spec's submission_timeout


_config: WorkerConfig | None = None
_local: dict = {}  # this process's store, backend and id; rebuilt after a fork


def configure(config: WorkerConfig) -> None:
    global _config
    _config = config


def _context() -> dict:
    if _local.get("pid") != os.getpid():
        from grader.sandbox import make_backend
        from grader.service.queue.store import Store
        from grader.spec import load_spec

        assert _config is not None, "the worker was not configured"
        spec, stack = load_spec(_config.spec_path), contextlib.ExitStack()
        backend = stack.enter_context(make_backend(_config.sandbox))
        stack.enter_context(backend.pool(1, spec.limits))  # one started sandbox waits for the next job (bwrap, docker)
        store = Store(_config.database_url)
        keeper = LeaseKeeper(
            store.leases,
            lease_seconds=_config.lease_seconds,
            budget=grade_budget(spec.limits, _config.margin),
            grace=stuck_grace(_config.margin),
        )  # no on_stuck: a grade stuck past the budget meets the task's time limits (celery_app.time_limits)
        from celery.exceptions import SoftTimeLimitExceeded

        lifecycle = Lifecycle(
            store=store,
            keeper=keeper,
            backend=backend,
            spec=spec,
            secret=_config.secret,
            tmp_dir=_config.tmp_dir,
            overdue=(SoftTimeLimitExceeded,),
        )
        stop = threading.Event()
        threading.Thread(target=keeper.run, args=(stop,), name="pa5-keeper", daemon=True).start()
        stack.callback(stop.set)
        stack.callback(keeper.wake)
        _local.clear()
        _local.update(
            pid=os.getpid(),
            store=store,
            spec=spec,
            stack=stack,
            backend=backend,
            keeper=keeper,
            lifecycle=lifecycle,
            worker_id=worker_id(),
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
    from grader.service.queue.celery.app import publish

    ctx = _context()
    store = ctx["store"]
    state = store.job_state(job_id)
    if state is None or state[0] != "queued":
        return f"job {job_id} is {state[0] if state else 'unknown'}: nothing to do"
    claim = ctx["lifecycle"].claim(ctx["worker_id"])
    if claim is None:
        return f"job {job_id} was taken meanwhile; the queue is empty"
    if claim.job_id != job_id:  # an earlier job came first; the named one still needs a message
        publish(task.app, job_id, state[1])
    ended = ctx["lifecycle"].run(claim, ctx["worker_id"])
    if ended.status == "queued":  # the grader failed on it: tried again, by whichever worker gets the message
        publish(task.app, claim.job_id, claim.priority)
    if ended.status == "done":
        return f"job {claim.job_id}: done, {ended.detail}"
    return f"job {claim.job_id}: {ended.status}" + (f" ({ended.detail})" if ended.detail else "")


def run_worker(
    *,
    database_url: str,
    broker_url: str,
    sandbox: str,
    concurrency: int,
    spec_path: Path | None,
    secret: bytes,
    lease_seconds: float = LEASE_SECONDS,
    margin: float = MARGIN,
    loglevel: str = "INFO",
) -> None:
    """Check the database, the broker and the spec, then consume until stopped (SIGTERM finishes running grades)."""
    from celery import signals

    from grader.service.queue.celery.app import QUEUE, TASK, check_broker, make_app
    from grader.service.queue.store import Store
    from grader.spec import load_spec

    spec = load_spec(spec_path)
    from grader.service.ops.admin import upgrade_command

    store = Store(database_url)
    try:
        store.ping()  # StoreUnavailable names the URL with its password hidden
        store.require_schema(fix=f"run `{upgrade_command(None, database_url)}` first")
    finally:
        store.engine.dispose()
    app = make_app(broker_url, spec, margin=margin)
    app.task(name=TASK, bind=True)(grade_task)
    check_broker(app, broker_url)
    tmp = Path(tempfile.gettempdir()) / f"pa5-grader-worker-{os.getpid()}"
    tmp.mkdir(mode=0o700, exist_ok=True)
    configure(WorkerConfig(database_url, sandbox, spec_path, secret, lease_seconds, tmp, margin))
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
