"""The bwrap backend with a pre-imported template: each harness run is a fork, in namespaces of its own.

A template is a bubblewrap sandbox running zygote.py: an interpreter that has imported numpy and
scipy.signal and never runs student code. For every attempt it forks a child that unshares user, mount,
PID, network, IPC and UTS namespaces, sees only its own job folder, drops every capability and runs the
harness (see zygote.py). A template serves one submission at a time and then the next; nothing of one
submission survives into the next but the template's own memory, which no student code ever ran in.

The student's output comes back through a FIFO in the job folder; the template's stdout carries only
`ready` and `exit CODE`. When the template misbehaves it is destroyed and replaced, never trusted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SandboxUnavailable
from grader.sandbox import reaper, seccomp
from grader.sandbox.base import Closing
from grader.sandbox.bwrap.setup import NAMESPACES, bwrap, filesystem, ids, usable
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.launch import HARNESS, rlimits, sandbox_env
from grader.sandbox.storage import box_quota, capped, give, jobs_root, new_job_dir

if TYPE_CHECKING:
    from grader.sandbox.capture import Capture
    from grader.spec import Limits

ZYGOTE = HARNESS.with_name("zygote.py")
START_SECONDS = 30  # for a template to import numpy and scipy and say `ready`
SETUP_FAILED = 71  # zygote.py's exit code when a child could not build its sandbox
WAKE_GAP = 0.002  # the least time between two wake-ups on a harness's progress


class TemplateDied(Exception):
    pass


class Template:
    """One zygote sandbox and its control pipes."""

    def __init__(self, command: list[str], uid: int | None, numbers: dict[str, int]):
        self.uid, self.buffer, self.broken, self.ready = uid, b"", False, False
        # A file, not a pipe: nobody reads it until the template fails, and a full pipe would block a writer.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the template; closed in destroy)
        self.proc = subprocess.Popen(
            command,
            cwd="/",
            env=sandbox_env(job="/job", tmp="/tmp"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            start_new_session=True,
            preexec_fn=seccomp.new_session_keyring(numbers),  # not the grader's: each run then makes its own
            **ids(uid),
        )

    def wait_ready(self) -> None:
        """Once: wait for its `ready` (numpy and scipy imported); SandboxUnavailable, and destroyed, if it fails."""
        if self.ready:
            return
        try:
            line = self.line(START_SECONDS)
        except TemplateDied:
            line = None
        if line != "ready":
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
            err = self.stderr()
            self.destroy()
            raise SandboxUnavailable(f"the bwrap template did not start ({err or line or 'no answer'})")
        self.ready = True

    def line(self, timeout: float, wake: int | None = None) -> str | None:
        """The next control line, None after `timeout` (or as soon as `wake`, a non-blocking fd, has bytes,
        which are read); TemplateDied when its stdout closed, or when its bwrap has exited (checked every
        0.1 s: what that bwrap started may still hold the pipe)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        watched = [fd] if wake is None else [fd, wake]
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select.select(watched, [], [], min(left, 0.1))[0]
            if not ready:
                if self.proc.poll() is not None:
                    self.broken = True
                    raise TemplateDied()
                continue
            if fd not in ready:
                _drain(wake)
                return None
            data = os.read(fd, 4096)
            if not data:
                self.broken = True
                raise TemplateDied()
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def send(self, message: dict) -> bool:
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            self.broken = True
            return False

    def stderr(self) -> str:
        """The last line the template (or a child that failed to set up) wrote to its stderr."""
        self.errors.seek(max(0, os.fstat(self.errors.fileno()).st_size - 8000))
        lines = self.errors.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else ""

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def destroy(self) -> None:
        self.broken = True
        reaper.kill_group(self.proc)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.errors):
            f.close()
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.release_uid(self.uid)
            self.uid = None


class ForkBackend(Closing):
    """bwrap sandboxes forked from pre-imported templates: about 10 ms per attempt instead of an interpreter
    start and its numpy and scipy imports. Up to `pool()` size templates, one per concurrent submission."""

    name = "bwrap"
    isolated = True
    note = (
        "isolated: bubblewrap namespaces (user, pid, net, ipc, uts, mount) made fresh for each run by a fork "
        "of a pre-imported template, read-only file system but for the job's capped folders, no capabilities, "
        "seccomp filter, own session keyring, rlimits"
    )

    def __init__(self, python: str | None = None):
        self.root, python = usable(python, nested=True)
        fs, sites = filesystem(python)
        program, self.numbers = seccomp.compiled()
        files = _readable_copy(program)
        # The template must make user namespaces for its children, so no --disable-userns here;
        # each child sets user.max_user_namespaces to 0 in its own before any student code runs.
        self.command = [
            bwrap(),
            *NAMESPACES,
            *fs,
            *("--bind", str(jobs_root()), "/jobs"),
            *("--dir", "/job", "--dir", "/tmp"),  # mount points for each run's own
            *("--ro-bind", str(files / "harness.py"), "/zygote/harness.py"),
            *("--ro-bind", str(files / "zygote.py"), "/zygote/zygote.py"),
            *("--ro-bind", str(files / "seccomp.bpf"), "/zygote/seccomp.bpf"),
            *("--remount-ro", "/", "--remount-ro", "/dev"),  # both belong to the sandbox's uid otherwise
            "--",
            *(
                python,
                "-I",
                "-S",
                "-B",
                "-u",
                "/zygote/zygote.py",
                "--syscalls",
                json.dumps(self.numbers),
                "--path",
                *sites,
            ),
        ]
        self._idle: list[Template] = []
        self._lock = threading.Lock()
        self._closed = False
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="template-spawner")

    def _spawn(self) -> Template:
        """A new template, started but perhaps not ready yet. Started from the backend's own long-lived thread:
        bwrap's --die-with-parent follows the thread that started it, and grading threads come and go."""
        return self._spawner.submit(self._start).result()

    def _start(self) -> Template:
        uid = reaper.allocate_uid() if self.root else None
        try:
            return Template(self.command, uid, self.numbers)
        except BaseException:
            if uid is not None:
                reaper.release_uid(uid)
            raise

    def _take(self) -> Template:
        """An idle template, ready; else a new one (SandboxUnavailable when even a new one cannot start)."""
        while True:
            with self._lock:
                template = self._idle.pop() if self._idle else None
            if template is None:
                break
            if template.alive():
                try:
                    template.wait_ready()
                except SandboxUnavailable:  # it died starting: a new one says why, if it fails too
                    continue
                if template.alive():
                    return template
            template.destroy()
        template = self._spawn()
        template.wait_ready()
        return template

    def _put(self, template: Template) -> None:
        with self._lock:
            if template.alive() and not self._closed:
                self._idle.append(template)
                return
        template.destroy()

    def prestart(self) -> None:
        """Start one template now, so that its imports overlap the grader's start-up."""
        self.pool(1, None)

    def pool(self, size: int, limits: Limits | None) -> contextlib.AbstractContextManager:
        """Start up to `size` templates now, side by side, without waiting for them; they serve submission after
        submission until close_pool() (on leaving the returned context). Limits come with each request, so
        any template serves any limits."""
        with self._lock:
            missing = max(0, size - len(self._idle))
        started = []
        for _ in range(missing):
            try:
                started.append(self._spawn())
            except OSError:  # an optimisation only: open() starts one and reports the cause
                break
        with self._lock:
            self._idle += started
        return contextlib.closing(_ClosePool(self))

    def close_pool(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for template in idle:
            template.destroy()

    def close(self) -> None:
        self._closed = True
        self.close_pool()
        self._spawner.shutdown(wait=False)

    def new_job(self, limits: Limits) -> Path:
        return new_job_dir(limits)

    def open(self, job: Path) -> ForkSession:
        if job.parent != jobs_root():
            raise ValueError(f"{job} is not in the jobs folder the templates see")
        template = self._take()
        give(job, template.uid)
        return ForkSession(self, job, template)


def _readable_copy(program: bytes) -> Path:
    """harness.py, zygote.py and the seccomp filter where the sandbox's uid can read them (the grader may be
    installed in a folder only its own user can enter): a folder named after their contents, made once."""
    data = {f.name: f.read_bytes() for f in (HARNESS, ZYGOTE)} | {"seccomp.bpf": program}
    digest = hashlib.sha256(b"".join(data[k] for k in sorted(data))).hexdigest()[:16]
    folder = jobs_root() / f"template-{digest}"
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=".template-", dir=jobs_root()))
        for name, content in data.items():
            (tmp / name).write_bytes(content)
            (tmp / name).chmod(0o644)
        tmp.chmod(0o755)
        try:
            tmp.rename(folder)
        except OSError:  # another grader made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


class _ClosePool:
    def __init__(self, backend: ForkBackend):
        self.close = backend.close_pool


def _fifo(path: Path, uid: int | None) -> tuple[int, int]:
    """A FIFO the sandbox writes and the grader reads: (read end, a write end held until the run ends, so the
    reader sees no early end of file)."""
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)
    if uid is not None:
        os.chown(path, uid, uid)
    read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    return read_fd, os.open(path, os.O_WRONLY)


def _drain(fd: int) -> None:
    """One read, never a loop: student code may write there as fast as it can."""
    with contextlib.suppress(BlockingIOError):
        os.read(fd, 1 << 16)


class ForkAttempt:
    def __init__(self, template: Template, fifos: list[int], stream, reader: threading.Thread, events: int):
        self.template, self.fifos, self.stream, self.reader, self.events = template, fifos, stream, reader, events
        self.code: int | None = None
        self.woke = 0.0

    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
        """The exit code, None after `timeout`; with `progress`, None also as soon as the harness reports
        progress (JOB/events), but at most every WAKE_GAP: student code can write there too."""
        if self.code is None:
            try:
                line = self._line(timeout) if progress else self.template.line(timeout)
            except TemplateDied:
                line = f"exit {128 + 9}"
            if line is None:
                return None
            if not line.startswith("exit "):  # not a line the template writes: never trust it again
                self.template.broken = True
                line = f"exit {128 + 9}"
            code = int(line.split()[1])
            self.code = -(code - 128) if code > 128 else code
        return self.code

    def _line(self, timeout: float) -> str | None:
        quiet = min(timeout, self.woke + WAKE_GAP - time.monotonic())
        if quiet > 0:
            line = self.template.line(quiet)
            if line is not None or quiet >= timeout:
                return line
            timeout -= quiet
        t = time.monotonic()
        line = self.template.line(timeout, self.events)
        if line is None and time.monotonic() < t + timeout:  # woken by progress
            self.woke = time.monotonic()
        return line

    def kill(self) -> None:
        if self.code is None and not self.template.send({"kill": True}):
            self.template.destroy()

    def describe_exit(self, code: int) -> str:
        if code == SETUP_FAILED:
            return "the sandbox could not be set up for this run"
        return describe_signal_exit(code)


class ForkSession:
    def __init__(self, backend: ForkBackend, job: Path, template: Template):
        self.backend, self.job, self.template = backend, job, template

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> ForkAttempt:
        if not self.template.alive():  # it died or was destroyed in an earlier attempt
            self.template.destroy()
            self.template = self.backend._take()
            give(self.job, self.template.uid)
        read_fd, write_fd = _fifo(self.job / "stdout", self.template.uid)
        events, events_writer = _fifo(self.job / "events", self.template.uid)  # see harness.py's _Progress
        os.set_blocking(read_fd, True)
        stream = os.fdopen(read_fd, "rb", buffering=0)
        reader = capture.drain(stream)
        pairs = rlimits(limits, count_processes=self.template.uid is not None)
        request = {
            "job": self.job.name,
            "calls": calls,
            "rlimits": [[w, s, h] for w, (s, h) in pairs],
            "quota": None if capped(self.job) else box_quota(limits),
        }
        attempt = ForkAttempt(self.template, [write_fd, events, events_writer], stream, reader, events)
        if not self.template.send(request):
            attempt.code = -9
        return attempt

    def finish(self, attempt: ForkAttempt) -> None:
        if attempt.poll(0) is None:
            attempt.kill()
            if attempt.poll(5) is None:  # it would not end: the template goes
                self.template.destroy()
        for fd in attempt.fifos:
            os.close(fd)
        attempt.reader.join(5)
        attempt.stream.close()
        for name in ("stdout", "events"):
            (self.job / name).unlink(missing_ok=True)

    def close(self) -> None:
        template, self.template = self.template, None
        if template is not None:
            self.backend._put(template)
