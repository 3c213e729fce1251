"""The launch recipe every backend follows: the harness command line, the sandbox environment, the rlimits.

Stdlib only: a backend starts its sandbox before the grader's heavy imports (protocol.py pulls in numpy
and pydantic, about 0.5 s cold), so that the sandbox's own numpy import overlaps them.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.spec import Limits

HARNESS = Path(__file__).parent / "inside" / "harness.py"
TOKEN_VAR = "PA5_SANDBOX_TOKEN"  # marks a sandbox's processes when they share the grader's uid
PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # needed for OpenBLAS to run correctly on some CPUs
# The address-space limit counts what threads reserve, not what they use: glibc gives each thread a malloc
# arena of 64 MiB (16 threads: 1.4 GiB of address space for 77 MiB resident, measured), which MALLOC_ARENA_MAX=1
# turns off, and a stack of THREAD_STACK. The limit leaves a stack's room per allowed process or thread on top of
# limits.memory_mb, so code that starts threads within max_processes is not refused them.
THREAD_STACK = 8 << 20


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
        "HOME": f"{job}/box/work",
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "1",
    }
    if token:
        env[TOKEN_VAR] = token
    return env | {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}


def rlimits(limits: Limits, *, count_processes: bool) -> list[tuple[int, tuple[int, int]]]:
    """The (resource, (soft, hard)) limits a sandbox process starts under.

    `count_processes` only for a uid of the sandbox's own: the kernel counts processes per uid.
    """
    mem, fsize = limits.memory_mb << 20, limits.file_size_mb << 20
    mem += limits.max_processes * THREAD_STACK
    pairs = [
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_STACK, (THREAD_STACK, THREAD_STACK)),
        # The CPU hard limit sits a second above, so the kernel sends SIGXCPU (nameable) before SIGKILL.
        (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
    ]
    if count_processes:
        pairs.append((resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes)))
    return pairs
