"""The part of an interpreter's site-packages a sandbox may see: numpy and scipy, nothing else.

The harness runs with -S (no site module, so no .pth hooks such as editable installs) and sees only
these, so `import reference` and `import grader` fail even when the grader is installed in that Python.
"""

from __future__ import annotations

import atexit
import os
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from grader.contract import ALLOWED_PACKAGES
from grader.sandbox import reaper
from grader.sandbox.storage import jobs_root

# The submission contract allows numpy, scipy and the standard library; the view holds just those
# (with the shared libraries their wheels vendor in numpy.libs and scipy.libs).
ALLOWED = ALLOWED_PACKAGES
_cache: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def site_dirs(python: str) -> list[str]:
    """`python`'s site-packages folders that exist."""
    return _probe(python)["sites"]


def prefixes(python: str) -> list[str]:
    """The folders `python` runs from: its prefix and, for a venv, its base prefix."""
    return _probe(python)["prefixes"]


def allowed_entries(python: str) -> list[tuple[str, list[str]]]:
    """Per site folder of `python`, the allowed entries it holds (e.g. numpy, numpy.libs, scipy)."""
    out = []
    for d in site_dirs(python):
        names = [e for n in ALLOWED for e in (n, f"{n}.libs") if os.path.isdir(os.path.join(d, e))]
        out.append((d, names))
    return out


def site_view(python: str) -> list[str]:
    """Folders holding links to `python`'s numpy and scipy and nothing else: the harness's `--path`."""
    entries = allowed_entries(python)  # outside the lock: it takes the lock itself
    with _lock:
        key = ("view", python)
        if key not in _cache:
            _cache[key] = _build_view(entries)
        return list(_cache[key])


def python_unusable(python: str, uid: int | None) -> str:
    """Why `uid` (None: ours) cannot run `python` with numpy (e.g. it lives under /root), or '' if it can."""
    key = ("unusable", f"{python}:{uid}")
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        r = subprocess.run(
            [python, "-I", "-c", "import numpy"],
            capture_output=True,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
            check=False,
            **reaper.ids(uid),
        )
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        why = "" if r.returncode == 0 else (lines[-1][:200] if lines else f"exit code {r.returncode}")
    except OSError as e:
        why = e.strerror or type(e).__name__
    with _lock:
        _cache[key] = why
    return why


def runs_as(python: str, uid: int) -> str:
    """Why `uid` cannot start `python` ('' when it can). The same start tells where `python` keeps its packages,
    so asking this first saves site_dirs() and prefixes() an interpreter start of their own."""
    key = ("runs", f"{python}:{uid}")
    with _lock:
        if key in _cache:
            return _cache[key]
    if python == sys.executable:  # our own folders are known; only whether that user can start it is not
        found, why = {}, _start(python, uid, ["-I", "-S", "-c", ""])[1]
    else:
        found, why = _folders(python, uid)
    with _lock:
        _cache[key] = why
        if found:
            _cache.setdefault(("probe", python), found)
    return why


def _probe(python: str) -> dict[str, list[str]]:
    with _lock:
        if ("probe", python) in _cache:
            return _cache[("probe", python)]
    if python == sys.executable:  # our own Python: no need to start another
        found = _existing({"prefixes": [sys.prefix, sys.base_prefix], "sites": site.getsitepackages()})
    else:
        found = _folders(python, None)[0] or {"prefixes": [], "sites": []}
    with _lock:
        _cache[("probe", python)] = found
    return found


# Run by the interpreter asked about: its prefixes and site folders, NUL-separated (no path holds a NUL).
_FOLDERS = "import site, sys; print('\\0'.join([sys.prefix, sys.base_prefix, *site.getsitepackages()]))"


def _folders(python: str, uid: int | None) -> tuple[dict[str, list[str]] | None, str]:
    """(`python`'s prefixes and existing site folders, '') as `uid` (None: us) finds them, or (None, why not).
    Outside a venv the site module's start-up (.pth files) changes neither, so it is skipped there (-S)."""
    flags = ["-I", "-c"] if _venv(python) else ["-I", "-S", "-c"]
    out, why = _start(python, uid, [*flags, _FOLDERS])
    if why:
        return None, why
    prefix, base, *sites = out.rstrip("\n").split("\0")
    return _existing({"prefixes": [prefix, base], "sites": sites}), ""


def _start(python: str, uid: int | None, args: list[str]) -> tuple[str, str]:
    """(stdout, '') of `python` with `args`, run as `uid` (None: us), or ('', why it failed)."""
    try:
        r = subprocess.run(
            [python, *args],
            capture_output=True,
            text=True,
            errors="replace",
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            check=False,
            **reaper.ids(uid),
        )
    except OSError as e:
        return "", e.strerror or type(e).__name__
    if r.returncode != 0:
        return "", (r.stderr.strip() or f"exit code {r.returncode}")[-120:]
    return r.stdout, ""


def _venv(python: str) -> bool:
    """Whether `python` runs in a venv: a pyvenv.cfg beside it or one folder up (where the interpreter looks)."""
    for executable in {os.path.abspath(python), os.path.realpath(python)}:
        here = os.path.dirname(executable)
        if any(os.path.exists(os.path.join(d, "pyvenv.cfg")) for d in (here, os.path.dirname(here))):
            return True
    return False


def _existing(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: list(dict.fromkeys(p for p in v if os.path.isdir(p))) for k, v in found.items()}


def _build_view(entries: list[tuple[str, list[str]]]) -> list[str]:
    view_root = Path(tempfile.mkdtemp(prefix="site-", dir=jobs_root()))
    view_root.chmod(0o755)
    atexit.register(shutil.rmtree, view_root, True)
    views = []
    for i, (site_dir, names) in enumerate(entries):
        view = view_root / str(i)
        view.mkdir(mode=0o755)
        for name in names:
            os.symlink(os.path.join(site_dir, name), view / name)
        views.append(str(view))
    return views
