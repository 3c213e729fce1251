"""The bubblewrap backend: the harness in new user, PID, network, IPC, UTS and mount namespaces, with rlimits.

The sandbox sees /usr, its interpreter and numpy/scipy read-only, a private /tmp, its own /proc and
/dev, and the job folder read-only but for out/. Run as root, bwrap itself runs as a throwaway uid,
so the kernel counts that uid's processes (the process limit holds) and root's files stay root's.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox import reaper, seccomp
from grader.sandbox.base import Closing
from grader.sandbox.bwrap.setup import bwrap, filesystem, job_mounts, namespaces, usable
from grader.sandbox.bwrap.wakeups import Wakeups, drain, fifo
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.launch import HARNESS, harness_argv, job_request, rlimits, sandbox_env
from grader.sandbox.pool import Pooled, WarmPool
from grader.sandbox.storage import give, new_job_dir, remove_job

if TYPE_CHECKING:
    from grader.sandbox.capture import Capture
    from grader.spec import Limits


class BwrapAttempt:
    def __init__(self, proc: subprocess.Popen, events: _Events | None = None):
        self.proc, self.events = proc, events
        self.reader = None
        self.wakeups = Wakeups()

    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
        """The exit code, or None after `timeout`; with `progress`, None also as soon as the harness reports
        progress (JOB/events), but at most every WAKE_GAP."""
        if progress and self.events is not None and self.proc.returncode is None:
            if not self._exited(timeout):
                return None
            timeout = 0
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # bwrap reports its child's death by a signal as 128 + signal; map it back to the subprocess convention.
        return -(code - 128) if code > 128 else code

    def _exited(self, timeout: float) -> bool:
        """Whether the sandbox exits within `timeout`; False also on progress, but not within WAKE_GAP of the
        last wake-up on it."""
        ended = self.wakeups.wait(
            timeout,
            lambda t: True if self.events.wait(t, progress=False) else None,
            lambda t: True if self.events.wait(t, progress=True) else None,
        )
        return ended is True

    def kill(self) -> None:
        reaper.kill_group(self.proc)  # --die-with-parent and the PID namespace take everything inside with it

    def describe_exit(self, code: int) -> str:
        return describe_signal_exit(code)


class _Events:
    """JOB/events, a FIFO the harness writes a byte to after each progress line (harness.py's _Progress), watched
    together with the sandbox's pidfd, so the grader wakes on progress or exit without polling."""

    def __init__(self, job: Path, uid: int | None):
        self.path = job / "events"
        self.fd, self.hold = fifo(self.path, uid)
        self.pidfd: int | None = None

    def watch(self, proc: subprocess.Popen) -> bool:
        """Watch `proc`'s exit too; False where this kernel or Python has no pidfd (then: no wake-ups)."""
        try:
            self.pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            return False
        return True

    def wait(self, timeout: float, *, progress: bool) -> bool | None:
        """True once the sandbox has exited, False after `timeout`; with `progress`, None when the harness wrote
        (one read of what is there, never a loop: student code may write as fast as it can)."""
        watched = [self.pidfd, self.fd] if progress else [self.pidfd]
        ready = select.select(watched, [], [], max(0.0, timeout))[0]
        if self.pidfd in ready:
            return True
        if self.fd in ready:
            drain(self.fd)
            return None
        return False

    def close(self) -> None:
        for fd in (self.fd, self.hold, self.pidfd):
            if fd is not None:
                os.close(fd)
        self.path.unlink(missing_ok=True)


class BwrapWarm:
    """A sandbox started ahead of its job: the harness has imported numpy and waits on stdin."""

    def __init__(self, job: Path, proc: subprocess.Popen, uid: int | None, limits: Limits | None):
        self.job, self.proc, self.uid, self.limits = job, proc, uid, limits

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Kill it, keeping its job folder and uid (a session took them over)."""
        reaper.kill_group(self.proc)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()

    def discard(self) -> None:
        """Kill it and free its job folder and uid (it was never handed a job)."""
        self.stop()
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.release_uid(self.uid)
        remove_job(self.job)


class BwrapBackend(Closing, Pooled):
    name = "bwrap"
    isolated = True
    note = (
        "isolated: bubblewrap namespaces (user, pid, net, ipc, uts), read-only file system but for the job's "
        "capped folders, no capabilities, seccomp filter, own session keyring, rlimits"
    )

    def __init__(self, python: str | None = None):
        self.root, python = usable(python)
        self.python, self.program, self.options = python, bwrap(), namespaces()
        self.fs, self.sites = filesystem(python)
        self.filter, self.numbers = seccomp.compiled()
        self._pool: WarmPool | None = None
        self._taken: dict[Path, BwrapWarm] = {}

    def close(self) -> None:
        self.close_pool()

    def prestart(self, limits: Limits | None = None) -> None:
        """Start one sandbox now, so its numpy import overlaps the grader's start-up: under `limits` where they are
        known, else with its limits set by prlimit when it gets its job. As root the sandbox runs as a throwaway
        uid, and setting another uid's limits needs CAP_SYS_RESOURCE, which root often lacks in a container: there
        it is started only with its limits."""
        if self._pool is None and (limits is not None or not self.root):
            self._pool = WarmPool(lambda: self._spawn_warm(limits), 1, refill=False)

    def new_job(self, limits: Limits) -> Path:
        warm = self._pool.take() if self._pool is not None else None
        if warm is None:
            return new_job_dir(limits)
        self._taken[warm.job] = warm
        return warm.job

    def open(self, job: Path) -> BwrapSession:
        warm = self._taken.pop(job, None)
        uid = warm.uid if warm is not None else (reaper.allocate_uid() if self.root else None)
        give(job, uid)
        return BwrapSession(self, job, uid, warm)

    def command(self, job: Path, calls: list[int] | None, limits: Limits | None, filter_fd: int) -> list[str]:
        argv = harness_argv(self.python, "/job/harness.py", "/job", calls, self.sites)
        mounts = job_mounts(job, limits)
        return [self.program, *self.options, *self.fs, *mounts, "--seccomp", str(filter_fd), "--", *argv]

    def spawn(self, job: Path, calls: list[int] | None, uid: int | None, limits: Limits | None) -> subprocess.Popen:
        pairs = rlimits(limits, count_processes=uid is not None) if limits is not None else []
        keyring = seccomp.new_session_keyring(self.numbers)

        def apply():  # in the child, before bwrap and so before any student code
            keyring()
            for which, pair in pairs:
                resource.setrlimit(which, pair)

        filter_fd = seccomp.bpf_fd()
        try:
            return subprocess.Popen(
                self.command(job, calls, limits, filter_fd),
                cwd="/",
                env=sandbox_env(job="/job", tmp="/tmp"),
                stdin=subprocess.PIPE if calls is None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=apply,
                pass_fds=(filter_fd,),
                **reaper.ids(uid),
            )
        finally:
            os.close(filter_fd)

    def _spawn_warm(self, limits: Limits | None) -> BwrapWarm:
        job = new_job_dir(limits)
        shutil.copyfile(HARNESS, job / "harness.py")
        uid = reaper.allocate_uid() if self.root else None
        try:
            give(job, uid)
            return BwrapWarm(job, self.spawn(job, None, uid, limits), uid, limits)
        except BaseException:
            if uid is not None:
                reaper.release_uid(uid)
            remove_job(job)
            raise


class BwrapSession:
    def __init__(self, backend: BwrapBackend, job: Path, uid: int | None, warm: BwrapWarm | None):
        self.backend, self.job, self.uid, self.warm = backend, job, uid, warm
        self.events: _Events | None = None

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> BwrapAttempt:
        warm, self.warm = self.warm, None
        self._close_events()
        events = _Events(self.job, self.uid)  # before the harness looks for it
        try:
            proc = _hand_over(warm, self.job, calls, limits) if warm is not None else None
            if proc is None:
                proc = self.backend.spawn(self.job, calls, self.uid, limits)
        except BaseException:
            events.close()
            raise
        attempt = BwrapAttempt(proc, events if events.watch(proc) else None)
        attempt.reader = capture.drain(proc.stdout)
        self.events = events
        return attempt

    def finish(self, attempt: BwrapAttempt) -> None:
        reaper.kill_group(attempt.proc)
        if self.uid is not None:
            reaper.kill_uid(self.uid)
        attempt.proc.wait()
        attempt.reader.join(5)
        attempt.proc.stdout.close()
        if attempt.proc.stdin:
            attempt.proc.stdin.close()
        self._close_events()

    def _close_events(self) -> None:
        events, self.events = self.events, None
        if events is not None:
            events.close()

    def close(self) -> None:
        self._close_events()
        if self.warm is not None:  # never started: the job failed before its first attempt
            self.warm.stop()
            self.warm = None
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.release_uid(self.uid)
            self.uid = None


def _hand_over(warm: BwrapWarm, job: Path, calls: list[int], limits: Limits) -> subprocess.Popen | None:
    """Give a waiting sandbox its job; None (and the sandbox destroyed) when it cannot take these limits."""
    proc = warm.proc
    if warm.limits != limits:
        try:
            if warm.limits is not None:
                raise PermissionError("started with other limits")
            done: set[int] = set()
            for _ in range(2):  # twice: a fork in flight during the first pass inherits nothing yet
                for pid in set(_tree(proc.pid)) - done:
                    for which, pair in rlimits(limits, count_processes=warm.uid is not None):
                        resource.prlimit(pid, which, pair)
                    done.add(pid)
        except (PermissionError, ProcessLookupError):
            warm.stop()
            return None
    try:
        proc.stdin.write(job_request("/job", calls))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it died while waiting; the runner sees it exit
    return proc


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants: bwrap, its pid 1 inside the sandbox, and the harness."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            todo += [int(k) for k in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    return out
