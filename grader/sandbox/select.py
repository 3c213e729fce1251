"""Choosing a backend by name; the docker SDK is imported only when Docker is chosen."""

from __future__ import annotations

from grader.errors import GraderError

BACKENDS = ("process", "docker")


def make_backend(name: str, *, python: str | None = None, image: str | None = None):
    if name == "process":
        from grader.sandbox.process import ProcessBackend

        return ProcessBackend(python=python)
    if name == "docker":
        from grader.sandbox.docker_backend import DockerBackend
        from grader.sandbox.image import IMAGE

        return DockerBackend(image=image or IMAGE)
    raise GraderError(f"unknown sandbox {name!r}: choose one of {', '.join(BACKENDS)}")
