"""The warm pool: ready sandboxes, replaced when they die idle, each serving one submission and nothing after."""

import os
import time

import pytest

from grader.sandbox.pool import WarmPool
from grader.sandbox.runner import run_submission
from grader.spec import Limits
from grader.submission import load_submission
from tests.children import default_signals
from tests.conftest import harness_processes, lingering_harness_processes
from tests.grader.sandbox import hostile


class FakeWarm:
    def __init__(self, n):
        self.n, self.dead, self.discarded, self.job = n, False, False, None

    def alive(self):
        return not self.dead

    def discard(self):
        self.discarded = True


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_pool_refills_replaces_the_dead_and_discards_on_close():
    made = []

    def spawn():
        made.append(FakeWarm(len(made)))
        return made[-1]

    with WarmPool(spawn, 2) as pool:
        wait_for(lambda: len(pool.ready) == 2)
        first = pool.take()
        assert first is made[0] and pool.served == 1
        wait_for(lambda: len(made) == 3)
        made[1].dead = True  # dies while idle
        wait_for(lambda: made[1].discarded and len(pool.ready) == 2)
        assert made[1] not in pool.ready
        idle = list(pool.ready)
    assert all(w.discarded for w in idle) and not first.discarded


def test_a_failing_start_costs_speed_not_grades():
    def spawn():
        raise OSError("no sandbox today")

    with WarmPool(spawn, 1) as pool:
        wait_for(lambda: pool.failure is not None)
        assert pool.take() is None


def test_one_shot_pool_never_refills():
    made = []
    pool = WarmPool(lambda: made.append(FakeWarm(0)) or made[-1], 1, refill=False)
    assert pool.take() is made[0] and pool.take() is None
    time.sleep(0.3)
    assert len(made) == 1
    pool.close()


# Leaves everything it can behind: files wherever it may write, a process, environment and module state.
LITTER = (
    hostile.CORRECT
    + """
import os, subprocess, sys, numpy
for d in ("/tmp", os.getcwd(), os.environ.get("HOME", "/tmp"), "/dev/shm", os.environ.get("TMPDIR", "/tmp")):
    try:
        open(os.path.join(d, "pa5-litter"), "w").write("x")
    except OSError:
        pass
os.environ["PA5_LITTER"] = "1"
numpy.pa5_litter = 1
if os.fork() == 0:
    os.setsid()
    sys.argv[0] = "pa5-litter-daemon"
    import time
    while True:
        time.sleep(1)
"""
)

# Fails loudly if anything of an earlier student is visible.
LOOK = (
    hostile.CORRECT
    + """
import os, numpy
seen = []
for d in ("/tmp", os.getcwd(), os.environ.get("HOME", "/tmp"), "/dev/shm", os.environ.get("TMPDIR", "/tmp")):
    if os.path.exists(os.path.join(d, "pa5-litter")):
        seen.append(d)
if "PA5_LITTER" in os.environ or hasattr(numpy, "pa5_litter"):
    seen.append("state")
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            seen += ["process"] if b"litter" in open(f"/proc/{pid}/cmdline", "rb").read() else []
        except OSError:
            pass
        try:
            seen += ["process"] if b"PA5_LITTER" in open(f"/proc/{pid}/environ", "rb").read() else []
        except OSError:
            pass
if seen:
    raise RuntimeError(f"LEFTOVERS {seen}")
print("CLEAN", flush=True)
"""
)


def _run(backend, tmp_path, source, cases, limits):
    (tmp_path / "backprop.py").write_text(source)
    return run_submission(
        submission=load_submission(tmp_path / "backprop.py"), cases=cases, backend=backend, limits=limits
    )


@pytest.fixture(
    params=[pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)]
)
def isolating(request):
    return request.getfixturevalue(f"{request.param}_backend")


def test_the_next_student_in_a_pool_slot_sees_nothing_of_the_last(isolating, tmp_path, public_cases, spec):
    cases = public_cases[:2]
    with isolating.pool(1, spec.limits) as pool:
        wait_for(lambda: pool.ready, timeout=60)
        (tmp_path / "a").mkdir()
        first = _run(isolating, tmp_path / "a", LITTER, cases, spec.limits)
        assert all(c.status == "ok" for c in first.calls.values()), (first.calls, first.output)
        wait_for(lambda: pool.ready, timeout=60)  # the slot's replacement
        (tmp_path / "b").mkdir()
        second = _run(isolating, tmp_path / "b", LOOK, cases, spec.limits)
        assert pool.served == 2, "both submissions ran in pooled sandboxes"
    assert second.import_error is None and "CLEAN" in second.output, second.output
    assert not harness_processes()


def test_a_pooled_sandbox_that_dies_idle_is_replaced(bwrap_backend, spec):
    with bwrap_backend.pool(1, spec.limits) as pool:
        wait_for(lambda: pool.ready, timeout=60)
        victim = pool.ready[0]
        victim.proc.kill()
        wait_for(lambda: pool.ready and pool.ready[0] is not victim and pool.ready[0].alive(), timeout=60)
        assert not victim.job.exists()
        survivor = pool.ready[0]
    assert not survivor.alive() and not survivor.job.exists()
    assert not harness_processes()


def test_a_pool_started_with_other_limits_falls_back_to_a_cold_start(bwrap_backend, tmp_path, public_cases, spec):
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    with bwrap_backend.pool(1, Limits(cpu_seconds=30)) as pool:
        wait_for(lambda: pool.ready, timeout=60)
        run = _run(
            bwrap_backend,
            tmp_path,
            hostile.correct_except(fc_backward="while True:\n    pass"),
            fc,
            Limits(cpu_seconds=1, call_timeout=20),
        )
        assert pool.served == 1
    call = next(iter(run.calls.values()))
    assert call.status == "crashed" and "CPU time limit" in call.message  # the run's limit, not the pool's


@pytest.mark.parametrize("sandbox", [pytest.param("bwrap", marks=pytest.mark.bwrap)])
def test_ctrl_c_during_a_pooled_batch_leaves_no_sandbox_and_no_job(sandbox, tmp_path, request):
    import signal
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    request.getfixturevalue(f"{sandbox}_backend")  # skips (or fails, when required) where it cannot run
    examples = Path(__file__).resolve().parents[3] / "submissions_example"
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "a-first").mkdir()
    (klass / "a-first" / "backprop.py").write_text(hostile.CORRECT)
    for i in range(4):
        (klass / f"hang{i}").mkdir()
        (klass / f"hang{i}" / "backprop.py").write_text(hostile.INFINITE_LOOP_CALL)
    out, spec = tmp_path / "reports", tmp_path / "spec.toml"
    spec.write_text("[limits]\ncall_timeout = 30\n")
    graders = Path(tempfile.gettempdir()) / f"pa5-grader-{os.getuid()}"  # every grader's jobs folder is in here
    before = set(graders.glob("g*/job-*")) | set(graders.glob("g*"))  # earlier tests' are theirs to answer for
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "--out", str(out), "--jobs", "2"]
    cmd += ["--sandbox", sandbox, "--insecure-default-secret", "--spec", str(spec)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=examples.parent, preexec_fn=default_signals
    )  # it gets a SIGINT below, even if pytest was started with SIGINT ignored
    wait_for(lambda: (out / "a-first.json").exists(), timeout=60)
    time.sleep(1.0)  # two hanging submissions are in their sandboxes, two more sandboxes wait in the pool
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not lingering_harness_processes(), "a sandbox outlived the interrupted batch"
    left = (set(graders.glob("g*/job-*")) | set(graders.glob("g*"))) - before
    assert not left, f"the interrupted batch left {left}"
