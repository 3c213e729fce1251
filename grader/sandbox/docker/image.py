"""The Docker runner image: its tag, where its numpy lives, building it, and a daemon that has it.

The docker SDK (about 0.1 s to import) is imported by the functions that talk to the daemon, so
reading the tag stays cheap for the command line.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from grader.errors import GraderError, SandboxUnavailable
from grader.sandbox.launch import HARNESS

IMAGE = os.environ.get("PA5_RUNNER_IMAGE", "pa5-grader-runner:latest")  # the tag to build and run
OFFLINE_BASE = "pa5-grader-base:bookworm"
DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"
HARNESS_LABEL = "pa5-grader.harness-sha256"
IMAGE_HARNESS = "/opt/pa5/harness.py"
# Where the image's numpy and scipy live (Debian's and the python image's layouts); the harness runs with -S.
IMAGE_SITE = [
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3.11/site-packages",
    "/usr/local/lib/python3.12/site-packages",
]


def client(timeout: int):
    """A client of a daemon that answers, or SandboxUnavailable saying where it was looked for."""
    import docker.errors  # binds `docker` too

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    why = _unix_socket_problem(where)  # checked here because docker-py leaks a socket when its own probe fails
    found = None
    if not why:
        try:
            found = docker.from_env(timeout=timeout)
            found.ping()
            return found
        except docker.errors.DockerException as e:
            if found is not None:
                found.close()
            why = short(e)
    raise SandboxUnavailable(f"Docker is not reachable at {where}: start the daemon or use --sandbox process ({why})")


def connect(image: str = IMAGE):
    """A client for a reachable daemon that has the runner image, or a clear SandboxUnavailable."""
    import docker.errors

    c = client(timeout=30)
    try:
        found = c.images.get(image)
    except docker.errors.ImageNotFound:
        c.close()
        raise SandboxUnavailable(f"runner image {image} not found: run `pa5-grader image build`") from None
    except docker.errors.DockerException as e:
        c.close()
        raise SandboxUnavailable(f"Docker could not look up the runner image {image}: {short(e)}") from None
    if found.labels.get(HARNESS_LABEL) != harness_digest():
        c.close()
        raise SandboxUnavailable(
            f"runner image {image} holds another version of the harness: run `pa5-grader image build`"
        )
    return c


def _unix_socket_problem(url: str) -> str:
    if not url.startswith("unix://"):
        return ""
    path = url[len("unix://") :]
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError as e:
            return e.strerror or type(e).__name__
    return ""


def harness_digest() -> str:
    return hashlib.sha256(HARNESS.read_bytes()).hexdigest()


def build_image(*, tag: str = IMAGE, base: str | None = None, log=print) -> str:
    """Build the runner image from the Dockerfile and the harness alone; returns the base image used.

    Without `base`, uses the offline base (docker/build-base-image.sh) when it exists locally,
    else the Dockerfile's public default.
    """
    c = client(timeout=600)
    try:
        return _build(c, tag, base, log)
    finally:
        c.close()


def _build(c, tag: str, base: str | None, log) -> str:
    import docker.errors

    if not DOCKERFILE.is_file():
        raise GraderError(f"no Dockerfile at {DOCKERFILE}: build the image from a checkout of pa5-grader")
    if base is None:
        try:
            c.images.get(OFFLINE_BASE)
            base = OFFLINE_BASE
        except docker.errors.ImageNotFound:
            base = None
    # The build context holds exactly two files, so no reference or grader code can reach the image.
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copyfile(DOCKERFILE, Path(ctx) / "Dockerfile")
        shutil.copyfile(HARNESS, Path(ctx) / "harness.py")
        args = {"BASE_IMAGE": base} if base else {}
        try:
            _, logs = c.images.build(
                path=ctx,
                tag=tag,
                buildargs=args,
                pull=False,
                rm=True,
                forcerm=True,
                labels={HARNESS_LABEL: harness_digest()},
            )
            for entry in logs:
                if "stream" in entry and entry["stream"].strip():
                    log(entry["stream"].rstrip())
        except docker.errors.BuildError as e:
            hint = (
                ""
                if base
                else f" (no registry? build an offline base first: docker/build-base-image.sh {OFFLINE_BASE})"
            )
            raise GraderError(f"building {tag} failed: {short(e)}{hint}") from None
        except docker.errors.APIError as e:
            raise GraderError(f"building {tag} failed: {short(e)}") from None
    return base or "the Dockerfile default"


def short(e: Exception) -> str:
    """The first line of a docker SDK error, capped."""
    return str(e).splitlines()[0][:200]
