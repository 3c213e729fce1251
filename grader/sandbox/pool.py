"""A warm pool: sandboxes started ahead of their submissions, each used once and then destroyed.

A backend with a pool hands a ready sandbox to the next `new_job()`; the runner never knows. Usage:

    with backend.pool(size=jobs, limits=spec.limits):
        run_batch(...)            # or the service's workers, each calling grade(...)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Warm(Protocol):
    """One pre-started sandbox, waiting for its job in `job`."""

    job: Path

    def alive(self) -> bool: ...
    def discard(self) -> None: ...


class WarmPool:
    """Keeps `size` sandboxes ready. A ready one that dies while idle is replaced; close() destroys the idle ones.

    `refill=False` starts `size` once and never again (a self-test's single prestart).
    """

    POLL = 0.1

    def __init__(self, spawn: Callable[[], Warm], size: int, *, refill: bool = True):
        self.spawn, self.size, self.refill = spawn, max(0, size), refill
        self.ready: list[Warm] = []
        self.failure: Exception | None = None  # why starting a sandbox failed; grading then starts cold
        self.served = 0  # sandboxes handed out, for tests and benchmarks
        self._cond = threading.Condition()
        self._closed = False
        if refill:
            self._thread = threading.Thread(target=self._keep_filled, name="warm-pool", daemon=True)
            self._thread.start()
        else:
            self._thread = None
            for _ in range(self.size):
                self._add()

    def take(self) -> Warm | None:
        """A ready sandbox, or None (the caller starts one cold) without waiting."""
        with self._cond:
            while self.ready:
                warm = self.ready.pop(0)
                if warm.alive():
                    self.served += 1
                    self._cond.notify()
                    return warm
                warm.discard()
            self._cond.notify()
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self.ready = self.ready, []
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(30)
        for warm in idle:
            warm.discard()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _add(self) -> bool:
        try:
            warm = self.spawn()
        except Exception as e:  # the pool is an optimisation: a failure to pre-start costs speed, not grades
            self.failure = e
            return False
        with self._cond:
            if self._closed:
                warm.discard()
                return False
            self.ready.append(warm)
        return True

    def _keep_filled(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                dead = [w for w in self.ready if not w.alive()]
                self.ready = [w for w in self.ready if w not in dead]
                short = len(self.ready) < self.size
            for w in dead:
                w.discard()
            if short and not self._add():
                if self._closed:
                    return
                with self._cond:
                    self._cond.wait(1.0)  # back off after a failed start
                continue
            with self._cond:
                if not self._closed and len(self.ready) >= self.size:
                    self._cond.wait(self.POLL)


class Pooled:
    """What a backend with warm sandboxes shares: `pool()` and `close_pool()` over its `_spawn_warm(limits)`."""

    _pool: WarmPool | None = None

    def pool(self, size: int, limits) -> WarmPool:
        """Keep `size` sandboxes ready, started with `limits`, until the returned pool is closed."""
        self.close_pool()
        self._pool = WarmPool(lambda: self._spawn_warm(limits), size)
        return self._pool

    def close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
