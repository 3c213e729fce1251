"""Running student code out of process: the backend protocol, and choosing a backend by name.

The host side lives here (runner, protocol, storage, the backends in bwrap/, docker/ and process.py); what
runs inside a sandbox lives in inside/ (stdlib and numpy only). The docker SDK is imported only when Docker
is chosen.
"""

from __future__ import annotations

import logging
import os

from grader.errors import GraderError, SandboxUnavailable
from grader.sandbox.base import Attempt, Backend, Closing, Session

log = logging.getLogger("pa5-grader")

__all__ = ["BACKENDS", "Attempt", "Backend", "Closing", "Session", "make_backend"]

BACKENDS = ("auto", "bwrap", "docker", "process")


def make_backend(
    name: str,
    *,
    python: str | None = None,
    image: str | None = None,
    process_fallback: bool = False,
    single: bool = False,
):
    """The backend called `name`: the one rule for choosing a sandbox. `auto` is bwrap where it works, else Docker.
    With `process_fallback`, bwrap else the process backend, whose report says it is not isolated: for a
    self-test (`check`), and inside a container that is itself the isolation and is thrown away after one
    submission (Gradescope's); grading elsewhere never falls back to it.
    `single`: for one submission (`check`, `grade`), where a template's preloads would only add start-up time."""
    if name == "auto":
        return _auto(python=python, image=image, process_fallback=process_fallback, single=single)
    if name == "process":
        from grader.sandbox.process import ProcessBackend

        return ProcessBackend(python=python)
    if name == "bwrap":
        return _bwrap(python, single)
    if name == "docker":
        from grader.sandbox.docker.backend import DockerBackend
        from grader.sandbox.docker.image import IMAGE

        return DockerBackend(image=image or IMAGE)
    raise GraderError(f"unknown sandbox {name!r}: choose one of {', '.join(BACKENDS)}")


def _auto(*, python: str | None, image: str | None, process_fallback: bool, single: bool):
    try:
        return make_backend("bwrap", python=python, single=single)
    except SandboxUnavailable as e:
        no_bwrap = str(e)
    if process_fallback:
        log.info("pa5-grader: %s; using the process sandbox instead", no_bwrap)
        return make_backend("process", python=python)
    try:
        return make_backend("docker", image=image)
    except SandboxUnavailable as e:
        raise SandboxUnavailable(
            f"no isolating sandbox works here. {no_bwrap}. And {e}. "
            "Fix either one (or pass --sandbox process for a trusted self-test only)"
        ) from None


def _bwrap(python: str | None, single: bool):
    """Sandboxes forked from a pre-imported template where the kernel lets a bwrap sandbox make namespaces
    of its own; else, for a single submission, or with PA5_BWRAP_TEMPLATE=0, a fresh bwrap sandbox per run
    (an interpreter start and its imports each time, only those the student's code asks for)."""
    from grader.sandbox.bwrap.fresh import BwrapBackend
    from grader.sandbox.bwrap.template import ForkBackend

    if single or os.environ.get("PA5_BWRAP_TEMPLATE") == "0":
        return BwrapBackend(python=python)
    try:
        return ForkBackend(python=python)
    except SandboxUnavailable:
        return BwrapBackend(python=python)  # raises in turn, with the cause, where bwrap cannot run at all
