"""The Docker backend: each attempt runs the harness in a fresh, locked-down container of the runner image.

This is the only module that imports the docker SDK.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import docker.errors
from docker.types import LogConfig, Ulimit

import docker
from grader.errors import GraderError, SandboxUnavailable
from grader.sandbox.capture import Capture
from grader.sandbox.exits import describe_signal_exit, new_job_dir
from grader.sandbox.protocol import HARNESS
from grader.spec import Limits

IMAGE = "pa5-grader-runner:latest"
OFFLINE_BASE = "pa5-grader-base:bookworm"
DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"
LABEL = "pa5-grader.sandbox"
HARNESS_LABEL = "pa5-grader.harness-sha256"
SANDBOX_UID = 65534  # nobody
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Where the image's numpy and scipy live (Debian's and the python image's layouts); the harness runs with -S.
IMAGE_SITE = [
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3.11/site-packages",
    "/usr/local/lib/python3.12/site-packages",
]


def _client(timeout: int) -> docker.DockerClient:
    """A client of a daemon that answers, or SandboxUnavailable saying where it was looked for."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    why = _unix_socket_problem(where)  # checked here because docker-py leaks a socket when its own probe fails
    client = None
    if not why:
        try:
            client = docker.from_env(timeout=timeout)
            client.ping()
            return client
        except docker.errors.DockerException as e:
            if client is not None:
                client.close()
            why = _short(e)
    raise SandboxUnavailable(f"Docker is not reachable at {where}: start the daemon or use --sandbox process ({why})")


def connect(image: str = IMAGE) -> docker.DockerClient:
    """A client for a reachable daemon that has the runner image, or a clear SandboxUnavailable."""
    client = _client(timeout=30)
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        client.close()
        raise SandboxUnavailable(f"runner image {image} not found: run `pa5-grader image build`") from None
    except docker.errors.DockerException as e:
        client.close()
        raise SandboxUnavailable(f"Docker could not look up the runner image {image}: {_short(e)}") from None
    if found.labels.get(HARNESS_LABEL) != harness_digest():
        client.close()
        raise SandboxUnavailable(
            f"runner image {image} holds another version of the harness: run `pa5-grader image build`"
        )
    return client


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
    client = _client(timeout=600)
    try:
        return _build(client, tag, base, log)
    finally:
        client.close()


def _build(client, tag: str, base: str | None, log) -> str:
    if not DOCKERFILE.is_file():
        raise GraderError(f"no Dockerfile at {DOCKERFILE}: build the image from a checkout of pa5-grader")
    if base is None:
        try:
            client.images.get(OFFLINE_BASE)
            base = OFFLINE_BASE
        except docker.errors.ImageNotFound:
            base = None
    # The build context holds exactly two files, so no reference or grader code can reach the image.
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copyfile(DOCKERFILE, Path(ctx) / "Dockerfile")
        shutil.copyfile(HARNESS, Path(ctx) / "harness.py")
        args = {"BASE_IMAGE": base} if base else {}
        try:
            _, logs = client.images.build(
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
            raise GraderError(f"building {tag} failed: {_short(e)}{hint}") from None
        except docker.errors.APIError as e:
            raise GraderError(f"building {tag} failed: {_short(e)}") from None
    return base or "the Dockerfile default"


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200]


class DockerAttempt:
    def __init__(self, container, memory_mb: int):
        self.container, self.memory_mb = container, memory_mb
        self._code: int | None = None
        self._done = threading.Event()
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self):
        self.oom = False
        try:
            self._code = int(self.container.wait()["StatusCode"])
            if self._code == 137:  # a SIGKILL; read the OOM flag now, before the container is removed
                self.container.reload()
                self.oom = bool(self.container.attrs["State"].get("OOMKilled"))
        except Exception:  # the container vanished: treat as killed
            self._code = 137 if self._code is None else self._code
        self._done.set()

    def poll(self, timeout: float) -> int | None:
        if not self._done.wait(timeout):
            return None
        # Docker reports a signal death as 128 + signal; map it back to the subprocess convention.
        return -(self._code - 128) if self._code > 128 else self._code

    def kill(self) -> None:
        try:
            self.container.kill()
        except docker.errors.APIError:
            pass

    def describe_exit(self, code: int) -> str:
        if self.oom:
            return f"killed: memory limit {self.memory_mb} MiB exceeded"
        return describe_signal_exit(code, self.memory_mb)


class DockerBackend:
    name = "docker"
    isolated = True
    note = "isolated: container without network, read-only root, no capabilities, unprivileged user, resource limits"

    def __init__(self, image: str = IMAGE, client=None):
        self.image = image
        self.client = client or connect(image)
        sweep_leftovers(self.client)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def new_job(self) -> Path:
        return new_job_dir()

    def open(self, job: Path) -> DockerSession:
        # The container runs as nobody: give it the folders it writes to, nothing more.
        for d in ("out", "work", "tmp"):
            p = job / d
            if os.geteuid() == 0:
                os.chown(p, SANDBOX_UID, SANDBOX_UID)
            else:
                p.chmod(0o777)
        return DockerSession(self, job)


class DockerSession:
    def __init__(self, backend: DockerBackend, job: Path):
        self.backend, self.job = backend, job

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> DockerAttempt:
        env = {
            "HOME": "/job/work",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
        }
        env |= {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        fsize = limits.file_size_mb << 20
        try:
            container = self.backend.client.containers.create(
                self.backend.image,
                command=[
                    "python3",
                    "-I",
                    "-S",
                    "-B",
                    "-u",
                    "/opt/pa5/harness.py",
                    "/job",
                    "--calls",
                    ",".join(map(str, calls)),
                    "--path",
                    *IMAGE_SITE,
                ],
                user=f"{SANDBOX_UID}:{SANDBOX_UID}",
                init=True,  # as PID 1 the harness would ignore SIGXCPU and other default-fatal signals
                working_dir="/job/work",
                environment=env,
                network_disabled=True,
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
                volumes={str(self.job): {"bind": "/job", "mode": "rw"}},
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=1_000_000_000,
                pids_limit=limits.max_processes,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                ulimits=[
                    Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds + 1),
                    Ulimit(name="fsize", soft=fsize, hard=fsize),
                    Ulimit(name="nofile", soft=256, hard=256),
                    Ulimit(name="core", soft=0, hard=0),
                ],
                log_config=LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"}),
                labels={LABEL: "1", f"{LABEL}.pid": str(os.getpid())},
                stdin_open=False,
                tty=False,
            )
            container.start()
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"runner image {self.backend.image} not found: run `pa5-grader image build`"
            ) from None
        except docker.errors.APIError as e:
            raise SandboxUnavailable(f"Docker could not start the sandbox container: {_short(e)}") from None

        # attach, not logs(follow=True): following the capped json-file log loses data across its
        # rotation, and the output limit would then never be seen.
        stream = container.attach(stdout=True, stderr=True, stream=True, logs=True)

        def pump():
            try:
                for chunk in stream:
                    capture.feed(chunk)
            except Exception:  # the container went away mid-read
                pass

        attempt = DockerAttempt(container, limits.memory_mb)
        attempt.stream, attempt.reader = stream, threading.Thread(target=pump, daemon=True)
        attempt.reader.start()
        return attempt

    def finish(self, attempt: DockerAttempt) -> None:
        try:
            attempt.container.remove(force=True)
        except docker.errors.APIError:
            pass  # already gone, or swept at the next start by its label
        attempt.reader.join(5)  # the stream ends with the container
        _close_stream(attempt.stream)

    def close(self) -> None:
        pass


def _close_stream(stream) -> None:
    """Close an attach stream for good. docker-py's own close() does nothing once the stream has ended,
    which leaves the hijacked socket open; reach it the way docker-py does and close it."""
    try:
        stream.close()
        fp = getattr(getattr(stream._response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
        if sock is not None:
            sock.close()
        stream._response.close()
    except Exception:  # best effort: a leaked socket is not worth a failed grade
        pass


def sweep_leftovers(client) -> int:
    """Remove containers of ours whose grader process is gone (a crash or kill -9 of an earlier run)."""
    removed = 0
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        pid = c.labels.get(f"{LABEL}.pid", "")
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue
        if pid.isdigit() and int(pid) == os.getpid():
            continue
        try:
            c.remove(force=True)
            removed += 1
        except docker.errors.APIError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
