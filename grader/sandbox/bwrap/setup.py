"""What a bubblewrap sandbox is made of: whether bwrap works here, which interpreter it runs, and what it sees."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import SandboxUnavailable
from grader.sandbox import reaper
from grader.sandbox.siteview import allowed_entries, prefixes, runs_as
from grader.sandbox.storage import BOX, box_quota, capped

if TYPE_CHECKING:
    from grader.spec import Limits

# Debian's python3 with python3-numpy and python3-scipy imports scipy.signal in about half the time of
# a pip-installed scipy 1.17 (measured: 0.54 s against 1.40 s here), so it is tried first.
DEBIAN_PYTHON = "/usr/bin/python3"
DEVICES = ("null", "zero", "full", "random", "urandom")
# New namespaces for everything, the sandbox dies with its parent and has a session of its own.
NAMESPACES = ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
NAMESPACES += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
_checked: dict[tuple, str] = {}
_lock = threading.RLock()  # unavailable() asks namespaces() while holding it


def bwrap() -> str:
    """The bwrap program: $PA5_BWRAP, else `bwrap` on PATH."""
    return os.environ.get("PA5_BWRAP", "bwrap")


def namespaces() -> list[str]:
    """NAMESPACES, plus no further user namespaces inside (less kernel to attack) where this bwrap can
    (0.8 and later; Ubuntu 22.04 ships 0.6)."""
    key = ("options", bwrap())
    with _lock:
        if key not in _checked:
            try:
                r = subprocess.run([bwrap(), "--help"], capture_output=True, text=True, timeout=30, check=False)
                _checked[key] = "--disable-userns" if "--disable-userns" in r.stdout + r.stderr else ""
            except (OSError, subprocess.TimeoutExpired):
                _checked[key] = ""
        extra = _checked[key]
    return [*NAMESPACES, extra] if extra else list(NAMESPACES)


def unavailable(uid: int | None) -> str:
    """Why bwrap cannot sandbox here, with the fix; '' when a trivial sandbox runs. Checked once per process."""
    key = ("bwrap", bwrap(), uid)
    with _lock:
        if key not in _checked:
            _checked[key] = _try_bwrap(bwrap(), uid)
        return _checked[key]


def usable(python: str | None, *, nested: bool = False) -> tuple[bool, str]:
    """(whether we run as root, the sandbox's interpreter) where bwrap can sandbox here, and with `nested` where
    a bwrap sandbox can make namespaces of its own; else SandboxUnavailable with the cause and the fix.
    As root, bwrap runs as a throwaway uid, so the checks run as the first of them."""
    root = os.geteuid() == 0
    probe_uid = reaper.UID_BASE if root else None
    why = unavailable(probe_uid) or (nested_unavailable(probe_uid) if nested else "")
    if not why and python is None:
        python, why = choose_python(probe_uid)
    if why:
        raise SandboxUnavailable(f"the bwrap sandbox cannot run here: {why}")
    return root, python


def nested_unavailable(uid: int | None) -> str:
    """Why a sandbox cannot make its own namespaces inside a bwrap sandbox (what the pre-imported template's
    forks do); '' when it can. Checked once per process with a bwrap inside a bwrap."""
    key = ("nested", bwrap(), uid)
    with _lock:
        if key not in _checked:
            inner = [bwrap(), "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
            inner += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
            outer = [bwrap(), *NAMESPACES, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--"]
            try:
                r = subprocess.run(
                    [*outer, *inner],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    cwd="/",
                    check=False,
                    **reaper.ids(uid),
                )
                said = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1][:200]
                _checked[key] = "" if r.returncode == 0 else f"namespaces inside a bwrap sandbox fail ({said})"
            except (OSError, subprocess.TimeoutExpired) as e:
                _checked[key] = f"bubblewrap could not run: {e}"
        return _checked[key]


def _try_bwrap(program: str, uid: int | None) -> str:
    if not shutil.which(program):
        return f"bubblewrap is not installed (no `{program}` on PATH): install the package `bubblewrap`"
    try:
        r = subprocess.run(
            [program, *namespaces(), "--ro-bind", "/", "/", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd="/",
            check=False,
            **reaper.ids(uid),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap could not run: {e}"
    if r.returncode == 0:
        return ""
    said = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1][:200]
    return f"bubblewrap cannot create its namespaces here ({said}): {_userns_fix()}"


def _userns_fix() -> str:
    for path, good, fix in (
        ("/proc/sys/kernel/unprivileged_userns_clone", "1", "sysctl -w kernel.unprivileged_userns_clone=1"),
        ("/proc/sys/user/max_user_namespaces", None, "sysctl -w user.max_user_namespaces=15000"),
        (
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "0",
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile for bwrap)",
        ),
    ):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if (good is None and value == "0") or (good is not None and value != good):
            return f"user namespaces are disabled; enable them with `{fix}`"
    return (
        "user namespaces may be disabled: enable them with `sysctl -w kernel.unprivileged_userns_clone=1` "
        "or `sysctl -w user.max_user_namespaces=15000`"
    )


def choose_python(uid: int | None) -> tuple[str | None, str]:
    """(the sandbox's interpreter, '') or (None, why none fits): $PA5_SANDBOX_PYTHON, else Debian's, else ours.

    It must have numpy, and the sandbox's user must be able to run it (a Python under /root is not).
    """
    env = os.environ.get("PA5_SANDBOX_PYTHON")
    reasons = []
    for python in [env] if env else [DEBIAN_PYTHON, sys.executable]:
        why = _python_problem(python, uid)
        if not why:
            return python, ""
        reasons.append(f"{python}: {why}")
    return None, "no interpreter the sandbox can run (" + "; ".join(reasons) + ")"


def _python_problem(python: str, uid: int | None) -> str:
    key = ("python", python, uid)
    with _lock:
        if key in _checked:
            return _checked[key]
    why = ""
    if not os.path.isfile(python):
        why = "not found"
    elif uid is not None and (failed := runs_as(python, uid)):  # the same start finds its site folders
        why = f"user {uid} cannot run it ({failed})"
    elif not any("numpy" in names for _, names in allowed_entries(python)):
        why = "has no numpy"
    with _lock:
        _checked[key] = why
    return why


def filesystem(python: str) -> tuple[list[str], list[str]]:
    """(bwrap options building the sandbox's file system, the site folders for the harness's --path).

    Read-only: /usr, the interpreter's prefixes, and of its site folders only numpy and scipy.
    Fresh: /proc and a minimal /dev. The grader's own packages are masked wherever they lie.
    """
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for f in ("/etc/alternatives", "/etc/ld.so.cache"):  # Debian's libblas is found through alternatives
        args += ["--ro-bind-try", f, f]
    bound = ["/usr"]
    for p in prefixes(python):
        if not _within(p, bound):
            args += ["--ro-bind", p, p]
            bound.append(p)
    sites = []
    for site_dir, names in allowed_entries(python):
        if not names or not _within(site_dir, bound):
            continue
        args += ["--tmpfs", site_dir]
        for n in names:
            args += ["--ro-bind", f"{site_dir}/{n}", f"{site_dir}/{n}"]
        args += ["--remount-ro", site_dir]
        sites.append(site_dir)
    for pkg in _grader_packages():
        if _within(pkg, bound) and not _within(pkg, sites):
            args += ["--tmpfs", pkg, "--remount-ro", pkg]
    args += ["--proc", "/proc", *minimal_dev()]
    return args, sites


def minimal_dev() -> list[str]:
    """A /dev with only what a numpy program needs: no tty, no pty master, no console (a pty counts against the
    host's limit). /dev/shm is a mount point for the job's own, and /dev is made read-only by sealed()."""
    args = ["--tmpfs", "/dev"]
    for node in DEVICES:
        args += ["--dev-bind", f"/dev/{node}", f"/dev/{node}"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        args += ["--symlink", target, f"/dev/{name}"]
    return [*args, "--symlink", "/proc/self/fd/2", "/dev/stderr", "--dir", "/dev/shm"]


def job_mounts(job: Path, limits: Limits) -> list[str]:
    """The job folder at /job read-only but for box/, where the sandbox writes (out/, its working folder, and
    its /tmp and /dev/shm), then / and /dev made read-only. A job without a capped box of its own (no mount
    privileges) gets size-capped tmpfs mounts for all but out/."""
    args = ["--ro-bind", str(job), "/job", "--bind", str(job / BOX), "/job/box"]
    if capped(job):
        args += ["--bind", str(job / BOX / "tmp"), "/tmp", "--bind", str(job / BOX / "shm"), "/dev/shm"]
    else:
        size = str(box_quota(limits)[0])
        for target in ("/tmp", "/dev/shm", "/job/box/work"):
            args += ["--size", size, "--tmpfs", target]
    return [*args, "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/job/box/work"]


def _within(path: str, tops: list[str]) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in tops)


def _grader_packages() -> list[str]:
    """Where the grader and the reference are installed, so a sandbox never sees them."""
    found = [str(Path(__file__).resolve().parents[2])]
    spec = importlib.util.find_spec("reference")
    if spec is not None and spec.submodule_search_locations:
        found += [str(Path(p).resolve()) for p in spec.submodule_search_locations]
    return found
