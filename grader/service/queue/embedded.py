"""Who grades the queue: one small interface, and the embedded pool of worker threads that `serve` runs by default
(in a worker process of its own: grader/service/ops/workers.py)."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from grader.sandbox import Backend
from grader.service.defaults import MARGIN
from grader.service.queue.keeper import Grading, LeaseKeeper, grade_budget, stuck_grace
from grader.service.queue.lifecycle import Lifecycle, worker_id
from grader.service.queue.store import Store
from grader.spec import Spec

log = logging.getLogger("pa5-grader.service")


class Dispatcher(Protocol):
    """Gets committed jobs graded. notify() is only a hint: the job row in the database is the truth."""

    def start(self) -> None: ...
    def notify(self, job_id: int) -> None: ...
    def stop(self) -> None: ...


class NullDispatcher:
    """Accepts and shows, grades nothing (workers elsewhere, or --workers 0)."""

    def start(self) -> None:
        pass

    def notify(self, job_id: int) -> None:
        pass

    def stop(self) -> None:
        pass


class EmbeddedDispatcher:
    """N threads in this process claim jobs with leases and grade them; one lease keeper renews their leases and
    ends any grade past its budget; a recovery thread requeues jobs whose worker (another process) went silent.

    A thread cannot be killed: when a grade past its budget has not come back within the grace, its thread is
    retired (it exits if it ever returns, and its result is discarded since its lease is gone) and a new worker
    thread takes its place, so `workers` threads are always free to grade.
    """

    def __init__(
        self,
        *,
        store: Store,
        backend: Backend,
        spec: Spec,
        secret: bytes,
        tmp_dir: Path,
        workers: int,
        lease_seconds: float,
        recovery_seconds: float = 5.0,
        poll_seconds: float = 1.0,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store, self.backend, self.spec, self.secret, self.tmp_dir = store, backend, spec, secret, tmp_dir
        self.workers, self.lease, self.recovery, self.poll = workers, lease_seconds, recovery_seconds, poll_seconds
        self.prefix = worker_id()
        self.keeper = LeaseKeeper(
            store.leases,
            lease_seconds=lease_seconds,
            budget=grade_budget(spec.limits, margin),
            grace=stuck_grace(margin),
            clock=clock,
            on_stuck=self._replace,
        )
        self.lifecycle = Lifecycle(
            store=store, keeper=self.keeper, backend=backend, spec=spec, secret=secret, tmp_dir=tmp_dir
        )
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._workers: dict[str, threading.Thread] = {}
        self._retired: set[str] = set()
        self._next = 0

    def start(self) -> None:
        for _ in range(self.workers):
            self._start_worker()
        if self.workers:
            self._spawn(self.keeper.run, "keeper", self._stop)
            self._spawn(self._recover, "recover")

    def _spawn(self, fn, name: str, *args) -> threading.Thread:
        t = threading.Thread(target=fn, args=args, name=f"pa5-{name}", daemon=True)
        t.start()
        with self._lock:
            self._threads.append(t)
        return t

    def _start_worker(self) -> None:
        with self._lock:
            name, self._next = f"w{self._next}", self._next + 1
        worker_id = f"{self.prefix}:{name}"
        t = self._spawn(self._work, name, worker_id)
        with self._lock:
            self._workers[worker_id] = t

    def _replace(self, g: Grading) -> None:
        """The keeper's on_stuck: retire the stuck grading's thread and start a worker in its place."""
        with self._lock:
            if g.worker_id in self._retired or self._stop.is_set():
                return
            self._retired.add(g.worker_id)
        log.error("job %s: its grading thread is stuck after the budget; a new worker takes its place", g.claim.job_id)
        self._start_worker()

    def notify(self, job_id: int) -> None:
        with self._wake:
            self._wake.notify()

    def stop(self) -> None:
        """Stop claiming, cancel running grades and hand their jobs back to the queue."""
        self._stop.set()
        for g in self.keeper.held():
            g.cancel.set()
        self.keeper.wake()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + 30
        with self._lock:  # a retired thread is stuck for good (a daemon): never waited for
            stuck = {self._workers[w] for w in self._retired}
            threads = [t for t in self._threads if t not in stuck]
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def _work(self, worker: str) -> None:
        while not self._stop.is_set() and worker not in self._retired:
            try:
                claim = self.lifecycle.claim(worker)
            except Exception:
                log.error("claiming a job failed:\n%s", traceback.format_exc())
                self._stop.wait(self.poll)
                continue
            if claim is None:
                with self._wake:
                    self._wake.wait(self.poll)  # a notify, or a poll for jobs other processes queued
                continue
            self.lifecycle.run(claim, worker, stopping=self._stop.is_set)

    def _recover(self) -> None:
        while not self._stop.is_set():
            try:
                if self.store.leases.requeue_expired():
                    with self._wake:
                        self._wake.notify_all()
            except Exception:
                log.error("requeueing expired jobs failed:\n%s", traceback.format_exc())
            self._stop.wait(self.recovery)
