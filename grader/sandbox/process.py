"""The process backend: a subprocess with rlimits, a scrubbed environment and, under root, its own user.

For self-tests only. Run as an ordinary user it is not isolated: the student's code can read
whatever that user can. Run as root, each sandbox gets a uid of its own, so its processes can be
killed to the last and its stray files swept.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SandboxUnavailable
from grader.sandbox import reaper, seccomp
from grader.sandbox.base import Closing
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.launch import HARNESS, harness_argv, job_request, rlimits, sandbox_env
from grader.sandbox.siteview import python_unusable, site_view
from grader.sandbox.storage import BOX, give, new_job_dir, remove_job

if TYPE_CHECKING:
    from grader.sandbox.capture import Capture
    from grader.spec import Limits


class ProcessAttempt:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.reader: threading.Thread | None = None

    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        reaper.kill_group(self.proc)

    def describe_exit(self, code: int) -> str:
        return describe_signal_exit(code)


class ProcessBackend(Closing):
    """Subprocess sandbox. Under root it runs student code as a throwaway uid when that user can run
    the interpreter; otherwise (or when not root) as the caller, which is weaker, and the note says so."""

    name = "process"
    isolated = False

    def __init__(self, python: str | None = None, throwaway_uid: bool | None = None):
        """`throwaway_uid`: None chooses (yes when root and that user can run the interpreter); False never."""
        self.python = python or os.environ.get("PA5_SANDBOX_PYTHON") or sys.executable
        self.drop = False
        why = ""
        if os.geteuid() == 0 and throwaway_uid is not False:
            why = python_unusable(self.python, reaper.UID_BASE)
            self.drop = not why
        if self.drop:
            detail = "Runs as a throwaway uid with rlimits, but shares the file system and network."
        elif os.geteuid() == 0:
            detail = (
                f"Runs as root, because an unprivileged user cannot run {self.python} ({why}); "
                "set PA5_SANDBOX_PYTHON to a Python with numpy outside /root to get a throwaway uid."
            )
        else:
            detail = "Student code runs as you and can read your files, environment and other processes."
        try:
            self.filter: tuple[bytes, dict[str, int]] | None = seccomp.compiled()
        except SandboxUnavailable as e:
            self.filter, detail = None, f"{detail} No seccomp filter: {e}."
        self.note = "not isolated: do not use for untrusted code. " + detail

    _warm: _Warm | None = None

    def close(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:  # started but never used
            reaper.kill_group(warm.proc)
            warm.proc.wait()
            warm.proc.stdin.close()
            warm.proc.stdout.close()
            remove_job(warm.job)

    def prestart(self, limits: Limits | None = None) -> None:
        """Start the first sandbox interpreter now, so that its numpy import overlaps the grader's own
        start-up. It runs harness code only and waits on stdin; limits are applied before it gets a job."""
        # Only when it runs as our own uid: setting another uid's limits from outside (prlimit) needs
        # CAP_SYS_RESOURCE, which root does not always have; the throwaway-uid path starts cold instead.
        if self._warm is not None or self.drop:
            return
        job = new_job_dir()
        shutil.copyfile(HARNESS, job / "harness.py")
        token = secrets.token_hex(16)
        cmd = harness_argv(self.python, str(job / "harness.py"), str(job), None, site_view(self.python))
        proc = _spawn(cmd, job, token, None, preexec=_limiter(None, self.filter), stdin=subprocess.PIPE)
        self._warm = _Warm(job, proc, token)

    def pool(self, size: int, limits: Limits) -> contextlib.nullcontext:
        """No warm pool: the process backend is for self-tests, one submission at a time."""
        return contextlib.nullcontext()

    def new_job(self, limits: Limits) -> Path:
        if self._warm is not None and not self._warm.taken:
            self._warm.taken = True
            return self._warm.job
        return new_job_dir(limits)

    def open(self, job: Path) -> ProcessSession:
        warm = self._warm if self._warm is not None and self._warm.job == job else None
        if warm is not None:
            self._warm = None  # the session owns it now
        uid = reaper.allocate_uid() if self.drop else None
        give(job, uid)
        return ProcessSession(job, self.python, uid, warm, self.filter)


class _Warm:
    """A sandbox interpreter started early, waiting on stdin for its job."""

    def __init__(self, job: Path, proc: subprocess.Popen, token: str):
        self.job, self.proc, self.token, self.taken = job, proc, token, False


def _spawn(cmd, job: Path, token: str, uid: int | None, preexec, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=job / BOX / "work",
        env=sandbox_env(job=str(job), tmp=str(job / BOX / "tmp"), token=token),
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
        **reaper.ids(uid),
    )


class ProcessSession:
    def __init__(
        self, job: Path, python: str, uid: int | None, warm: _Warm | None, filter: tuple[bytes, dict[str, int]] | None
    ):
        self.job, self.python, self.uid, self.warm, self.filter = job, python, uid, warm, filter
        # Marks this sandbox's processes when they share our uid.
        self.token = warm.token if warm is not None else secrets.token_hex(16)

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> ProcessAttempt:
        if self.warm is not None:
            proc, self.warm = self.warm.proc, None
            # Limits from outside, before the waiting interpreter receives its job and imports student code.
            for which, pair in rlimits(limits, count_processes=os.geteuid() == 0):
                resource.prlimit(proc.pid, which, pair)
            try:
                proc.stdin.write(job_request(str(self.job), calls))
                proc.stdin.close()
            except BrokenPipeError:
                pass  # it died while waiting; the runner will see it exit
        else:
            harness = str(self.job / "harness.py")
            cmd = harness_argv(self.python, harness, str(self.job), calls, site_view(self.python))
            proc = _spawn(cmd, self.job, self.token, self.uid, preexec=_limiter(limits, self.filter))
        attempt = ProcessAttempt(proc)
        attempt.reader = capture.drain(proc.stdout)
        return attempt

    def finish(self, attempt: ProcessAttempt) -> None:
        """Kill the attempt's whole tree, detached daemons included, and sweep what it left."""
        reaper.kill_group(attempt.proc)
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.sweep_files(self.uid)
        else:
            # Its session id only while the leader is unreaped (after that the id may be a new process's).
            reaper.kill_marked(attempt.proc.pid if attempt.proc.returncode is None else -1, self.token)
        attempt.proc.wait()
        attempt.reader.join(5)  # EOF once every holder of the pipe is dead
        attempt.proc.stdout.close()
        if attempt.proc.stdin:
            attempt.proc.stdin.close()

    def close(self) -> None:
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.sweep_files(self.uid)
            reaper.release_uid(self.uid)
            self.uid = None
        else:
            reaper.kill_marked(-1, self.token)


def _limiter(limits: Limits | None, filter: tuple[bytes, dict[str, int]] | None):
    """The child's set-up between fork and exec, before any student code: rlimits (None: set from outside
    later, by prlimit), then a session keyring of its own and the seccomp filter where libseccomp is there
    (none of it is isolation: the README says what this backend shares)."""
    pairs = rlimits(limits, count_processes=os.geteuid() == 0) if limits is not None else []
    confine = seccomp.child_setup(*filter) if filter is not None else None

    def apply():
        for which, pair in pairs:
            resource.setrlimit(which, pair)
        if confine is not None:
            confine()

    return apply
