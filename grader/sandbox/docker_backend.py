"""The Docker backend: each attempt runs the harness in a fresh, locked-down container of the runner image.

This is the only module that imports the docker SDK.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import docker.errors
from docker.types import LogConfig, Ulimit

from grader.errors import SandboxUnavailable
from grader.sandbox.capture import Capture
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.image import IMAGE, IMAGE_HARNESS, IMAGE_SITE, connect, short
from grader.sandbox.launch import JOB_DIRS, harness_argv, new_job_dir, sandbox_env
from grader.spec import Limits

LABEL = "pa5-grader.sandbox"
SANDBOX_UID = 65534  # nobody


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
        return describe_signal_exit(code)


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

    def prestart(self) -> None:
        """Nothing to start early: each attempt creates its own container."""

    def new_job(self) -> Path:
        return new_job_dir()

    def open(self, job: Path) -> DockerSession:
        # The container runs as nobody: give it the folders it writes to, nothing more.
        for d in JOB_DIRS:
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
        env = sandbox_env(job="/job", tmp="/tmp")
        fsize = limits.file_size_mb << 20
        try:
            container = self.backend.client.containers.create(
                self.backend.image,
                command=harness_argv("python3", IMAGE_HARNESS, "/job", calls, IMAGE_SITE),
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
            raise SandboxUnavailable(f"Docker could not start the sandbox container: {short(e)}") from None

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
