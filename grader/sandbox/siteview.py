"""The part of an interpreter's site-packages a sandbox may see: numpy and scipy, nothing else.

The harness runs with -S (no site module, so no .pth hooks such as editable installs) and sees only
these, so `import reference` and `import grader` fail even when the grader is installed in that Python.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from grader.sandbox.launch import jobs_root

# The submission contract allows numpy, scipy and the standard library; the view holds just those
# (with the shared libraries their wheels vendor in numpy.libs and scipy.libs).
ALLOWED = ("numpy", "scipy")
_cache: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def site_dirs(python: str) -> list[str]:
    """`python`'s site-packages folders that exist."""
    with _lock:
        key = ("dirs", python)
        if key not in _cache:
            _cache[key] = _probe(python)
        return list(_cache[key])


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


def _probe(python: str) -> list[str]:
    if python == sys.executable:
        return [p for p in site.getsitepackages() if os.path.isdir(p)]  # our own Python: no need to start another
    probe = "import json, site; print(json.dumps(site.getsitepackages()))"
    r = subprocess.run(
        [python, "-I", "-c", probe], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"}
    )
    try:
        found = json.loads(r.stdout or "[]")
    except ValueError:
        found = []
    return [p for p in found if os.path.isdir(p)]


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
