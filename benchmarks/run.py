"""Benchmarks: grading speed against the floor the machine cannot avoid, and scaling with class size.

Usage: python benchmarks/run.py [--quick] [--class-size N] [--repeats R] [--no-docker] [--output FILE]
       python benchmarks/run.py --breakdown [--class-size N] [--jobs J]   (benchmarks/breakdown.py only)

Prints a markdown table. Every ratio is measured side by side with its floor in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
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
    import_student,
    interleaved,
    make_class,
    parallel_floor,
    peak_rss_mb,
    run_batch,
    stats,
)


def bench_latency(t: Table, repeats: int, use_docker: bool, work: Path) -> None:
    floor_cli = [PY, "-c", "import click, numpy, pydantic"]
    floor_box = [PY, "-I", "-c", "import numpy"]
    check = [*CLI, "check", str(EXAMPLES / "correct"), "--sandbox", "process"]
    r = interleaved({"check": check, "cli": floor_cli, "box": floor_box}, repeats, cwd=ROOT)
    floor = r["cli"][0] + r["box"][0]
    ratio = r["check"][0] / floor
    t.add(
        "1. self-test latency (`check`, process)",
        fmt(r["check"]),
        f"{floor:.3f} s (CLI imports {r['cli'][0]:.3f} + numpy in a sandbox interpreter {r['box'][0]:.3f})",
        f"{ratio:.2f}x",
        "<= 1.5x",
        "yes" if ratio <= 1.5 else "no",
    )
    if not use_docker:
        t.add("2. single grade, docker", "skipped: no Docker or no runner image", "", "", "<= 1.5x", "n/a")
        return
    grade = [*CLI, "grade", str(EXAMPLES / "correct"), "--student-id", "bench", "--insecure-default-secret"]
    grade += ["--sandbox", "docker"]
    bare = ["docker", "run", "--rm", "--network", "none", IMAGE, "python3", "-c", "import numpy"]
    # What this command needs includes the docker SDK (about 0.12 s here, most of it requests).
    floor_cli_docker = [PY, "-c", "import click, numpy, pydantic, docker"]
    r = interleaved({"grade": grade, "bare": bare, "cli": floor_cli_docker}, repeats, cwd=ROOT)
    floor = r["bare"][0] + r["cli"][0]
    ratio = r["grade"][0] / floor
    t.add(
        "2. single grade (`grade --sandbox docker`)",
        fmt(r["grade"]),
        f"{floor:.3f} s (docker run importing numpy {r['bare'][0]:.3f}"
        f" + CLI imports incl. the docker SDK {r['cli'][0]:.3f})",
        f"{ratio:.2f}x",
        "<= 1.5x",
        "yes" if ratio <= 1.5 else "no",
    )


def bench_batch(t: Table, n: int, use_docker: bool, work: Path, spec: Path) -> None:
    cpus = os.cpu_count() or 1
    klass = make_class(work / "class", n, call_hangs=max(1, n // 100))
    backends = ["process"] + (["docker"] if use_docker else [])
    hang_cost = max(1, n // 100) * 2.0  # each call-hang costs one call timeout (2 s in the bench spec)
    for backend in backends:
        for jobs in sorted({1, 2, cpus}):
            wall = run_batch(klass, work / "out", jobs, backend, spec)
            floor_wall = (
                parallel_floor([import_student(d, backend) for d in sorted(klass.iterdir())], jobs) + hang_cost / jobs
            )
            ratio = (n / wall) / (n / floor_wall)
            t.add(
                f"3. batch throughput, {backend}, {n} students, --jobs {jobs}",
                f"{n / wall:.2f}/s ({wall:.1f} s)",
                f"{n / floor_wall:.2f}/s (a fresh {'container' if backend == 'docker' else 'interpreter'}"
                " importing each student's module, + the timeouts)",
                f"{ratio:.2f}x",
                ">= 0.7x",
                "yes" if ratio >= 0.7 else "no",
            )
    # Timeouts: 10% of the class hangs at import; the extra time should be what the limits require.
    jobs = cpus
    half = max(n // 2, 10)
    base = make_class(work / "nohang", half)
    hang = make_class(work / "hang", half, hang_fraction=0.1)
    n_hang = max(1, round(half * 0.1))
    w0 = run_batch(base, work / "out", jobs, "process", spec)
    w1 = run_batch(hang, work / "out", jobs, "process", spec)
    required = n_hang * 2.0 / jobs
    ratio = (w1 - w0) / required
    t.add(
        f"3b. cost of timeouts ({n_hang} of {half} hang at import, --jobs {jobs})",
        f"+{w1 - w0:.1f} s",
        f"+{required:.1f} s (hangs x 2 s limit / jobs)",
        f"{ratio:.2f}x",
        "<= 1.2x",
        "yes" if ratio <= 1.2 else "no",
    )


def bench_scaling(t: Table, sizes: list[int], work: Path, spec: Path) -> None:
    jobs = os.cpu_count() or 1
    results = []
    for n in sizes:
        klass = make_class(work / f"scale{n}", n)
        shutil.rmtree(work / "out", ignore_errors=True)
        cmd = [*CLI, "batch", str(klass), "--out", str(work / "out"), "--jobs", str(jobs), "--sandbox", "process"]
        cmd += ["--insecure-default-secret", "--spec", str(spec)]
        wall, rss = peak_rss_mb(cmd, cwd=ROOT)
        results.append((n, wall, rss))
    per = [w / n for n, w, _ in results]
    lin = max(per) / min(per)
    t.add(
        "4. scaling, wall time per student at " + "/".join(str(n) for n, _, _ in results),
        " / ".join(f"{p * 1000:.0f} ms" for p in per),
        "constant",
        f"{lin:.2f}x spread",
        "close to 1x",
        "yes" if lin <= 1.25 else "no",
    )
    mems = [m for _, _, m in results]
    t.add(
        "4b. grader peak memory at " + "/".join(str(n) for n, _, _ in results),
        " / ".join(f"{m:.0f} MiB" for m in mems),
        "flat",
        f"{max(mems) / min(mems):.2f}x",
        "no growth",
        "yes" if max(mems) / min(mems) <= 1.15 else "no",
    )


def bench_reference(t: Table, repeats: int) -> None:
    import numpy as np
    from scipy.signal import correlate2d

    sys.path.insert(0, str(ROOT))
    from grader.cases.generate import generate
    from grader.spec import default_spec
    from reference import conv_backward

    rng = np.random.default_rng(0)
    x, w, dy = rng.normal(size=(64, 64)), rng.normal(size=(7, 7)), rng.normal(size=(64, 64))

    def scipy_backward():
        correlate2d(dy, w, mode="same")
        correlate2d(np.pad(dy, 3), x, mode="valid")

    def best(fn, n=20):
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - t0) / n)
        return stats(out)

    ours, theirs = best(lambda: conv_backward(x, w, dy)), best(scipy_backward)
    ratio = ours[0] / theirs[0]
    t.add(
        "5. conv backward, 64x64 image, 7x7 kernel",
        f"{ours[0] * 1e3:.2f} ms",
        f"{theirs[0] * 1e3:.2f} ms (scipy.signal)",
        f"{ratio:.2f}x",
        "<= 2x",
        "yes" if ratio <= 2 else "no",
    )

    spec = default_spec()
    cases = generate(spec=spec, seed=1, hidden=True)
    from scipy.signal import convolve2d

    def scipy_same():
        """What generation computes per case (answers and known wrong answers), done by scipy and numpy."""
        for c in cases:
            i = c.inputs
            if c.layer == "conv":
                x, w, dy = i["x"], i["w"], i["dy"]
                r = ((w.shape[0] // 2,) * 2, (w.shape[1] // 2,) * 2)
                correlate2d(dy, w, mode="same")
                convolve2d(dy, w, mode="same")
                convolve2d(dy, w[:, ::-1], mode="same")
                convolve2d(dy, w[::-1, :], mode="same")
                correlate2d(np.pad(dy, r, mode="wrap"), w, mode="valid")
                correlate2d(np.pad(dy, r), x, mode="valid")
                correlate2d(np.pad(dy, r, mode="wrap"), x, mode="valid")
            elif c.layer == "fc":
                x, W, dy = i["x"], i["W"], i["dy"]
                W.T @ dy, np.outer(dy, x), W.T * dy
            else:
                s = i["s"]
                p = np.exp(s - s.max())
                p / p.sum()

    ours, theirs = best(lambda: generate(spec=spec, seed=1, hidden=True), 3), best(scipy_same, 3)
    ratio = ours[0] / theirs[0]
    t.add(
        "5b. one student's hidden case set (with its mistake answers)",
        f"{ours[0] * 1e3:.1f} ms",
        f"{theirs[0] * 1e3:.1f} ms (scipy.signal and numpy computing the same answers)",
        f"{ratio:.2f}x",
        "<= 2x",
        "yes" if ratio <= 2 else "no",
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small classes and few repeats (a smoke run)")
    ap.add_argument("--class-size", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--output", type=Path)
    ap.add_argument("--no-sandboxes", action="store_true", help="skip the bwrap/warm-pool rows (sandboxes.py)")
    ap.add_argument("--big-class", type=int, default=1000, help="the large bwrap class of sandboxes.py (0: skip)")
    ap.add_argument("--no-scale", action="store_true", help="skip the Celery/Redis/PostgreSQL rows (scale.py)")
    ap.add_argument("--no-service", action="store_true", help="skip the service rows (service.py)")
    ap.add_argument("--breakdown", action="store_true", help="only the floor and per-stage breakdown (breakdown.py)")
    ap.add_argument("--jobs", type=int, default=1, help="with --breakdown: grading threads of the profiled batch")
    a = ap.parse_args(argv)
    if a.breakdown:
        from breakdown import main as breakdown

        return breakdown(["--class-size", str(a.class_size), "--jobs", str(a.jobs)])
    n, repeats = (4, 1) if a.quick else (a.class_size, a.repeats)
    sizes = [2, 4] if a.quick else [n // 4, n // 2, n]
    use_docker = not a.no_docker and docker_ready()
    import numpy

    t = Table()
    with tempfile.TemporaryDirectory(prefix="pa5-bench-") as tmp:
        work = Path(tmp)
        spec = work / "bench.toml"
        spec.write_text("[limits]\ncall_timeout = 2.0\n")
        print("self-test and grade latency ...", file=sys.stderr)
        bench_latency(t, repeats, use_docker, work)
        print("batch throughput ...", file=sys.stderr)
        bench_batch(t, n, use_docker, work, spec)
        if not a.no_sandboxes:
            from sandboxes import bench_sandboxes

            print("sandboxes: bwrap against docker, warm pool ...", file=sys.stderr)
            big = 0 if a.quick else a.big_class
            bench_sandboxes(t, n=n, big=big, repeats=repeats, work=work, spec=spec, use_docker=use_docker)
        print("scaling ...", file=sys.stderr)
        bench_scaling(t, sizes, work, spec)
        print("reference ...", file=sys.stderr)
        bench_reference(t, repeats)
        if not a.no_service:
            from service import bench_service

            print(
                "service: idle latency and a burst from 50 clients (service.py --burst 1000 for the issue-21 size) ...",
                file=sys.stderr,
            )
            sandbox = "auto" if use_docker else "bwrap"
            bench_service(t, work=work, n_latency=5 if a.quick else 50, n_burst=12 if a.quick else n, sandbox=sandbox)
        if not a.no_scale:
            from scale import bench_scale

            print("scale-out (celery) ...", file=sys.stderr)
            bench_scale(t, n=4 if a.quick else n // 2, burst_n=8 if a.quick else n)
    head = (
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, "
        f"Docker rows: {'measured' if use_docker else 'skipped (no daemon or no runner image)'}. "
        f"Medians over {repeats} runs (range in brackets); ratios are against floors measured in the same run.\n\n"
    )
    text = head + t.markdown()
    print(text)
    if a.output:
        a.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
