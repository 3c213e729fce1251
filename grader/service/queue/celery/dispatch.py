"""`serve --broker`: the web side publishes committed jobs to Celery, and a sweeper sends again what went missing."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import traceback

from celery import Celery

from grader.service.queue.celery.app import backlog, publish
from grader.service.queue.db import utcnow
from grader.service.queue.store import Store

log = logging.getLogger("pa5-grader.service")
ALL = 0  # notify(0): "something was queued", e.g. a regrade of everyone
MAX_INTERVAL = 600.0


class CeleryDispatcher:
    """Publishes after commit (notify) from a thread of its own, so a slow broker never holds a request.

    The sweeper, every `sweep_seconds`: puts jobs whose worker stopped renewing its lease back in the queue, and
    sends a message for each queued job that has none recently: one never sent (a crash between commit and
    publish), or one sent `stale_seconds` ago and still unclaimed (a broker restart lost it), unless the broker
    holds as many messages as there are queued jobs. Each job waits twice as long before its next resend, so a
    long but healthy queue is not flooded with duplicates. A job back in the queue (a new attempt) counts as new.
    """

    def __init__(self, *, store: Store, app: Celery, stale_seconds: float = 60.0, sweep_seconds: float = 5.0):
        self.store, self.app = store, app
        self.stale, self.sweep_every = stale_seconds, sweep_seconds
        self._todo: queue.Queue[int] = queue.Queue()
        self._sent: dict[tuple[int, int], tuple[float, float]] = {}  # (job, attempts) -> (sent at, next interval)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._todo.put(ALL)  # after a restart, anything queued may have lost its message: send each once now
        for fn in (self._publisher, self._sweeper):
            t = threading.Thread(target=fn, name=f"pa5-{fn.__name__.strip('_')}", daemon=True)
            t.start()
            self._threads.append(t)

    def notify(self, job_id: int) -> None:
        self._todo.put(job_id)

    def stop(self) -> None:
        self._stop.set()
        self._todo.put(ALL)
        for t in self._threads:
            t.join(timeout=10)

    def _publisher(self) -> None:
        while not self._stop.is_set():
            job_id = self._todo.get()
            if self._stop.is_set():
                return
            try:
                self.sweep(only=None if job_id == ALL else job_id, force=True)
            except Exception:
                log.error("publishing failed:\n%s", traceback.format_exc())

    def _sweeper(self) -> None:
        while not self._stop.wait(self.sweep_every):
            try:
                self.store.leases.requeue_expired()
                self.sweep()
            except Exception:
                log.error("the sweep failed:\n%s", traceback.format_exc())

    def sweep(self, *, only: int | None = None, force: bool = False) -> int:
        """Send the messages that are due (force: every queued job not yet sent for its attempt); returns how many."""
        rows = self.store.queued_jobs(only=only)
        now, stale_before = time.monotonic(), utcnow() - dt.timedelta(seconds=self.stale)
        # As many messages waiting as queued jobs: none is missing, the queue is just long. Resending then would
        # only add no-op messages (each costs a worker a database read), so only first sends go out.
        waiting = backlog(self.app) if rows and only is None else None
        resend = waiting is None or waiting < len(rows)
        sent = 0
        for job_id, priority, attempts, created in ((j.id, j.priority, j.attempts, j.created_at) for j in rows):
            key = (job_id, attempts)
            last = self._sent.get(key)
            # never sent for this attempt: now if asked, or if it came back to the queue, or is old (sent elsewhere?)
            due = (force or attempts > 0 or created < stale_before) if last is None else now - last[0] >= last[1]
            due = due and (resend or last is None)
            if due and publish(self.app, job_id, priority):
                interval = self.stale if last is None else min(2 * last[1], MAX_INTERVAL)
                self._sent[key] = (now, interval)
                sent += 1
        queued = {(j.id, j.attempts) for j in rows}
        if only is None:  # forget jobs that left the queue
            for key in [k for k in self._sent if k not in queued]:
                del self._sent[key]
        return sent
