"""The launch recipe every backend follows: job folders, the harness command line, the sandbox environment.

Stdlib only: a backend starts its sandbox before the grader's heavy imports (protocol.py pulls in numpy
and pydantic, about 0.5 s cold), so that the sandbox's own numpy import overlaps them.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GraderError

if TYPE_CHECKING:
    from grader.spec import Limits

HARNESS = Path(__file__).with_name("harness.py")
# The only folders of a job the sandbox writes to: its results, its working folder, its TMPDIR.
JOB_DIRS = ("out", "work", "tmp")
TOKEN_VAR = "PA5_SANDBOX_TOKEN"  # marks a sandbox's processes when they share the grader's uid
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # needed for OpenBLAS to run correctly on some CPUs


def jobs_parent() -> Path:
    """Where the jobs folder goes: $PA5_JOBS_DIR; else the temp folder when $TMPDIR names one; else /dev/shm
    where it is a tmpfs with room (a grade creates and deletes a hundred small files, and on ext4 finding a
    free inode that was not recently deleted cost a third of the CPU of a 2-core batch: measured with perf);
    else the temp folder."""
    if os.environ.get("PA5_JOBS_DIR"):
        return Path(os.environ["PA5_JOBS_DIR"])
    if not os.environ.get("TMPDIR") and _roomy_tmpfs("/dev/shm"):
        return Path("/dev/shm")
    return Path(tempfile.gettempdir())


def _roomy_tmpfs(path: str, room: int = 1 << 30) -> bool:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            tmpfs = any(line.split()[1:3] == [path, "tmpfs"] for line in f)
        st = os.statvfs(path)
    except OSError:
        return False
    return tmpfs and st.f_bavail * st.f_frsize >= room and os.access(path, os.W_OK | os.X_OK)


def jobs_root() -> Path:
    """A folder of the grader's own for job folders, so nothing in it is taken for a sandbox's stray file."""
    root = jobs_parent() / f"pa5-grader-{os.getuid()}"
    try:
        root.mkdir(mode=0o711)
    except FileExistsError:
        st = root.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise GraderError(f"{root} exists but is not a folder of this user's; remove it") from None
    root.chmod(0o711)  # the sandbox user may pass through to its own job folder, not list the others
    return root


def new_job_dir() -> Path:
    """A fresh job folder inside the grader's own jobs folder, with the folders the sandbox writes to."""
    job = Path(tempfile.mkdtemp(prefix="job-", dir=jobs_root()))
    for d in JOB_DIRS:
        (job / d).mkdir()
    return job


def harness_argv(python: str, harness: str, job: str, calls: list[int] | None, site: list[str]) -> list[str]:
    """The harness command line: run `calls` of `job`, or with calls=None wait for the job on stdin.

    -I -S: no user site, no site module (so no .pth hooks); sys.path gets only `site` after --path.
    """
    head = [python, "-I", "-S", "-B", "-u", harness]
    run = ["--await-job"] if calls is None else [job, "--calls", ",".join(map(str, calls))]
    return [*head, *run, "--path", *site]


def job_request(job: str, calls: list[int]) -> bytes:
    """The line an awaiting harness (`--await-job`) reads on stdin."""
    return json.dumps({"job": job, "calls": calls}).encode() + b"\n"


def sandbox_env(*, job: str, tmp: str, token: str | None = None) -> dict[str, str]:
    """The sandbox's whole environment: nothing of the grader's passes but OpenBLAS's CPU hints."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": f"{job}/work",
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    if token:
        env[TOKEN_VAR] = token
    return env | {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}


def rlimits(limits: Limits, *, count_processes: bool) -> list[tuple[int, tuple[int, int]]]:
    """The (resource, (soft, hard)) limits a sandbox process starts under.

    `count_processes` only for a uid of the sandbox's own: the kernel counts processes per uid.
    """
    mem, fsize = limits.memory_mb << 20, limits.file_size_mb << 20
    pairs = [
        (resource.RLIMIT_AS, (mem, mem)),
        # The CPU hard limit sits a second above, so the kernel sends SIGXCPU (nameable) before SIGKILL.
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]
    if count_processes:
        pairs.append((resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes)))
    return pairs
