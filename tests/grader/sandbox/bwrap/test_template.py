"""The pre-imported template: one template serves student after student, and nothing passes between them.

The hostile suite runs against this backend too (the `fork` backend in conftest.py). These tests add
what only a template could leak: files, processes, module state, a trace of the template itself, and
signals to a submission graded beside it.
"""

import os
import threading
import time

import pytest

from grader.sandbox import calls as calls_module
from grader.sandbox.bwrap.template import ForkBackend
from grader.sandbox.bwrap.wakeups import WAKE_GAP
from grader.sandbox.capture import Capture
from grader.sandbox.protocol import read_progress, write_job, write_round
from grader.sandbox.runner import run_submission
from grader.sandbox.storage import remove_job
from grader.spec import Limits
from grader.submission import load_submission
from tests.conftest import harness_processes
from tests.grader.sandbox import hostile

pytestmark = pytest.mark.bwrap

LIMITS = Limits(call_timeout=10, submission_timeout=60)

# Writes a file into every folder it can write to, anywhere; leaves a daemon, environment, module and
# numpy state; tries to trace or read every process it can see and the template's likely pids.
LITTER = (
    hostile.CORRECT
    + """
import ctypes, os, sys, numpy
libc = ctypes.CDLL(None, use_errno=True)
wrote = []
walk = [*os.walk("/", topdown=True), *os.walk("/job/box")]  # /job itself is not listable: only passable
for top, dirs, files in walk:
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys")]
    try:
        with open(os.path.join(top, "pa5-litter"), "w") as f:
            f.write("x")
        wrote.append(top)
    except OSError:
        pass
print("WROTE", sorted(wrote), flush=True)
os.environ["PA5_LITTER"] = "1"
numpy.pa5_litter = 1
numpy.allclose = lambda *a, **k: True
sys.modules["pa5_litter"] = numpy
traced = []
for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()] + list(range(1, 4096)):
    if pid == os.getpid():
        continue
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        traced.append(pid)
        libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
    try:
        open(f"/proc/{pid}/mem", "rb").read(1)
        traced.append(pid)
    except OSError:
        pass
print("TRACED", traced, flush=True)
if os.fork() == 0:
    os.setsid()
    sys.argv[0] = "pa5-litter-daemon"
    import time
    while True:
        time.sleep(1)
"""
)

# Raises if anything of an earlier student is visible, anywhere.
LOOK = (
    hostile.CORRECT
    + """
import os, sys, numpy
seen = []
for top, dirs, files in [*os.walk("/", topdown=True), *os.walk("/job/box")]:
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys")]
    if "pa5-litter" in files:
        seen.append(top)
if "PA5_LITTER" in os.environ or hasattr(numpy, "pa5_litter") or "pa5_litter" in sys.modules:
    seen.append("state")
if numpy.allclose(numpy.zeros(1), numpy.ones(1)):
    seen.append("numpy patched")
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            if b"litter" in open(f"/proc/{pid}/cmdline", "rb").read():
                seen.append("process")
        except OSError:
            pass
if seen:
    raise RuntimeError(f"LEFTOVERS {seen}")
print("CLEAN", flush=True)
"""
)


def grade(backend, folder, source, cases, limits=LIMITS):
    folder.mkdir()
    (folder / "backprop.py").write_text(source)
    return run_submission(submission=load_submission(folder), cases=cases, backend=backend, limits=limits)


@pytest.fixture
def one_template(bwrap_backend):
    with ForkBackend() as backend:
        backend.pool(1, LIMITS)
        assert len(backend._idle) == 1
        yield backend


def test_the_next_student_of_a_template_sees_nothing_of_the_last(one_template, tmp_path, public_cases):
    cases = public_cases[:2]
    template = one_template._idle[0]
    first = grade(one_template, tmp_path / "a", LITTER, cases)
    assert all(c.status == "ok" for c in first.calls.values()), (first.calls, first.output)
    assert "WROTE" in first.output and "TRACED []" in first.output, first.output
    second = grade(one_template, tmp_path / "b", LOOK, cases)
    assert one_template._idle == [template] and template.alive(), "one template served both"
    assert second.import_error is None and "CLEAN" in second.output, second.output
    assert not harness_processes()


def test_only_the_jobs_box_is_writable(one_template, tmp_path, public_cases):
    run = grade(one_template, tmp_path / "a", LITTER, public_cases[:1])
    line = next(line for line in run.output.splitlines() if line.startswith("WROTE"))
    # All of it is the job's box, in one quota: its results, working folder, and its /tmp and /dev/shm.
    box = {"<job>/box", "<job>/box/out", "<job>/box/work", "<job>/box/tmp", "<job>/box/shm"}
    assert set(eval(line.removeprefix("WROTE "))) == box | {"/tmp", "/dev/shm"}


# Signals everything it can see, over and over, for a second.
SIGNAL_ALL = hostile.correct_except(
    fc_backward="""
import os, signal, time
end = time.time() + 1
while time.time() < end:
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:  # nothing it may signal
        pass
import numpy as np
x, W, dy = args
return W.T @ dy, np.outer(dy, x)
"""
)
SLOW = hostile.correct_except(
    fc_backward="import time\ntime.sleep(1.5)\nimport numpy as np\nx, W, dy = args\nreturn W.T @ dy, np.outer(dy, x)"
)


def test_a_submission_cannot_signal_one_graded_beside_it(bwrap_backend, tmp_path, public_cases):
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    with ForkBackend() as backend:
        backend.pool(2, LIMITS)
        templates = list(backend._idle)
        results = {}

        def run(name, source):
            results[name] = grade(backend, tmp_path / name, source, fc)

        threads = [threading.Thread(target=run, args=a) for a in (("slow", SLOW), ("signals", SIGNAL_ALL))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results["slow"].calls[fc[0].id].status == "ok", results["slow"].calls
        assert results["signals"].calls[fc[0].id].status == "ok", results["signals"].calls
        assert sorted(map(id, backend._idle)) == sorted(map(id, templates)) and all(t.alive() for t in templates)


@pytest.mark.parametrize("when", ["idle", "starting"])
def test_a_template_that_dies_is_replaced_and_the_submission_still_graded(one_template, tmp_path, public_cases, when):
    template = one_template._idle[0]
    if when == "idle":
        template.wait_ready()
    os.kill(template.proc.pid, 9)
    template.proc.wait()
    run = grade(one_template, tmp_path / "a", hostile.CORRECT, public_cases[:2])
    assert all(c.status == "ok" for c in run.calls.values()), run.calls
    assert one_template._idle and one_template._idle[0] is not template


def test_a_round_that_ends_wakes_the_grader_before_its_poll_times_out(one_template, tmp_path, public_cases):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "backprop.py").write_text(hostile.CORRECT)
    job = one_template.new_job(LIMITS)
    write_job(job, submission=load_submission(folder), cases=public_cases[:1], rounds=True)
    session = one_template.open(job)
    attempt = session.start([0], Capture(keep=1 << 16), LIMITS)
    try:
        t0 = time.monotonic()
        while 0 not in read_progress(job)[2]:
            # Without a wake-up this would return only after 30 s, with the harness long since waiting.
            assert attempt.poll(30, progress=True) is None
            assert time.monotonic() - t0 < 30, "the harness's progress did not wake the grader"
        write_round(job, 1, [])
        assert attempt.poll(10) == 0
    finally:
        session.finish(attempt)
        session.close()
        remove_job(job)


# Writes to the FIFO the harness wakes the grader through, as fast as it can, for a second; then answers.
EVENTS_FLOOD = hostile.correct_except(
    fc_backward="""
import os, time
fd = os.open("/job/events", os.O_WRONLY | os.O_NONBLOCK)
end = time.time() + 1
while time.time() < end:
    try:
        os.write(fd, b"x" * 4096)
    except BlockingIOError:
        pass
import numpy as np
x, W, dy = args
return W.T @ dy, np.outer(dy, x)
"""
)


def test_a_student_writing_to_the_wake_up_fifo_cannot_make_the_grader_spin(
    one_template, tmp_path, public_cases, monkeypatch
):
    looks = []
    real = calls_module.read_progress
    monkeypatch.setattr(calls_module, "read_progress", lambda job: looks.append(time.monotonic()) or real(job))
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    t0 = time.monotonic()
    run = grade(one_template, tmp_path / "a", EVENTS_FLOOD, fc)
    seconds = time.monotonic() - t0
    assert run.calls[fc[0].id].status == "ok", run.calls
    # At most one look per WAKE_GAP, plus the 20 ms polls and a few at the ends; spinning would be ~10^5.
    assert len(looks) <= seconds / WAKE_GAP + seconds / calls_module.POLL + 20, (len(looks), seconds)
