"""How the grader learns of a bwrap run's progress without polling: JOB/events, a FIFO the harness writes a byte
to after each progress line (harness.py's _Progress), read at most once per WAKE_GAP, since student code can
write there too. Shared by the fresh sandbox (fresh.py) and the template's forked runs (forked.py)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

WAKE_GAP = 0.002  # the least time between two wake-ups on a harness's progress

T = TypeVar("T")


def fifo(path: Path, uid: int | None) -> tuple[int, int]:
    """A FIFO the sandbox writes and the grader reads: (read end, non-blocking; a write end held until the run
    ends, so the reader sees no early end of file)."""
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)
    if uid is not None:
        os.chown(path, uid, uid)
    read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    return read_fd, os.open(path, os.O_WRONLY | os.O_CLOEXEC)


def drain(fd: int) -> None:
    """One read of what is there, never a loop: student code may write as fast as it can."""
    with contextlib.suppress(BlockingIOError):
        os.read(fd, 1 << 16)


class Wakeups:
    """One run's wake-ups on progress, at most one per WAKE_GAP."""

    def __init__(self):
        self.last = 0.0

    def wait(
        self, timeout: float, quiet: Callable[[float], T | None], listening: Callable[[float], T | None]
    ) -> T | None:
        """How the run ended, or None after `timeout` or on progress. `quiet(t)`: the end within t, or None;
        `listening(t)`: the same, but None as soon as progress comes (its byte drained). Within WAKE_GAP of the
        last wake-up only `quiet` waits."""
        gap = min(timeout, self.last + WAKE_GAP - time.monotonic())
        if gap > 0:
            ended = quiet(gap)
            if ended is not None or gap >= timeout:
                return ended
            timeout -= gap
        t = time.monotonic()
        ended = listening(timeout)
        if ended is None and time.monotonic() < t + timeout:  # woken by progress
            self.last = time.monotonic()
        return ended
