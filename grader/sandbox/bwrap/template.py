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
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SandboxUnavailable
from grader.sandbox import reaper, seccomp
from grader.sandbox.base import Closing
from grader.sandbox.bwrap.control import Template
from grader.sandbox.bwrap.forked import ForkSession
from grader.sandbox.bwrap.setup import NAMESPACES, bwrap, filesystem, usable
from grader.sandbox.launch import HARNESS
from grader.sandbox.storage import give, jobs_root, new_job_dir

if TYPE_CHECKING:
    from grader.spec import Limits

INSIDE = [HARNESS, HARNESS.with_name("zygote.py"), HARNESS.with_name("confine.py")]  # /zygote/ in a template


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
            *(
                a
                for f in [*INSIDE, Path("seccomp.bpf")]
                for a in ("--ro-bind", str(files / f.name), f"/zygote/{f.name}")
            ),
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

    def take(self) -> Template:
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

    def prestart(self, limits: Limits | None = None) -> None:
        """Start one template now, so that its imports overlap the grader's start-up (limits come with each
        request: any template serves any limits)."""
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
        template = self.take()
        give(job, template.uid)
        return ForkSession(self, job, template)


def _readable_copy(program: bytes) -> Path:
    """harness.py, zygote.py, confine.py and the seccomp filter where the sandbox's uid can read them (the grader may be
    installed in a folder only its own user can enter): a folder named after their contents, made once."""
    data = {f.name: f.read_bytes() for f in INSIDE} | {"seccomp.bpf": program}
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
