"""What every backend is: the protocols the runner drives (Backend, Session, Attempt) and their shared close()."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from grader.sandbox.capture import Capture
    from grader.spec import Limits


class Attempt(Protocol):
    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
        """The exit code, or None after `timeout`; with `progress`, also (None) as soon as the harness reports
        progress, where the backend can tell (the template's JOB/events), so the runner need not wait it out."""

    def kill(self) -> None: ...
    def describe_exit(self, code: int) -> str: ...


class Session(Protocol):
    """One submission's use of a backend: any number of attempts, then close()."""

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> Attempt: ...
    def finish(self, attempt: Attempt) -> None: ...
    def close(self) -> None: ...


class Backend(Protocol):
    """A kind of sandbox. Used as a context manager, or closed with close(), which ends what it started."""

    name: str
    isolated: bool
    note: str

    def new_job(self, limits: Limits) -> Path: ...
    def open(self, job: Path) -> Session: ...
    def prestart(self, limits: Limits | None = None) -> None:
        """Start one sandbox now, ahead of its submission (a self-test's start-up overlaps the grader's), under
        `limits` where the caller knows them."""

    def pool(self, size: int, limits: Limits) -> contextlib.AbstractContextManager:
        """Keep up to `size` sandboxes ready for submission after submission, until the context ends."""

    def close(self) -> None: ...
    def __enter__(self) -> Backend: ...
    def __exit__(self, *exc) -> None: ...


class Closing:
    """A backend's context manager: leaving it is close()."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
