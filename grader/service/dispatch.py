"""Who grades the queue: one small interface, and the embedded pool of worker threads that `serve` runs by default."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import traceback
from pathlib import Path
from typing import Protocol

from grader.sandbox import Backend
from grader.sandbox.calls import Cancelled
from grader.service.store import Store
from grader.service.worker import run_job
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
    """N threads in this process claim jobs with leases, renew them while grading, and requeue expired ones."""

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
    ):
        self.store, self.backend, self.spec, self.secret, self.tmp_dir = store, backend, spec, secret, tmp_dir
        self.workers, self.lease, self.recovery, self.poll = workers, lease_seconds, recovery_seconds, poll_seconds
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._held: dict[int, tuple[str, threading.Event]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        loops = [(self._work, f"w{i}") for i in range(self.workers)]
        if self.workers:
            loops += [(self._renew, "renew"), (self._recover, "recover")]
        for fn, name in loops:
            t = threading.Thread(target=fn, args=(f"{self.prefix}:{name}",), name=f"pa5-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self, job_id: int) -> None:
        with self._wake:
            self._wake.notify()

    def stop(self) -> None:
        """Stop claiming, cancel running grades and hand their jobs back to the queue."""
        self._stop.set()
        with self._lock:
            for _, cancel in self._held.values():
                cancel.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=30)

    def _work(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                claim = self.store.claim_next(worker_id, self.lease)
            except Exception:
                log.error("claiming a job failed:\n%s", traceback.format_exc())
                self._stop.wait(self.poll)
                continue
            if claim is None:
                with self._wake:
                    self._wake.wait(self.poll)  # a notify, or a poll for jobs other processes queued
                continue
            cancel = threading.Event()
            with self._lock:
                self._held[claim.job_id] = (worker_id, cancel)
            try:
                self._grade(worker_id, claim, cancel)
            finally:
                with self._lock:
                    self._held.pop(claim.job_id, None)

    def _grade(self, worker_id: str, claim, cancel: threading.Event) -> None:
        try:
            report = run_job(
                files_zip=claim.files_zip,
                student_id=claim.student_id,
                secret=self.secret,
                spec=self.spec,
                backend=self.backend,
                tmp_dir=self.tmp_dir,
                cancel=cancel,
            )
        except Cancelled:
            if self._stop.is_set():
                self.store.release_job(claim.job_id, worker_id)
            else:
                log.warning("job %s: lease lost; another worker will grade it", claim.job_id)
            return
        except Exception as e:  # a grader failure: the job retries, and fails with this reason after max attempts
            log.error("job %s attempt %s failed:\n%s", claim.job_id, claim.attempt, traceback.format_exc())
            self.store.fail_or_retry(claim.job_id, worker_id, f"{e.__class__.__name__}: {e}")
            return
        if not self.store.complete_job(claim.job_id, worker_id, report):
            log.warning("job %s: lease lost before completion; its report was discarded", claim.job_id)

    def _renew(self, _name: str) -> None:
        while not self._stop.wait(self.lease / 3):
            with self._lock:
                held = list(self._held.items())
            for job_id, (worker_id, cancel) in held:
                try:
                    if not self.store.renew_lease(job_id, worker_id, self.lease):
                        cancel.set()  # someone else owns it now; stop grading a job we cannot complete
                except Exception:
                    log.error("renewing the lease of job %s failed:\n%s", job_id, traceback.format_exc())

    def _recover(self, _name: str) -> None:
        while not self._stop.is_set():
            try:
                if self.store.requeue_expired():
                    with self._wake:
                        self._wake.notify_all()
            except Exception:
                log.error("requeueing expired jobs failed:\n%s", traceback.format_exc())
            self._stop.wait(self.recovery)
