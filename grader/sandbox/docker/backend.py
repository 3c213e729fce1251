"""The Docker backend: each attempt runs the harness in a fresh, locked-down container of the runner image.

This is the only module that imports the docker SDK.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import docker.errors
from docker.types import LogConfig, Ulimit

from grader.errors import SandboxUnavailable
from grader.sandbox import seccomp
from grader.sandbox.base import Closing
from grader.sandbox.capture import Capture
from grader.sandbox.docker.image import IMAGE, IMAGE_HARNESS, IMAGE_SITE, connect, short
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.launch import harness_argv, job_request, sandbox_env
from grader.sandbox.pool import Pooled, WarmPool
from grader.sandbox.storage import BOX, BOX_DIRS, box_quota, capped, give, new_job_dir, remove_job
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

    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
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


class DockerBackend(Closing, Pooled):
    name = "docker"
    isolated = True
    note = (
        "isolated: container without network, read-only root but for the job's capped folders, no capabilities, "
        "seccomp filter, unprivileged user, resource limits"
    )

    def __init__(self, image: str = IMAGE, client=None):
        self.image = image
        self.client = client or connect(image)
        sweep_leftovers(self.client)
        self._pool: WarmPool | None = None
        self._taken: dict[Path, DockerWarm] = {}

    def close(self) -> None:
        self.close_pool()
        self.client.close()

    def prestart(self, limits: Limits | None = None) -> None:
        """Nothing to start early without the limits a container is created with; see pool()."""

    def new_job(self, limits: Limits) -> Path:
        warm = self._pool.take() if self._pool is not None else None
        if warm is None:
            return _writable(new_job_dir(limits))
        self._taken[warm.job] = warm
        return warm.job

    def open(self, job: Path) -> DockerSession:
        return DockerSession(self, _writable(job), self._taken.pop(job, None))

    def create(self, job: Path, calls: list[int] | None, limits: Limits):
        """A started container running the harness on `job` (calls=None: waiting for it on stdin)."""
        fsize = limits.file_size_mb << 20
        try:
            container = self.client.containers.create(
                self.image,
                command=harness_argv("python3", IMAGE_HARNESS, "/job", calls, IMAGE_SITE),
                user=f"{SANDBOX_UID}:{SANDBOX_UID}",
                init=True,  # as PID 1 the harness would ignore SIGXCPU and other default-fatal signals
                working_dir="/job/box/work",
                environment=sandbox_env(job="/job", tmp="/tmp"),
                network_disabled=True,
                network_mode="none",
                read_only=True,
                **_mounts(job, limits),
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=1_000_000_000,
                pids_limit=limits.max_processes,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges", f"seccomp={seccomp.docker_profile()}"],
                ulimits=[
                    Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds + 1),
                    Ulimit(name="fsize", soft=fsize, hard=fsize),
                    Ulimit(name="nofile", soft=256, hard=256),
                    Ulimit(name="core", soft=0, hard=0),
                ],
                log_config=LogConfig(type=LogConfig.types.JSON, config={"max-size": "1m", "max-file": "1"}),
                labels={LABEL: "1", f"{LABEL}.pid": str(os.getpid())},
                stdin_open=calls is None,
                tty=False,
            )
            container.start()
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(f"runner image {self.image} not found: run `pa5-grader image build`") from None
        except docker.errors.APIError as e:
            raise SandboxUnavailable(f"Docker could not start the sandbox container: {short(e)}") from None
        return container

    def _spawn_warm(self, limits: Limits) -> DockerWarm:
        job = _writable(new_job_dir(limits))
        try:
            container = self.create(job, None, limits)
        except BaseException:
            remove_job(job)
            raise
        return DockerWarm(job, container, limits)


class DockerWarm:
    """A container whose harness has imported numpy and waits for its job on stdin."""

    def __init__(self, job: Path, container, limits: Limits):
        self.job, self.container, self.limits = job, container, limits
        self.waiter = DockerAttempt(container, limits.memory_mb)

    def alive(self) -> bool:
        return self.waiter.poll(0) is None

    def stop(self) -> None:
        _remove(self.container)

    def discard(self) -> None:
        self.stop()
        remove_job(self.job)

    def hand_over(self, calls: list[int]) -> bool:
        """Send the job; False when the container cannot take it (it died, or stdin would not open)."""
        try:
            sock = self.container.attach_socket(params={"stdin": 1, "stream": 1})
        except docker.errors.APIError:
            return False
        raw = getattr(sock, "_sock", sock)  # docker-py hands out a SocketIO over the hijacked socket
        try:
            raw.sendall(job_request("/job", calls))
            return True
        except OSError:
            return False
        finally:  # all three, in this order, or the socket outlives its use
            sock.close()
            raw.close()
            try:
                sock._response.close()
            except (AttributeError, OSError, ValueError):  # http.client flushes the closed socket
                pass


class DockerSession:
    def __init__(self, backend: DockerBackend, job: Path, warm: DockerWarm | None = None):
        self.backend, self.job, self.warm = backend, job, warm

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> DockerAttempt:
        warm, self.warm = self.warm, None
        container = attempt = stream = None
        if warm is not None and warm.limits == limits:
            # Attached before the job goes in: Docker replays the log, then streams, and what the container
            # printed between the two was lost (a student's first print, now and then). A warm harness prints
            # nothing until it has its job.
            stream = _attach(warm.container)
            if stream is not None and warm.hand_over(calls):
                container, attempt = warm.container, warm.waiter
            elif stream is not None:
                _close_stream(stream)
        if container is None:
            if warm is not None:
                warm.stop()
            container = self.backend.create(self.job, calls, limits)
            attempt = DockerAttempt(container, limits.memory_mb)
            stream = _attach(container)
            if stream is None:
                _remove(container)
                raise SandboxUnavailable("Docker could not attach to the sandbox container's output")

        def pump():
            try:
                for chunk in stream:
                    capture.feed(chunk)
            except Exception:  # the container went away mid-read
                pass

        attempt.stream, attempt.reader = stream, threading.Thread(target=pump, daemon=True)
        attempt.reader.start()
        return attempt

    def finish(self, attempt: DockerAttempt) -> None:
        _remove(attempt.container)
        attempt.reader.join(5)  # the stream ends with the container
        _close_stream(attempt.stream)

    def close(self) -> None:
        if self.warm is not None:  # never started
            self.warm.stop()
            self.warm = None


def _writable(job: Path) -> Path:
    """The container runs as nobody: give it box/ and its folders, nothing more."""
    give(job, SANDBOX_UID if os.geteuid() == 0 else None)
    if os.geteuid() != 0:
        for d in [job / BOX, *(job / BOX / d for d in BOX_DIRS)]:
            d.chmod(0o777)
    return job


def _mounts(job: Path, limits: Limits) -> dict:
    """The job read-only at /job, its box read-write, and the box's folders as /tmp and /dev/shm; without a
    capped box (no mount privileges here), capped tmpfs mounts for all but out/. /dev/pts is covered: no ptys."""
    volumes = {str(job): {"bind": "/job", "mode": "ro"}, str(job / BOX): {"bind": "/job/box", "mode": "rw"}}
    tmpfs = {"/dev/pts": "ro,nosuid,nodev,noexec,size=4k"}
    if capped(job):
        volumes[str(job / BOX / "tmp")] = {"bind": "/tmp", "mode": "rw"}
        volumes[str(job / BOX / "shm")] = {"bind": "/dev/shm", "mode": "rw"}
    else:
        size, inodes = box_quota(limits)
        for target in ("/tmp", "/dev/shm", "/job/box/work"):
            tmpfs[target] = f"rw,nosuid,nodev,size={size},nr_inodes={inodes},uid={SANDBOX_UID},mode=0700"
    return {"volumes": volumes, "tmpfs": tmpfs}


def _remove(container) -> None:
    """Remove the container, killing it; one already gone (or that Docker refuses) is left to the sweep of
    labelled containers at the next start."""
    with contextlib.suppress(docker.errors.APIError):
        container.remove(force=True)


def _attach(container):
    """The container's output, from its start and then as it comes; None if Docker refuses (it is gone).
    attach, not logs(follow=True): following the capped json-file log loses data across its rotation, and the
    output limit would then never be seen."""
    try:
        return container.attach(stdout=True, stderr=True, stream=True, logs=True)
    except docker.errors.APIError:
        return None


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
