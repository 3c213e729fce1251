"""The one way a job goes through a worker, whoever hands it over (the embedded pool or a Celery task):
claim, hold (the keeper renews the lease and applies the budget), grade with the one failure policy, then
complete, retry or release. The two dispatchers differ only in how a job reaches them and what they do after."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import heap
from grader.sandbox import Backend
from grader.sandbox.calls import Cancelled
from grader.service.access.uploads import unpack_files
from grader.service.queue.keeper import LeaseKeeper, end_over_budget
from grader.service.queue.leases import Claim
from grader.service.queue.store import Store
from grader.spec import Spec
from grader.workflows.outcome import Graded, grade_or_zero

log = logging.getLogger("pa5-grader.service")


def worker_id(name: str = "") -> str:
    """The one scheme of worker ids: host, process, a random part (a restarted process is a new worker), a name."""
    base = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    return f"{base}:{name}" if name else base


def run_job(
    *,
    files_zip: bytes,
    student_id: str,
    secret: bytes,
    spec: Spec,
    backend: Backend,
    tmp_dir: Path,
    cancel: threading.Event | None = None,
) -> Graded:
    """Unpack the stored files into a temporary folder and grade them, as `pa5-grader grade` would."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="job-") as d:
        folder = Path(d) / "submission"
        unpack_files(files_zip, folder)
        return grade_or_zero(
            submission=folder, student_id=student_id, secret=secret, spec=spec, backend=backend, cancel=cancel
        )


@dataclass(frozen=True)
class Ended:
    """How one attempt ended: done, queued (to be tried again), failed, released, stopped (lease lost or over its
    budget) or lost (the lease was gone when the result came back)."""

    status: str
    detail: str = ""


class Lifecycle:
    """Claim → hold → grade → complete, for one process's workers. `overdue`: exceptions that mean the grade ran out
    of time outside the keeper's reach (Celery's soft time limit); they get the keeper's budget rule."""

    def __init__(
        self,
        *,
        store: Store,
        keeper: LeaseKeeper,
        backend: Backend,
        spec: Spec,
        secret: bytes,
        tmp_dir: Path,
        overdue: tuple[type[BaseException], ...] = (),
    ):
        self.store, self.keeper, self.backend, self.spec = store, keeper, backend, spec
        self.secret, self.tmp_dir, self.overdue = secret, tmp_dir, overdue

    def claim(self, worker: str) -> Claim | None:
        return self.store.leases.claim_next(worker, self.keeper.lease)

    def run(self, claim: Claim, worker: str, *, stopping: Callable[[], bool] = lambda: False) -> Ended:
        """Grade a claimed job to its end; `stopping`: the process is shutting down (a cancel hands the job back)."""
        leases = self.store.leases
        g = self.keeper.hold(claim, worker)
        try:
            graded = run_job(
                files_zip=claim.files_zip,
                student_id=claim.student_id,
                secret=self.secret,
                spec=self.spec,
                backend=self.backend,
                tmp_dir=self.tmp_dir,
                cancel=g.cancel,
            )
        except Cancelled:
            if stopping() and leases.release_job(claim.job_id, worker):
                return Ended("released", "handed back: the worker is stopping")
            log.warning("job %s: stopped (lease lost or over its budget)", claim.job_id)
            return Ended("stopped", g.reason or "lease lost")
        except self.overdue:  # the keeper ended it already, unless its thread could not: the same rule
            end_over_budget(leases, g, budget=self.keeper.budget, now=self.keeper.clock())
            return Ended("failed", g.reason)
        except Exception as e:  # the grader's own set-up (a sandbox that cannot start): retried, then failed
            log.error("job %s attempt %s failed:\n%s", claim.job_id, claim.attempt, traceback.format_exc())
            reason = f"{e.__class__.__name__}: {e}"
            return Ended(leases.fail_or_retry(claim.job_id, worker, reason) or "lost", reason)
        finally:
            self.keeper.drop(g)
            heap.trim()  # a worker grades job after job: what one freed goes back to the system
        if graded.grader_failed:  # retried; failed for good, a new submission keeps the zero report saying so
            status = leases.fail_or_retry(claim.job_id, worker, graded.reason, zero=graded.report)
            return Ended(status or "lost", graded.reason)
        if not leases.complete_job(claim.job_id, worker, graded.report):
            log.warning("job %s: lease lost before completion; its report was discarded", claim.job_id)
            return Ended("lost", "lease lost before completion")
        return Ended("done", f"score {graded.report.score:g}")
