"""The compute floor of a batch (issue 21), and one CLI batch measured against it.

Used by breakdown.py (its floor line, and `--versus-floor`) and sandboxes.py (row 12); not a script. The floor:
for the same class, each student's functions called in-process on that student's graded cases, in the sandbox's
own interpreter with numpy and scipy.signal imported, plus one fork of that interpreter per student; divided by
the jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLI, ROOT, peak_rss_mb

sys.path.insert(0, str(ROOT))
from grader.config import INSECURE_DEFAULT_SECRET as SECRET

# Run by the sandbox's interpreter: argv = [folder of per-student jobs, call timeout]. Prints JSON.
FLOOR = r"""
import json, os, signal, sys, time
import numpy as np
import scipy.signal

class Late(Exception):
    pass

def late(*_):
    raise Late()

signal.signal(signal.SIGALRM, late)
top, limit = sys.argv[1], float(sys.argv[2])
students = {}
for name in sorted(os.listdir(top)):
    job = os.path.join(top, name)
    with open(os.path.join(job, "plan.json")) as f:
        plan = json.load(f)
    with np.load(os.path.join(job, "inputs.npz")) as z:
        inputs = {k: z[k] for k in z.files}
    sys.path.insert(0, os.path.join(job, "submission"))
    sys.modules.pop("backprop", None)
    try:
        module = __import__("backprop")
    except Exception:
        module = None
    sys.path.pop(0)
    spent, hung = 0.0, set()
    for call in plan["calls"]:
        fn = getattr(module, call["function"], None)
        if not callable(fn) or call["function"] in hung:
            continue
        args = [int(inputs[n]) if n in call["ints"] else inputs[n].copy() for n in call["args"]]
        signal.setitimer(signal.ITIMER_REAL, limit)
        t0 = time.perf_counter()
        try:
            fn(*args)
        except Late:
            hung.add(call["function"])  # as the grader does: its other cases are not run
        except Exception:
            pass
        finally:
            spent += time.perf_counter() - t0
            signal.setitimer(signal.ITIMER_REAL, 0)
    students[name] = spent
forks = []
for _ in range(30):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    forks.append(time.perf_counter() - t0)
forks.sort()
print(json.dumps({"calls": students, "fork": forks[len(forks) // 2]}))
"""


def floor(klass: Path, spec, jobs: int, work: Path) -> dict:
    """The class's compute floor (see the module's docstring): {"seconds", "calls", "fork", "n"}."""
    from grader.arrays import write_npz
    from grader.contract import ARGUMENTS, FUNCTIONS, INT_ARGUMENTS
    from grader.sandbox.bwrap.setup import choose_python, filesystem
    from grader.submission import copy_into, load_submission
    from grader.workflows.grade import grading_cases

    python, _ = choose_python(None)
    sites = filesystem(python)[1]
    top = work / "floor-jobs"
    top.mkdir()
    for d in sorted(klass.iterdir()):
        job = top / d.name
        job.mkdir()
        copy_into(load_submission(d), job / "submission")
        cases = grading_cases(spec=spec, secret=SECRET, student_id=d.name)
        inputs = {f"{i}.{a}": c.inputs[a] for i, c in enumerate(cases) for a in ARGUMENTS[c.layer]}
        calls = [
            {
                "function": FUNCTIONS[c.layer],
                "args": [f"{i}.{a}" for a in ARGUMENTS[c.layer]],
                "ints": [f"{i}.{a}" for a in ARGUMENTS[c.layer] if a in INT_ARGUMENTS],
            }
            for i, c in enumerate(cases)
        ]
        write_npz(job / "inputs.npz", inputs)
        (job / "plan.json").write_text(json.dumps({"calls": calls}))
    code = f"import sys; sys.path[:0] = {sites!r}\n" + FLOOR
    out = subprocess.run(
        [python, "-I", "-S", "-c", code, str(top), str(spec.limits.call_timeout)],
        capture_output=True,
        text=True,
        check=True,
        env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    ).stdout
    r = json.loads(out)
    calls = list(r["calls"].values())
    return {"calls": calls, "fork": r["fork"], "n": len(calls), "seconds": (sum(calls) + len(calls) * r["fork"]) / jobs}


def versus_floor(klass: Path, spec, spec_path: Path, work: Path, root: Path) -> int:
    """One `batch --sandbox bwrap --jobs 2` of `klass` by the CLI of the checkout `root`, then the floor."""
    cmd = [*CLI, "batch", str(klass), "--out", str(work / "out"), "--jobs", "2", "--sandbox", "bwrap"]
    cmd += ["--insecure-default-secret", "--spec", str(spec_path)]
    before = os.getloadavg()[0]
    wall, peak = peak_rss_mb(cmd, cwd=root, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    after = os.getloadavg()[0]
    reports = sum(1 for p in (work / "out").glob("*.json") if p.name != "summary.json")
    f = floor(klass, spec, 2, work)
    n = f["n"]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} {root}: batch --sandbox bwrap --jobs 2 of {n} students {wall:.1f} s "
        f"({reports} reports; the grader's peak RSS {peak:.0f} MiB; load average {before:.2f} before, {after:.2f} "
        f"after; quotas, seccomp and the watchdog on); floor {f['seconds']:.1f} s (calls {sum(f['calls']):.1f} s, "
        f"{n} forks of {f['fork'] * 1000:.1f} ms, / 2): {wall / f['seconds']:.2f}x"
    )
    return 0 if reports == n else 1
