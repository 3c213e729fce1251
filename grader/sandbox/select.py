"""Choosing a backend by name; the docker SDK is imported only when Docker is chosen."""

from __future__ import annotations

from grader.errors import GraderError, SandboxUnavailable

BACKENDS = ("auto", "bwrap", "docker", "process")


def make_backend(name: str, *, python: str | None = None, image: str | None = None, self_test: bool = False):
    """The backend called `name`. `auto` is bwrap where it works, else Docker; for a self-test (`self_test`),
    bwrap else the process backend, whose report says it is not isolated. Grading never falls back to it."""
    if name == "auto":
        return _auto(python=python, image=image, self_test=self_test)
    if name == "process":
        from grader.sandbox.process import ProcessBackend

        return ProcessBackend(python=python)
    if name == "bwrap":
        from grader.sandbox.bwrap import BwrapBackend

        return BwrapBackend(python=python)
    if name == "docker":
        from grader.sandbox.docker_backend import DockerBackend
        from grader.sandbox.image import IMAGE

        return DockerBackend(image=image or IMAGE)
    raise GraderError(f"unknown sandbox {name!r}: choose one of {', '.join(BACKENDS)}")


def _auto(*, python: str | None, image: str | None, self_test: bool):
    try:
        return make_backend("bwrap", python=python)
    except SandboxUnavailable as e:
        no_bwrap = str(e)
    if self_test:
        return make_backend("process", python=python)
    try:
        return make_backend("docker", image=image)
    except SandboxUnavailable as e:
        raise SandboxUnavailable(
            f"no isolating sandbox works here. {no_bwrap}. And {e}. "
            "Fix either one (or pass --sandbox process for a trusted self-test only)"
        ) from None
