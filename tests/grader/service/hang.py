"""A grade that hangs on the trusted side where cancel cannot reach: the sandbox backend blocks in open().

This stands in for any trusted-side hang (a blocking read, a stuck library call) without depending on one: the
service must free the worker anyway, by the budget rule (grader/service/queue/keeper.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

MARK = "# pa5-test: hang on the trusted side"


def hangs(job: Path) -> bool:
    try:
        return MARK in (job / "submission" / "backprop.py").read_text()
    except OSError:
        return False


class HangingBackend:
    """The wrapped backend, except that open() of a job whose submission carries MARK blocks until `release` is
    set, whatever the grade's cancel says."""

    def __init__(self, inner, release: threading.Event):
        self.inner, self.release = inner, release
        self.hung: list[Path] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def open(self, job: Path):
        if hangs(job):
            self.hung.append(job)
            self.release.wait()
        return self.inner.open(job)


# Run in a real `pa5-grader serve`'s worker process before it starts: the same hang in the process backend, for ever.
HANG = f"""
import threading
from grader.sandbox import process
_open = process.ProcessBackend.open
def _hanging_open(self, job):
    try:
        marked = {MARK!r} in (job / "submission" / "backprop.py").read_text()
    except OSError:
        marked = False
    if marked:
        threading.Event().wait()
    return _open(self, job)
process.ProcessBackend.open = _hanging_open
"""

# The worker process's program with HANG first; and, run in a real `pa5-grader serve` before its command line, the
# prelude that makes serve start its worker process (workers.py) with it.
HANGING_WORKERS = HANG + "import sys\nfrom grader.service.ops.workers import child_main\nsys.exit(child_main())\n"
SERVE_PRELUDE = f"""
import sys
from grader.service.ops import workers
workers.CHILD = [sys.executable, "-c", {HANGING_WORKERS!r}]
"""
