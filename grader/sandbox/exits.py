"""Small helpers both backends need early, kept free of heavy imports: exit descriptions and job folders."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from pathlib import Path

from grader.errors import GraderError


def jobs_root() -> Path:
    """A folder of the grader's own for job folders, so nothing in it is taken for a sandbox's stray file."""
    root = Path(tempfile.gettempdir()) / f"pa5-grader-{os.getuid()}"
    try:
        root.mkdir(mode=0o711)
    except FileExistsError:
        st = root.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise GraderError(f"{root} exists but is not a folder of this user's; remove it") from None
    root.chmod(0o711)  # the sandbox user may pass through to its own job folder, not list the others
    return root


def describe_signal_exit(code: int, memory_mb: int) -> str:
    """A plain sentence for how a process ended during a call."""
    if code >= 0:
        return f"the process exited during the call (exit code {code})"
    sig = -code
    names = {
        signal.SIGSEGV: "segmentation fault",
        signal.SIGXCPU: "killed: CPU time limit exceeded",
        signal.SIGXFSZ: "killed: file size limit exceeded",
        signal.SIGABRT: "aborted",
        signal.SIGBUS: "bus error",
        signal.SIGKILL: "killed",
    }
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return f"{names.get(sig, 'killed by ' + name)} ({name})" if sig in names else f"killed by {name}"


def new_job_dir() -> Path:
    """A fresh, empty job folder inside the grader's own jobs folder."""
    return Path(tempfile.mkdtemp(prefix="job-", dir=jobs_root()))
