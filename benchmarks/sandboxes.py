"""Sandbox benchmarks (issues 10 and 21): bwrap against Docker, the warm pool, grade latency and memory per backend,
and batch time against the class's compute floor. Quotas, seccomp and the watchdog are on in every run.

Called from run.py; runnable alone: python benchmarks/sandboxes.py [--class-size N] [--big N] [--repeats R];
--only check: only row 13, `check` against a bare bubblewrap start (issue 21).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    CLI,
    EXAMPLES,
    IMAGE,
    PY,
    ROOT,
    Table,
    docker_ready,
    fmt,
    interleaved,
    make_class,
    parallel_floor,
    peak_rss_mb,
    run_batch,
    timed,
)

sys.path.insert(0, str(ROOT))


def bwrap_ready() -> str:
    """'' when the bwrap backend works here, else why not."""
    from grader.errors import SandboxUnavailable
    from grader.sandbox.bwrap.fresh import BwrapBackend

    try:
        BwrapBackend()
    except SandboxUnavailable as e:
        return str(e)
    return ""


def bwrap_import(folder: Path, code: str = "import numpy, backprop") -> list[str]:
    """The floor for one student under bwrap: a fresh sandbox (same namespaces and mounts as the grader's,
    as this user) whose interpreter imports numpy and the student's module."""
    from grader.sandbox.bwrap.setup import bwrap, choose_python, filesystem, namespaces

    python, _ = choose_python(None if os.geteuid() else 61999)
    fs, sites = filesystem(python)
    setup = f"import sys; sys.path[:0] = ['/s', *{sites!r}]; "
    return [bwrap(), *namespaces(), *fs, "--ro-bind", str(folder), "/s", "--", python, "-I", "-S", "-c", setup + code]


# "bwrap" is the pre-imported template where it can run; "bwrap-fresh" a new sandbox and interpreter per run.
ENV = {"bwrap": {}, "bwrap-fresh": {"PA5_BWRAP_TEMPLATE": "0"}, "docker": {}}


def batch(klass: Path, work: Path, jobs: int, sandbox: str, spec: Path, *, warm: bool = True) -> float:
    env = ENV[sandbox]
    sandbox = sandbox.removesuffix("-fresh")
    if warm:
        return run_batch(klass, work / "out", jobs, sandbox, spec, env=env)
    shutil.rmtree(work / "out", ignore_errors=True)
    cmd = [*CLI, "batch", str(klass), "--out", str(work / "out"), "--jobs", str(jobs), "--sandbox", sandbox]
    cmd += ["--no-warm-pool", "--insecure-default-secret", "--spec", str(spec)]
    return timed(cmd, cwd=ROOT, env={**os.environ, **env})


def bench_sandboxes(t: Table, *, n: int, big: int, repeats: int, work: Path, spec: Path, use_docker: bool) -> None:
    why = bwrap_ready()
    if why:
        t.add("6-10. bwrap rows", f"skipped: {why}", "", "", "", "n/a")
        return
    klass = make_class(work / "sandbox-class", n, call_hangs=max(1, n // 100))
    hang_cost = max(1, n // 100) * 2.0
    students = sorted(klass.iterdir())
    walls: dict[tuple[str, int, bool], float] = {}
    for jobs in (1, 2):
        for sandbox in ["bwrap", "bwrap-fresh"] + (["docker"] if use_docker else []):
            walls[sandbox, jobs, True] = batch(klass, work, jobs, sandbox, spec)
            if jobs == 2 and sandbox != "bwrap-fresh":  # right after, so that a shared machine's load hits both alike
                walls[sandbox, jobs, False] = batch(klass, work, jobs, sandbox, spec, warm=False)
        floor = parallel_floor([bwrap_import(d) for d in students], jobs) + hang_cost / jobs
        bw, fresh = walls["bwrap", jobs, True], walls["bwrap-fresh", jobs, True]
        if use_docker:
            dk = walls["docker", jobs, True]
            versus, ratio = f"{n / dk:.2f}/s ({dk:.1f} s), docker", dk / bw
        else:
            versus, ratio = "docker skipped", float("nan")
        target = ">= 1.8x docker" if jobs == 2 else "faster than docker"
        met = ratio >= (1.8 if jobs == 2 else 1.0)
        t.add(
            f"6. batch, bwrap (template) vs docker, {n} students, --jobs {jobs}",
            f"{n / bw:.2f}/s ({bw:.1f} s), bwrap; without the template {n / fresh:.2f}/s ({fresh:.1f} s); "
            f"fresh-sandbox floor {n / floor:.2f}/s",
            versus,
            f"{ratio:.2f}x",
            target,
            "yes" if met else ("n/a" if not use_docker else "no"),
        )

    bench_floor(t, klass, n, walls["bwrap", 2, True], work / "floor-small", spec)

    if big:
        klass_big = make_class(work / "big-class", big, call_hangs=max(1, big // 100))
        wall, rss = peak_rss_mb(
            [
                *CLI,
                "batch",
                str(klass_big),
                "--out",
                str(work / "out-big"),
                "--jobs",
                "2",
                "--sandbox",
                "bwrap",
                "--insecure-default-secret",
                "--spec",
                str(spec),
            ],
            cwd=ROOT,
        )
        floor = parallel_floor([bwrap_import(d) for d in sorted(klass_big.iterdir())], 2) + max(1, big // 100)
        bench_floor(t, klass_big, big, wall, work / "floor-big", spec)
        t.add(
            f"7. a {big}-student class, bwrap, --jobs 2",
            f"{wall:.1f} s ({big / wall:.2f}/s); grader peak {rss:.0f} MiB",
            f"{floor:.1f} s (fresh bwrap sandboxes importing each student's module, + the timeouts)",
            f"{wall / floor:.2f}x",
            "< 150 s",
            "yes" if wall < 150 else "no",
        )

    for sandbox in ["bwrap"] + (["docker"] if use_docker else []):
        cold, warm = walls[sandbox, 2, False], walls[sandbox, 2, True]
        t.add(
            f"8. warm pool, {sandbox}, {n} students, --jobs 2",
            f"{n / warm:.2f}/s ({warm:.1f} s) with the pool",
            f"{n / cold:.2f}/s ({cold:.1f} s) without",
            f"{cold / warm:.2f}x",
            "faster with it",
            "yes" if warm < cold else "no",
        )

    grade = [*CLI, "grade", str(EXAMPLES / "correct"), "--student-id", "bench", "--insecure-default-secret"]
    cmds = {b: [*grade, "--sandbox", b] for b in ["process", "bwrap"] + (["docker"] if use_docker else [])}
    cmds["bwrap-fresh"] = ["env", "PA5_BWRAP_TEMPLATE=0", *grade, "--sandbox", "bwrap"]
    r = interleaved(cmds, repeats, cwd=ROOT)
    t.add(
        "9. one `grade` (correct example), per backend",
        ", ".join(f"{b} {fmt(v)}" for b, v in r.items()),
        "",
        f"bwrap/process {r['bwrap'][0] / r['process'][0]:.2f}x"
        + (f", docker/bwrap {r['docker'][0] / r['bwrap'][0]:.2f}x" if use_docker else ""),
        "",
        "measured",
    )

    rss = {}
    for label, code in (("numpy", "import numpy"), ("numpy + scipy.signal", "import numpy, scipy.signal")):
        probe = code + "; print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
        out = subprocess.run(bwrap_import(EXAMPLES / "correct", probe), capture_output=True, text=True).stdout
        rss[label] = int(out.split()[1]) / 1024 if out else float("nan")
    t.add(
        "10. peak memory of one bwrap sandbox (harness interpreter)",
        ", ".join(f"{k}: {v:.0f} MiB" for k, v in rss.items()),
        "",
        "",
        "",
        "measured",
    )
    bench_template(t, repeats)
    bench_check(t, repeats)


def bench_floor(t: Table, klass: Path, n: int, wall: float, work: Path, spec_path: Path) -> None:
    """Row 12: `batch --sandbox bwrap --jobs 2` against the class's compute floor (floor.floor), measured
    right after it."""
    from floor import floor

    from grader.spec import load_spec

    work.mkdir()
    f = floor(klass, load_spec(spec_path), 2, work)
    load = os.getloadavg()[0]
    t.add(
        f"12. batch, bwrap (template), {n} students, --jobs 2, against its compute floor",
        f"{wall:.1f} s",
        f"{f['seconds']:.1f} s (the students' calls in-process {sum(f['calls']):.1f} s, timeouts included, "
        f"+ {n} forks of {f['fork'] * 1000:.1f} ms, / 2 jobs); load average {load:.2f}",
        f"{wall / f['seconds']:.2f}x",
        "<= 2x",
        "yes" if wall <= 2 * f["seconds"] else "no",
    )


def bench_template(t: Table, repeats: int) -> None:
    """What the bwrap template saves per run: a fork of an interpreter that imported numpy and scipy, against
    importing them afresh."""
    from grader.sandbox.bwrap.setup import choose_python, filesystem

    python, _ = choose_python(None if os.geteuid() else 61999)
    path = repr(filesystem(python)[1])
    fresh = [python, "-I", "-S", "-c", f"import sys; sys.path[:0] = {path}; import numpy, scipy.signal"]
    fork = (
        f"import sys, os, time; sys.path[:0] = {path}; import numpy, scipy.signal\n"
        "t = []\n"
        "for _ in range(20):\n"
        "    t0 = time.perf_counter(); pid = os.fork()\n"
        "    if pid == 0: os._exit(0)\n"
        "    os.waitpid(pid, 0); t.append(time.perf_counter() - t0)\n"
        "t.sort(); print(t[len(t) // 2])"
    )
    fresh_s = statistics.median(timed(fresh) for _ in range(max(3, repeats)))
    out = subprocess.run([python, "-I", "-S", "-c", fork], capture_output=True, text=True).stdout
    fork_s = float(out) if out.strip() else float("nan")
    t.add(
        "11. fork of the pre-imported template vs a fresh import of numpy + scipy.signal",
        f"fork {fork_s * 1000:.1f} ms",
        f"fresh {fresh_s * 1000:.0f} ms",
        f"{fresh_s / fork_s:.0f}x",
        "stretch goal",
        "built (bwrap)",
    )


def bench_check(t: Table, repeats: int) -> None:
    """Row 13 (issue 21): `check` of the correct example, as a student runs it and with --sandbox bwrap, against
    a floor of the libraries the CLI imports before it can grade plus a bare bwrap sandbox importing numpy."""
    why = bwrap_ready()
    if why:
        t.add("13. `check` vs a bare bwrap start", f"skipped: {why}", "", "", "<= 1.3x", "n/a")
        return
    check = [*CLI, "check", str(EXAMPLES / "correct")]
    probe = subprocess.run([*check, "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    if probe.returncode != 0:
        failed = f"check failed ({probe.returncode})"
        t.add("13. `check` vs a bare bwrap start", failed, probe.stderr[-200:], "", "<= 1.3x", "no")
        return
    box = json.loads(probe.stdout)["sandbox"]
    picked = box["backend"] + (" from the template" if "pre-imported template" in box["note"] else ", fresh")
    cmds = {
        "check": check,
        "check --sandbox bwrap": [*check, "--sandbox", "bwrap"],
        # Parsing arguments, the cases and the models: any CLI grading in Python pays these; grader's own modules
        # (grader.cli imports every command's) are not in the floor, and are timed beside it.
        "libraries": [PY, "-c", "import click, numpy, pydantic"],
        "bwrap": bwrap_import(EXAMPLES / "correct", "import numpy"),
        "import grader.cli": [PY, "-c", "import grader.cli"],
    }
    r = interleaved(cmds, repeats, cwd=ROOT)
    floor = r["libraries"][0] + r["bwrap"][0]
    ratio = r["check"][0] / floor
    t.add(
        f"13. `check` of the correct example (default sandbox: {picked}; median of {repeats}, in turn with the floor)",
        f"{fmt(r['check'])}; with --sandbox bwrap {fmt(r['check --sandbox bwrap'])}",
        f"{floor:.3f} s (CLI libraries click, numpy, pydantic {r['libraries'][0]:.3f} + a bare bwrap sandbox "
        f"importing numpy {r['bwrap'][0]:.3f}); `import grader.cli` alone {r['import grader.cli'][0]:.3f}",
        f"{ratio:.2f}x (--sandbox bwrap {r['check --sandbox bwrap'][0] / floor:.2f}x)",
        "<= 1.3x",
        "yes" if ratio <= 1.3 else "no",
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--class-size", type=int, default=200)
    ap.add_argument("--big", type=int, default=1000, help="the large class (0: skip)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--only", choices=["check"], help="only this row (check: row 13)")
    a = ap.parse_args(argv)
    t = Table()
    if a.only == "check":
        bench_check(t, a.repeats)
        print(t.markdown())
        return 0
    use_docker = not a.no_docker and docker_ready()
    with tempfile.TemporaryDirectory(prefix="pa5-bench-") as tmp:
        work = Path(tmp)
        spec = work / "bench.toml"
        spec.write_text("[limits]\ncall_timeout = 2.0\n")
        bench_sandboxes(t, n=a.class_size, big=a.big, repeats=a.repeats, work=work, spec=spec, use_docker=use_docker)
    print(f"Docker image {IMAGE}: {'measured' if use_docker else 'skipped'}; {time.strftime('%Y-%m-%d')}\n")
    print(t.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
