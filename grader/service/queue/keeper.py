"""The one lease keeper of every worker (embedded pool and Celery): renew the leases of running grades, and end a
grade that outlives its budget, whatever it is stuck in."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line reads MARGIN without the database layer
    from grader.service.queue.leases import Claim, Leases
    from grader.spec import Limits

from grader.service.defaults import MARGIN

log = logging.getLogger("pa5-grader.service")
GRACE = 5.0  # after the budget, how long a grading thread has to come back before it counts as stuck
MIN_TICK = 0.05


def grade_budget(limits: Limits, margin: float = MARGIN) -> float:
    """Seconds one grade may take in all: the sandbox's own limit plus what the trusted side does around it."""
    return limits.submission_timeout + margin


def stuck_grace(margin: float = MARGIN) -> float:
    return min(GRACE, margin)


@dataclass(eq=False)
class Grading:
    """One attempt at a job, held by one worker while it grades."""

    claim: Claim
    worker_id: str
    cancel: threading.Event
    started: float
    renewed: float
    over: float | None = None  # when the budget ended it
    stuck: bool = False  # its thread did not come back within the grace after that
    reason: str = field(default="", repr=False)


def end_over_budget(leases: Leases, g: Grading, *, budget: float, now: float) -> bool:
    """The budget rule, the same for every way a job reaches a worker: a grade past its budget ends `failed` with
    the reason (conditionally on its lease, so at most once per attempt), its cancel is set (the runner kills its
    sandbox) and its lease is no longer renewed. True if this call ended it."""
    if g.over is not None:
        return False
    g.over = now
    g.reason = (
        f"grading was stopped after {budget:g} s, its budget (the submission's time limit and a margin for the "
        "grader's own work)"
    )
    try:  # first the job, then the cancel: a grade that comes back at once finds its job ended already
        ended = leases.fail_overdue(g.claim.job_id, g.worker_id, g.claim.attempt, g.reason)
    except Exception:
        log.error("failing the overdue job %s failed:\n%s", g.claim.job_id, traceback.format_exc())
        ended = False
    g.cancel.set()
    if ended:
        log.warning("job %s attempt %s: %s", g.claim.job_id, g.claim.attempt, g.reason)
    return ended


class LeaseKeeper:
    """Holds the gradings of one process; tick() renews each lease every lease/3 and applies the budget rule.

    on_stuck(g) is called once for a grading whose thread has not come back `grace` seconds after its budget ended
    it: the embedded pool then starts a replacement worker, since a thread cannot be killed.
    """

    def __init__(
        self,
        leases: Leases,
        *,
        lease_seconds: float,
        budget: float,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
        on_stuck: Callable[[Grading], None] | None = None,
    ):
        self.leases, self.lease, self.budget, self.grace = leases, lease_seconds, budget, grace
        self.clock, self.on_stuck = clock, on_stuck
        self._held: dict[int, Grading] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def hold(self, claim: Claim, worker_id: str, cancel: threading.Event | None = None) -> Grading:
        now = self.clock()
        g = Grading(claim, worker_id, cancel or threading.Event(), started=now, renewed=now)
        with self._lock:
            self._held[id(g)] = g
        self._wake.set()  # its deadline may be the nearest
        return g

    def drop(self, g: Grading) -> None:
        with self._lock:
            self._held.pop(id(g), None)

    def held(self) -> list[Grading]:
        with self._lock:
            return list(self._held.values())

    def tick(self) -> float:
        """One pass over the held gradings; returns the seconds until the next pass is needed."""
        now = self.clock()
        nearest = self.lease / 3
        for g in self.held():
            if g.over is None and now - g.started >= self.budget:
                end_over_budget(self.leases, g, budget=self.budget, now=now)
            if g.over is not None:
                if not g.stuck and now - g.over >= self.grace:
                    g.stuck = True
                    if self.on_stuck is not None:
                        self.on_stuck(g)
                elif not g.stuck:
                    nearest = min(nearest, g.over + self.grace - now)
                continue  # never renewed again: the job is no longer this worker's
            if now - g.renewed >= self.lease / 3:
                try:
                    if self.leases.renew_lease(g.claim.job_id, g.worker_id, self.lease):
                        g.renewed = now
                    else:
                        g.cancel.set()  # another worker owns it now; stop grading a job we cannot complete
                except Exception:
                    log.error("renewing the lease of job %s failed:\n%s", g.claim.job_id, traceback.format_exc())
            nearest = min(nearest, g.renewed + self.lease / 3 - now, g.started + self.budget - now)
        return max(MIN_TICK, nearest)

    def run(self, stop: threading.Event) -> None:
        """tick() until stop is set; a new hold wakes it early."""
        while not stop.is_set():
            wait = self.tick()
            self._wake.wait(wait)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()
