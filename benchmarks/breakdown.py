"""Where a template (bwrap) batch spends its time, and the floor it is measured against (issue 21).

Called from run.py (`--breakdown`); runnable alone:
    python benchmarks/breakdown.py [--class-size N] [--jobs J] [--repeats R]

The floor: for the same class, each student's functions called in-process on that student's graded cases, in
the sandbox's own interpreter with numpy and scipy.signal imported, plus one fork of that interpreter per
student; divided by the jobs. The breakdown: the same batch graded in this process, each grader function of a
stage timed (wall and CPU of its thread, nested stages charged to the innermost), and each sandbox run's own
seconds per stage (the harness's out/marks, asked for by protocol.MARKS). Quotas, seccomp and the watchdog stay
on: nothing here changes a limit.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, make_class
from floor import floor, versus_floor

sys.path.insert(0, str(ROOT))
from grader.config import INSECURE_DEFAULT_SECRET as SECRET

MISSING = object()


class Stages:
    """Wall and CPU seconds per stage, per thread, each charged to the innermost timed function running."""

    def __init__(self):
        self.wall: dict[str, float] = collections.defaultdict(float)
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.undo: list[tuple[object, str, object]] = []

    def _stack(self) -> list:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        return self.local.stack

    def _charge(self, frame: list, now: float, cpu: float) -> None:
        stage, t, c = frame
        if stage is not None:
            with self.lock:
                self.wall[stage] += now - t
                self.cpu[stage] += cpu - c
        frame[1], frame[2] = now, cpu

    def wrap(self, owner, name: str, stage) -> None:
        """Time owner.name as `stage` (a name, None for time another thread accounts for, or a function of the
        call's arguments giving the name)."""
        fn = getattr(owner, name)
        self.undo.append((owner, name, vars(owner).get(name, MISSING)))

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            stack = self._stack()
            now, cpu = time.perf_counter(), time.thread_time()
            if stack:
                self._charge(stack[-1], now, cpu)
            stack.append([stage(*args) if callable(stage) else stage, now, cpu])
            try:
                return fn(*args, **kwargs)
            finally:
                now, cpu = time.perf_counter(), time.thread_time()
                self._charge(stack.pop(), now, cpu)
                if stack:
                    stack[-1][1], stack[-1][2] = now, cpu

        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, fn in reversed(self.undo):
            if fn is MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, fn)
        self.undo.clear()


def profile_batch(klass: Path, spec, jobs: int, out: Path) -> dict:
    """Grade `klass` in this process with every stage timed: {"wall", "grader", "grader_cpu", "sandbox", "n"}."""
    from grader.feedback import shrink
    from grader.report.model import Report
    from grader.sandbox import calls as calls_mod
    from grader.sandbox import make_backend, protocol, runner
    from grader.sandbox.bwrap import template
    from grader.scoring import score
    from grader.workflows import batch, grade

    st = Stages()
    marks: dict[str, float] = collections.defaultdict(float)
    phase = threading.local()
    timeouts = [0]

    def read_marks(job, *_):
        data = (Path(job) / "box" / "out" / "marks").read_text() if (Path(job) / "box/out/marks").is_file() else ""
        for line in data.splitlines():
            name, _, seconds = line.rpartition(" ")
            marks[name] += float(seconds)

    original_remove = runner.remove_job

    def remove_job(job):
        read_marks(job)
        return original_remove(job)

    original_run = calls_mod.Calls.run

    def run(self, todo):
        phase.round = getattr(self, "_bench_rounds", 0)
        self._bench_rounds = phase.round + 1
        return original_run(self, todo)

    original_watch = calls_mod._watch

    def watch(attempt, job, limits, *rest):
        reason, code = original_watch(attempt, job, limits, *rest)
        if reason == "call-timeout":
            timeouts[0] += 1
        return reason, code

    runner.remove_job = remove_job
    calls_mod.Calls.run = run
    calls_mod._watch = watch
    for owner, name, stage in [
        (batch, "grade_or_zero", "other (grader)"),
        (grade, "grading_cases", "case generation"),
        (grade, "plan_feedback", "case generation"),
        (grade, "run_submission", None),  # its worker thread accounts for it
        (runner, "write_job", "job-folder writes"),
        (runner, "write_plan", "job-folder writes"),
        (runner, "remove_job", "job-folder writes"),
        (template, "new_job_dir", "job-folder writes"),
        (template, "give", "job-folder writes"),
        (calls_mod, "fresh_scratch", "job-folder writes"),
        (calls_mod, "clear_rounds", "job-folder writes"),
        (calls_mod, "write_round", "job-folder writes"),
        (template.ForkBackend, "open", "sandbox hand-off (take a template, FIFO, request, end)"),
        (template.ForkSession, "start", "sandbox hand-off (take a template, FIFO, request, end)"),
        (template.ForkSession, "finish", "sandbox hand-off (take a template, FIFO, request, end)"),
        (template.ForkSession, "close", "sandbox hand-off (take a template, FIFO, request, end)"),
        (
            calls_mod,
            "_watch",
            lambda *a: (
                "waiting on the sandbox: graded calls" if phase.round == 0 else "waiting on the sandbox: feedback"
            ),
        ),
        (protocol, "read_capped", "result transfer (reads)"),
        (runner, "read_capped", "result transfer (reads)"),
        (calls_mod, "read_call", "validation"),
        (calls_mod, "read_progress", "validation"),
        (calls_mod, "read_import_status", "validation"),
        (calls_mod, "box_full", "validation"),
        (runner._Run, "body", "other (grader)"),
        (grade, "build_report", "scoring"),
        (score, "Report", "report building"),
        (score, "ProblemReport", "report building"),
        (score, "CaseReport", "report building"),
        (score, "_with_points", "report building"),
        (score, "_judged", "feedback: judging its cases"),
        (score, "minimal_case", "feedback: judging its cases"),
        (shrink.Shrinker, "__call__", "feedback: choosing its calls"),
        (Report, "model_dump_json", "report writing"),
        (batch, "write", "report writing"),
        (batch, "write_summary", "class summary"),
    ]:
        st.wrap(owner, name, stage)
    protocol.MARKS = True
    try:
        with make_backend("bwrap") as backend:
            if backend.name != "bwrap" or not isinstance(backend, template.ForkBackend):
                raise SystemExit("the breakdown needs the bwrap template backend")
            with backend.pool(jobs, spec.limits):
                for t in backend._idle:
                    t.wait_ready()
                t0 = time.perf_counter()
                batch.run_batch(submissions=klass, out=out, spec=spec, backend=backend, secret=SECRET, jobs=jobs)
                wall = time.perf_counter() - t0
    finally:
        protocol.MARKS = False
        st.restore()
        runner.remove_job, calls_mod.Calls.run, calls_mod._watch = original_remove, original_run, original_watch
    n = sum(1 for _ in klass.iterdir())
    return {
        "wall": wall,
        "grader": dict(st.wall),
        "grader_cpu": dict(st.cpu),
        "sandbox": dict(marks),
        "timeouts": timeouts[0] * spec.limits.call_timeout,
        "n": n,
    }


SANDBOX_STAGES = [
    ("fork", "fork of the template into new namespaces (clone)"),
    ("namespaces", "uid map and keyring"),
    ("mounts", "mounts (new root, job, scratch, /proc, pivot_root)"),
    ("limits", "descriptors, capabilities, PID 2 fork, rlimits, seccomp"),
    ("load", "load of the plan and inputs"),
    ("import", "import of the student module"),
    ("calls", "the graded calls"),
    ("results", "argument copies, result conversion and writes"),
    ("feedback calls", "feedback calls (failing layers)"),
]


def breakdown_table(p: dict) -> str:
    """The profile as a markdown table, per student."""
    n = p["n"]
    ms = lambda s: f"{s * 1000 / n:.1f}"  # noqa: E731
    rows = []
    grader, cpu, box = dict(p["grader"]), p["grader_cpu"], p["sandbox"]
    box_total = sum(box.get(k, 0.0) for k, _ in SANDBOX_STAGES)
    waited = sum(v for k, v in grader.items() if k.startswith("waiting on the sandbox"))
    for key, label in SANDBOX_STAGES:
        rows.append(("sandbox", label, ms(box.get(key, 0.0)), ""))
    rows.append(("sandbox", "call timeouts (the 2 s limit, 1 in 100 students)", ms(p["timeouts"]), ""))
    rest = waited - box_total - p["timeouts"]
    rows.append(("between", "waiting beyond the sandbox's own stages (poll interval, exits)", ms(rest), ""))
    for k in sorted(grader, key=lambda k: -grader[k]):
        if not k.startswith("waiting on the sandbox"):
            rows.append(("grader", k, ms(grader[k]), ms(cpu.get(k, 0.0))))
    total = sum(v for k, v in grader.items())
    head = (
        f"{n} students, wall {p['wall']:.1f} s ({p['wall'] * 1000 / n:.0f} ms per student); timed stages add up to "
        f"{total * 1000 / n:.0f} ms per student (over all grading threads). The harness waited "
        f"{box.get('round wait', 0.0) * 1000 / n:.1f} ms per student for the grader's next feedback round "
        "(counted on the grader's side).\n\n"
        "| side | stage | wall ms per student | grader CPU ms per student |\n| --- | --- | --- | --- |\n"
    )
    return head + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"


def main(argv=None) -> int:
    from grader.spec import load_spec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--class-size", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=1, help="grading threads of the profiled batch")
    ap.add_argument(
        "--versus-floor",
        action="store_true",
        help="instead: `batch --sandbox bwrap --jobs 2` (the CLI, as run.py runs it) against the floor",
    )
    ap.add_argument("--grader-root", type=Path, default=ROOT, help="with --versus-floor: the checkout whose CLI runs")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pa5-breakdown-") as tmp:
        work = Path(tmp)
        spec_path = work / "bench.toml"
        spec_path.write_text("[limits]\ncall_timeout = 2.0\n")
        spec = load_spec(spec_path)
        klass = make_class(work / "class", a.class_size, call_hangs=max(1, a.class_size // 100))
        if a.versus_floor:
            return versus_floor(klass, spec, spec_path, work, a.grader_root)
        load = os.getloadavg()
        f = floor(klass, spec, a.jobs, work)
        p = profile_batch(klass, spec, a.jobs, work / "out")
        load = f"{load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, load average (1 min) {load}; quotas, seccomp and the watchdog on.\n"
        f"Floor: calls {sum(f['calls']):.2f} s in all (median {sorted(f['calls'])[f['n'] // 2] * 1000:.1f} ms a "
        f"student), fork {f['fork'] * 1000:.1f} ms each, / {a.jobs} jobs = {f['seconds']:.2f} s; "
        f"this batch {p['wall']:.2f} s = {p['wall'] / f['seconds']:.2f}x the floor.\n"
    )
    print(breakdown_table(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
