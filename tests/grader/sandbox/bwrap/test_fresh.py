"""What the bwrap sandbox promises beyond the shared hostile suite: what it sees, who it is, and clear refusals."""

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from grader.errors import SandboxUnavailable
from grader.sandbox.bwrap import setup as bwrap_setup
from grader.sandbox.runner import run_submission
from grader.submission import load_submission
from tests.grader.sandbox import hostile

# Reports, at import, what the sandbox looks like from inside.
LOOK_AROUND = (
    hostile.CORRECT
    + """
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print("CAPS", status["CapEff"].strip(), status["CapBnd"].strip(), flush=True)
print("UID", os.getuid(), os.geteuid(), flush=True)
# /proc/net/dev rather than if_nameindex(): the seccomp filter refuses netlink sockets.
print("IFACES", sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]), flush=True)
print("PIDS", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), flush=True)
for path in ("/root", "/home", "/etc/passwd", "/work", "/var", "%(grader)s", "%(site)s"):
    print("SEES", path, os.path.exists(path) and (os.listdir(path) if os.path.isdir(path) else "file"), flush=True)
try:
    open("/usr/pa5-write-test", "w")
    print("WROTE /usr", flush=True)
except OSError as e:
    print("NOWRITE", type(e).__name__, flush=True)
"""
)


def lines(output, tag):
    return [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith(tag + " ")]


@pytest.mark.bwrap
def test_inside_no_capabilities_no_network_no_host_files(bwrap_backend, tmp_path, public_cases, spec):
    grader_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(bwrap_setup.__file__))))
    site = bwrap_backend.sites[0]
    (tmp_path / "backprop.py").write_text(LOOK_AROUND % {"grader": grader_dir, "site": site})
    run = run_submission(
        submission=load_submission(tmp_path / "backprop.py"),
        cases=public_cases[:1],
        backend=bwrap_backend,
        limits=spec.limits,
    )
    out = run.output
    assert lines(out, "CAPS") == ["0000000000000000 0000000000000000"]
    uid = int(lines(out, "UID")[0].split()[0])
    assert uid != 0 and (uid >= 61000 if os.geteuid() == 0 else uid == os.getuid())
    assert lines(out, "IFACES") == ["['lo']"]
    assert max(eval(lines(out, "PIDS")[0])) < 10  # its own PID namespace: none of the host's processes
    sees = dict(line.split(" ", 1) for line in lines(out, "SEES"))
    for hidden in ("/root", "/home", "/etc/passwd", "/work", "/var", grader_dir):
        assert sees[hidden] == "False", (hidden, sees[hidden])
    assert sorted(eval(sees[site])) == sorted(
        n for n in ("numpy", "numpy.libs", "scipy", "scipy.libs") if n in sees[site]
    )
    assert "'numpy'" in sees[site] and "pydantic" not in sees[site]
    assert lines(out, "NOWRITE") == ["OSError"]


@pytest.mark.bwrap
def test_only_the_jobs_box_belongs_to_the_sandbox_user(bwrap_backend):
    from grader.sandbox.storage import remove_job
    from grader.spec import Limits

    job = bwrap_backend.new_job(Limits())
    try:
        (job / "plan.json").write_text("{}")
        session = bwrap_backend.open(job)
        if os.geteuid() == 0:
            # What the grader wrote stays its own (a sandbox could never plant a link it writes through)...
            assert job.stat().st_uid == 0 and (job / "plan.json").stat().st_uid == 0
            assert stat.S_IMODE((job / "plan.json").stat().st_mode) == 0o644
            # ...and what the sandbox writes to is the sandbox's, closed to everybody else.
            for d in ("box", "box/out", "box/work", "box/tmp", "box/shm"):
                assert (job / d).stat().st_uid == session.uid and stat.S_IMODE((job / d).stat().st_mode) == 0o700
        session.close()
    finally:
        remove_job(job)


def test_missing_bwrap_names_the_package(monkeypatch):
    monkeypatch.setenv("PA5_BWRAP", "/nonexistent/bwrap")
    from grader.sandbox.bwrap.fresh import BwrapBackend

    with pytest.raises(SandboxUnavailable, match=r"install the package `bubblewrap`"):
        BwrapBackend()


def test_namespaces_refused_names_the_sysctl(monkeypatch):
    folder = Path(tempfile.mkdtemp())  # not under pytest's tmp_path: the sandbox uid must reach it
    folder.chmod(0o755)
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PA5_BWRAP", str(fake))
    from grader.sandbox.bwrap.fresh import BwrapBackend

    with pytest.raises(SandboxUnavailable) as e:
        BwrapBackend()
    assert "No permissions to create new namespace" in str(e.value)
    assert "user namespaces" in str(e.value) and "sysctl" in str(e.value)
    shutil.rmtree(folder)


def test_gradescope_falls_back_to_the_process_sandbox_with_a_log_line(monkeypatch, caplog):
    from grader.workflows import gradescope_run

    monkeypatch.setenv("PA5_BWRAP", "/nonexistent/bwrap")
    backend = gradescope_run._backend()
    assert backend.name == "process"
    assert any("process sandbox (throwaway uid) instead" in r.getMessage() for r in caplog.records)


@pytest.mark.bwrap
def test_gradescope_uses_bwrap_where_it_works(bwrap_backend):
    from grader.workflows import gradescope_run

    assert gradescope_run._backend().name == "bwrap"


@pytest.mark.bwrap
def test_bwrap_uses_the_template_where_nested_namespaces_work_else_one_sandbox_per_run(bwrap_backend, monkeypatch):
    from grader.sandbox import make_backend
    from grader.sandbox.bwrap.fresh import BwrapBackend
    from grader.sandbox.bwrap.template import ForkBackend

    with make_backend("bwrap") as backend:
        assert isinstance(backend, ForkBackend) and "pre-imported template" in backend.note
    with make_backend("auto", single=True) as backend:
        assert type(backend) is BwrapBackend, "one submission: preloading scipy for it would only cost time"
    monkeypatch.setenv("PA5_BWRAP_TEMPLATE", "0")
    with make_backend("bwrap") as backend:
        assert type(backend) is BwrapBackend
    monkeypatch.delenv("PA5_BWRAP_TEMPLATE")
    folder = Path(tempfile.mkdtemp())  # not under pytest's tmp_path: the sandbox uid must reach it
    folder.chmod(0o755)
    # A bwrap that works, except inside another bwrap sandbox (as where the kernel refuses nested namespaces).
    fake = folder / "bwrap"
    fake.write_text(
        '#!/bin/sh\nif [ -n "$PA5_IN_BWRAP" ]; then echo "bwrap: nested refused" >&2; exit 1; fi\n'
        'PA5_IN_BWRAP=1 exec /usr/bin/bwrap "$@"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PA5_BWRAP", str(fake))
    try:
        with make_backend("bwrap") as backend:
            assert type(backend) is BwrapBackend
    finally:
        shutil.rmtree(folder)


def _run(backend, folder, source, cases, limits):
    (folder / "backprop.py").write_text(source)
    return run_submission(
        submission=load_submission(folder / "backprop.py"), cases=cases, backend=backend, limits=limits
    )


@pytest.mark.bwrap
@pytest.mark.parametrize("started_under", ["the same limits", "other limits"])
def test_a_prestarted_sandbox_runs_its_job_under_the_jobs_limits(bwrap_backend, tmp_path, public_cases, started_under):
    """Started ahead of its job (as `check` does, root included), it serves the job under the job's limits; started
    under other ones, it is replaced (as root: no CAP_SYS_RESOURCE here for another uid) or its limits are set."""
    from grader.sandbox.bwrap.fresh import BwrapBackend
    from grader.spec import Limits

    limits = Limits(cpu_seconds=1, call_timeout=30)
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    with BwrapBackend() as backend:
        backend.prestart(limits if started_under == "the same limits" else Limits())
        assert len(backend._pool.ready) == 1, backend._pool.failure
        r = _run(backend, tmp_path, hostile.correct_except(fc_backward="while True:\n    pass"), fc, limits)
        assert backend._pool.served == 1
    call = next(iter(r.calls.values()))
    assert call.status == "crashed" and "CPU time limit" in call.message, call


@pytest.mark.bwrap
def test_a_prestarted_sandbox_grades_like_a_cold_one(bwrap_backend, tmp_path, public_cases, spec):
    from grader.sandbox.bwrap.fresh import BwrapBackend

    with BwrapBackend() as backend:
        backend.prestart(spec.limits)
        r = _run(backend, tmp_path, hostile.CORRECT, public_cases, spec.limits)
        assert backend._pool.served == 1
    assert r.import_error is None and {c.status for c in r.calls.values()} == {"ok"}


@pytest.mark.bwrap
def test_an_unused_prestart_leaves_nothing_behind(bwrap_backend, spec):
    from grader.sandbox import reaper
    from grader.sandbox.bwrap.fresh import BwrapBackend

    with BwrapBackend() as backend:
        backend.prestart(spec.limits)
        (warm,) = backend._pool.ready
    assert warm.proc.poll() is not None and not warm.job.exists()
    assert warm.uid not in reaper._held  # released (another grader may take it at once, so no more is asserted)


@pytest.mark.bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="as root only")
def test_as_root_without_limits_nothing_is_prestarted(bwrap_backend):
    from grader.sandbox.bwrap.fresh import BwrapBackend

    with BwrapBackend() as backend:
        backend.prestart()
        assert backend._pool is None


# Writes to the grader's wake-up FIFO as fast as it can, from a thread, while answering correctly.
FLOOD_EVENTS = (
    hostile.CORRECT
    + """
import os, threading, time
def _flood():
    fd = os.open("/job/events", os.O_WRONLY | os.O_NONBLOCK)
    stop, written = time.monotonic() + 1.0, 0
    while time.monotonic() < stop:
        try:
            written += os.write(fd, b"x" * 4096)
        except BlockingIOError:
            pass
    print("FLOODED", written, flush=True)
threading.Thread(target=_flood, daemon=True).start()
"""
)


@pytest.mark.bwrap
def test_the_harness_wakes_the_grader_through_its_events_fifo(bwrap_backend, tmp_path, public_cases, spec, monkeypatch):
    from grader.sandbox.bwrap import fresh

    woken, fifos = [], []
    wait = fresh._Events.wait

    def spy(self, timeout, *, progress):
        answer = wait(self, timeout, progress=progress)
        woken.append(answer is None)
        fifos.append(self.path)
        return answer

    monkeypatch.setattr(fresh._Events, "wait", spy)
    r = _run(bwrap_backend, tmp_path, hostile.CORRECT, public_cases[:3], spec.limits)
    assert {c.status for c in r.calls.values()} == {"ok"}
    assert any(woken), "no progress byte reached the grader"
    assert fifos and not any(p.exists() for p in fifos), "the FIFO outlived its attempt"


@pytest.mark.bwrap
def test_a_flood_on_the_events_fifo_costs_the_grade_nothing(bwrap_backend, tmp_path, public_cases, spec):
    r = _run(bwrap_backend, tmp_path, FLOOD_EVENTS + "time.sleep(1.2)\n", public_cases, spec.limits)
    assert r.import_error is None and {c.status for c in r.calls.values()} == {"ok"}
    assert int(lines(r.output, "FLOODED")[0]) > 1 << 16, r.output  # more than the FIFO holds: it was read
