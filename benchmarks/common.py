"""What every benchmark script imports: the example class, the CLI, timing and the table (issue 17).

Not a script: run.py, sandboxes.py, breakdown.py, floor.py, service.py and scale.py import it, and it imports none
of them, so no script imports another that imports it back.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "submissions_example"
MIX = [
    "correct",
    "correct_float32_loops",
    "helpers_split",
    "naive_softmax",
    "p_without_t",
    "transposed_fc",
    "unflipped_kernel",
    "starter",
]
HANG_AT_IMPORT = "while True:\n    pass\n"
IMAGE = "pa5-grader-runner:latest"
PY = sys.executable
CLI = [PY, "-m", "grader"]


def timed(cmd: list[str], **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kw)
    return time.perf_counter() - t0


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def interleaved(cmds: dict[str, list[str]], repeats: int, **kw) -> dict[str, tuple[float, float, float]]:
    """Run the commands in turn, `repeats` times, so drift on a shared machine hits them alike."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for c in cmds.values():  # warm caches once
        timed(c, **kw)
    for _ in range(repeats):
        for k, c in cmds.items():
            times[k].append(timed(c, **kw))
    return {k: stats(v) for k, v in times.items()}


def fmt(s: tuple[float, float, float]) -> str:
    med, lo, hi = s
    return f"{med:.3f} s ({lo:.3f}-{hi:.3f})"


def docker_ready() -> bool:
    try:
        r = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, timeout=20)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def make_class(folder: Path, n: int, *, hang_fraction: float = 0.0, call_hangs: int = 0) -> Path:
    """n students cycling through the examples; a fraction hang at import, a few hang inside a call."""
    folder.mkdir(parents=True)
    n_hang = round(n * hang_fraction)
    for i in range(n):
        d = folder / f"s{i:04d}"
        if i < n_hang:
            d.mkdir()
            (d / "backprop.py").write_text(HANG_AT_IMPORT)
        elif i < n_hang + call_hangs:
            d.mkdir()
            src = (EXAMPLES / "correct" / "backprop.py").read_text()
            (d / "backprop.py").write_text(src + "\n\ndef fc_backward(x, W, dy):\n    while True:\n        pass\n")
        else:
            shutil.copytree(EXAMPLES / MIX[i % len(MIX)], d)
    return folder


def peak_rss_mb(cmd: list[str], **kw) -> tuple[float, float]:
    """(wall seconds, peak RSS of that process alone in MiB), polling VmHWM until it exits."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    return time.perf_counter() - t0, peak / 1024


def import_student(folder: Path, backend: str) -> list[str]:
    """The floor for one student: a fresh interpreter (or container) importing numpy and the student's module,
    which pulls in whatever the student imports (scipy.signal alone costs most of a second)."""
    code = "import sys; sys.path.insert(0, {!r}); import numpy, backprop"
    if backend == "docker":
        return [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            f"{folder}:/s:ro",
            IMAGE,
            "python3",
            "-I",
            "-c",
            code.format("/s"),
        ]
    return [PY, "-I", "-c", code.format(str(folder))]


def parallel_floor(cmds: list[list[str]], jobs: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(timed, cmds))
    return time.perf_counter() - t0


class Table:
    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def add(self, what, grader, floor, ratio, target, met):
        self.rows.append((what, grader, floor, ratio, target, met))
        print(f"  {what}: {grader} vs {floor} -> {ratio} [{met}]", file=sys.stderr, flush=True)

    def markdown(self) -> str:
        head = "| measure | grader | floor | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |\n"
        return head + "\n".join("| " + " | ".join(r) + " |" for r in self.rows) + "\n"


def run_batch(klass: Path, out: Path, jobs: int, sandbox: str, spec: Path, env: dict | None = None) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [*CLI, "batch", str(klass), "--out", str(out), "--jobs", str(jobs), "--sandbox", sandbox]
    cmd += ["--insecure-default-secret", "--spec", str(spec)]
    return timed(cmd, cwd=ROOT, env={**os.environ, **(env or {})})
