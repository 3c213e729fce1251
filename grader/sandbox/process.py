"""The process backend: a subprocess with rlimits, a scrubbed environment and, under root, its own user.

For self-tests only. Run as an ordinary user it is not isolated: the student's code can read
whatever that user can. Run as root, each sandbox gets a uid of its own, so its processes can be
killed to the last and its stray files swept.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import secrets
import site
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from grader.sandbox.capture import Capture
from grader.sandbox.runner import describe_signal_exit
from grader.spec import Limits

UID_BASE = int(os.environ.get("PA5_SANDBOX_UID_BASE", "61000"))
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # needed for OpenBLAS to run correctly on some CPUs

_slots: set[int] = set()
_slots_lock = threading.Lock()
_checked_python: dict[tuple[str, int], str] = {}
TOKEN_VAR = "PA5_SANDBOX_TOKEN"


class ProcessAttempt:
    def __init__(self, proc: subprocess.Popen, memory_mb: int):
        self.proc, self.memory_mb = proc, memory_mb
        self.reader: Optional[threading.Thread] = None

    def poll(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        _killpg(self.proc.pid)

    def describe_exit(self, code: int) -> str:
        return describe_signal_exit(code, self.memory_mb)


class ProcessBackend:
    """Subprocess sandbox. Under root it runs student code as a throwaway uid when that user can run
    the interpreter; otherwise (or when not root) as the caller, which is weaker, and the note says so."""

    name = "process"
    isolated = False

    def __init__(self, python: str | None = None):
        self.python = python or os.environ.get("PA5_SANDBOX_PYTHON") or sys.executable
        self.drop = False
        why = ""
        if os.geteuid() == 0:
            why = _python_unusable(self.python, UID_BASE)
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
        self.note = "not isolated: do not use for untrusted code. " + detail

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def open(self, job: Path) -> "ProcessSession":
        uid = None
        if self.drop:
            # One uid per concurrently running sandbox, so that killing "everything of that uid" is exact.
            with _slots_lock:
                slot = next(i for i in range(10_000) if i not in _slots)
                _slots.add(slot)
            uid = UID_BASE + slot
            for p in [job, *job.rglob("*")]:
                os.chown(p, uid, uid, follow_symlinks=False)
            job.chmod(0o700)
        return ProcessSession(job, self.python, uid)


class ProcessSession:
    def __init__(self, job: Path, python: str, uid: Optional[int]):
        self.job, self.python, self.uid = job, python, uid
        self.token = secrets.token_hex(16)  # marks this sandbox's processes when they share our uid

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> ProcessAttempt:
        job = self.job
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(job / "work"),
            "TMPDIR": str(job / "tmp"),
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        env |= {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        env[TOKEN_VAR] = self.token
        cmd = [self.python, "-I", "-S", "-B", "-u", str(job / "harness.py"), str(job), "--calls", ",".join(map(str, calls))]
        cmd += ["--path", *site_view(self.python)]
        ids = {"user": self.uid, "group": self.uid, "extra_groups": []} if self.uid is not None else {}
        proc = subprocess.Popen(
            cmd,
            cwd=job / "work",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_limiter(limits),
            **ids,
        )
        attempt = ProcessAttempt(proc, limits.memory_mb)
        attempt.reader = capture.drain(proc.stdout)
        return attempt

    def finish(self, attempt: ProcessAttempt) -> None:
        """Kill the attempt's whole tree, detached daemons included, and sweep what it left."""
        _killpg(attempt.proc.pid)
        if self.uid is not None:
            _kill_uid(self.uid)
            _sweep_files(self.uid)
        else:
            _kill_marked(attempt.proc.pid, self.token)
        attempt.proc.wait()
        attempt.reader.join(5)  # EOF once every holder of the pipe is dead
        attempt.proc.stdout.close()

    def close(self) -> None:
        if self.uid is not None:
            _kill_uid(self.uid)
            _sweep_files(self.uid)
            _release(self.uid)
            self.uid = None
        else:
            _kill_marked(-1, self.token)


def _release(uid: int) -> None:
    with _slots_lock:
        _slots.discard(uid - UID_BASE)


# The submission contract allows numpy, scipy and the standard library; the view holds just those
# (with the shared libraries their wheels vendor in numpy.libs and scipy.libs).
ALLOWED = ("numpy", "scipy")
_views: dict[str, list[str]] = {}
_views_lock = threading.Lock()


def site_view(python: str) -> list[str]:
    """Folders holding links to `python`'s numpy and scipy, and nothing else of its site-packages.

    The harness runs with -S (no site, so no .pth hooks such as editable installs) and sees only these,
    so `import reference` and `import grader` fail even when the grader is installed in that Python.
    """
    with _views_lock:
        if python not in _views:
            _views[python] = _build_view(python)
        return _views[python]


def _site_dirs(python: str) -> list[str]:
    if python == sys.executable:
        return [p for p in site.getsitepackages() if os.path.isdir(p)]  # our own Python: no need to start another
    probe = "import json, site; print(json.dumps(site.getsitepackages()))"
    r = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    return [p for p in json.loads(r.stdout or "[]") if os.path.isdir(p)]


def _build_view(python: str) -> list[str]:
    sites = _site_dirs(python)
    root = Path(tempfile.gettempdir()) / f"pa5-grader-{os.getuid()}"
    root.mkdir(mode=0o711, exist_ok=True)
    view_root = Path(tempfile.mkdtemp(prefix="site-", dir=root))
    view_root.chmod(0o755)
    atexit.register(shutil.rmtree, view_root, True)
    views = []
    for i, site_dir in enumerate(sites):
        view = view_root / str(i)
        view.mkdir(mode=0o755)
        for name in ALLOWED:
            for entry in (name, f"{name}.libs"):
                if os.path.isdir(os.path.join(site_dir, entry)):
                    os.symlink(os.path.join(site_dir, entry), view / entry)
        views.append(str(view))
    return views


def _limiter(limits: Limits):
    mem = limits.memory_mb << 20
    fsize = limits.file_size_mb << 20
    # (soft, hard): the CPU hard limit sits a second above, so the kernel sends SIGXCPU (nameable) before SIGKILL.
    settings = [
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]
    nproc = limits.max_processes if os.geteuid() == 0 else None

    def apply():  # runs in the child between fork and exec, before any student code
        for which, pair in settings:
            resource.setrlimit(which, pair)
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    return apply


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pids_where(test) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if test(d):
                    out.append(int(d))
            except OSError:
                continue
    return out


def _uid_of(d: str) -> int:
    with open(f"/proc/{d}/status", "rb") as f:
        for line in f:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    return -1


def _kill_uid(uid: int) -> None:
    # A fork bomb races the killer; its rlimit bounds it, and a few rounds finish it.
    for _ in range(50):
        pids = _pids_where(lambda d: _uid_of(d) == uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _kill_marked(sid: int, token: str) -> None:
    """Without a uid of its own: kill what is left of the session, and any process carrying the token
    in its environment (double forks that called setsid). One that cleared its environment and exec'd escapes."""
    me, mark = os.getuid(), f"{TOKEN_VAR}={token}".encode()

    def ours(d: str) -> bool:
        if int(d) == os.getpid() or _uid_of(d) != me:
            return False
        with open(f"/proc/{d}/stat", "rb") as f:
            session = int(f.read().rsplit(b")", 1)[1].split()[3])
        if session == sid:
            return True
        with open(f"/proc/{d}/environ", "rb") as f:
            return mark in f.read().split(b"\0")

    for _ in range(20):
        pids = _pids_where(ours)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def _sweep_files(uid: int) -> None:
    for top in TMP_DIRS:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            try:
                if e.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
                else:
                    os.unlink(e.path)
            except OSError:
                continue


def _python_unusable(python: str, uid: int) -> str:
    """Why `uid` cannot run `python` with numpy (e.g. it lives under /root), or '' if it can."""
    key = (python, uid)
    if key not in _checked_python:
        try:
            r = subprocess.run(
                [python, "-I", "-c", "import numpy"],
                user=uid, group=uid, extra_groups=[], capture_output=True, cwd="/",
                env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
            )
        except OSError as e:
            _checked_python[key] = e.strerror or type(e).__name__
            return _checked_python[key]
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        _checked_python[key] = "" if r.returncode == 0 else (lines[-1][:200] if lines else f"exit code {r.returncode}")
    return _checked_python[key]
