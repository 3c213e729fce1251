"""The hostile suite, against every backend: outcomes, and the absence of side effects."""

import ast
import datetime as dt
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from grader.report.render_json import render_json
from grader.sandbox.runner import run_submission
from grader.scoring.score import build_report
from grader.spec import Limits
from grader.submission import load_submission
from tests.conftest import harness_processes
from tests.grader.sandbox import hostile

LIMITS = Limits(call_timeout=3, submission_timeout=90, memory_mb=512, max_processes=32)
SECRET = "SECRET-MARKER-0123456789"


@pytest.fixture(scope="module")
def cases(public_cases):
    first = {}
    for c in public_cases:
        first.setdefault(c.layer, c)
    return list(first.values())


def grade_source(backend, tmp_path, source, cases, spec, files=None, redact=(), limits=LIMITS):
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "backprop.py").write_text(source)
    for name, text in (files or {}).items():
        (sub / name).write_text(text)
    before = {p: p.read_bytes() for p in sub.iterdir()}
    submission = load_submission(sub)
    run = run_submission(submission=submission, cases=cases, backend=backend, limits=limits, redact=redact)
    report = build_report(
        spec=spec,
        cases=cases,
        run=run,
        submission_sha256=submission.sha256,
        student_id=None,
        mode="check",
        started=dt.datetime.now(dt.timezone.utc),
    )
    after = {p: p.read_bytes() for p in sub.iterdir()}
    assert before == after, "the submission folder must be left unchanged"
    return run, report


def statuses(run):
    return {cid.split("-")[0]: c.status for cid, c in run.calls.items()}


def by_layer(run, layer):
    return next(c for cid, c in run.calls.items() if cid.startswith(layer))


def strong(backend):
    """Whether the backend isolates (container, namespaces) or has a uid of its own (limits, sweeps exact)."""
    return backend.name in ("docker", "bwrap") or getattr(backend, "drop", False)


def counts_processes(backend):
    """Whether the sandbox's processes are counted apart from the grader's (the process limit then holds)."""
    return backend.name == "docker" or getattr(backend, "drop", False) or getattr(backend, "root", False)


def test_correct_submission_passes(backend, tmp_path, cases, spec):
    _run, report = grade_source(backend, tmp_path, hostile.CORRECT, cases, spec)
    assert report.score == report.max_score


def test_infinite_loop_in_a_call_costs_only_that_function(backend, tmp_path, cases, spec):
    run, report = grade_source(backend, tmp_path, hostile.INFINITE_LOOP_CALL, cases, spec)
    assert statuses(run) == {"conv": "timeout", "fc": "ok", "softmax": "ok"}
    assert by_layer(run, "conv").message == "timed out after 3 s"
    assert [p.score for p in report.problems] == [0, 0, 20, 20, 20]


def test_infinite_loop_at_import_costs_everything_with_a_clear_message(backend, tmp_path, cases, spec):
    run, report = grade_source(backend, tmp_path, hostile.INFINITE_LOOP_IMPORT, cases, spec)
    assert run.import_error == "importing backprop.py timed out after 3 s"
    assert report.score == 0 and report.error == run.import_error


def test_syntax_error_names_file_and_line(backend, tmp_path, cases, spec):
    run, _report = grade_source(backend, tmp_path, "import numpy\n\ndef f(:\n    pass\n", cases, spec)
    assert run.import_error.startswith("SyntaxError in backprop.py line 3")


def test_memory_bomb(backend, tmp_path, cases, spec):
    run, _ = grade_source(backend, tmp_path, hostile.MEMORY_BOMB, cases, spec)
    fc = by_layer(run, "fc")
    expected = {
        "docker": "killed: memory limit 512 MiB exceeded",
        "process": "memory limit exceeded (MemoryError)",
        "bwrap": "memory limit exceeded (MemoryError)",
    }
    assert fc.status == "crashed" and fc.message == expected[backend.name]
    assert statuses(run)["conv"] == "ok" and statuses(run)["softmax"] == "ok"


@pytest.mark.parametrize(
    "source,layer,message",
    [
        (hostile.SYS_EXIT, "fc", "the function called sys.exit(3)"),
        (hostile.OS_EXIT, "fc", "the process exited during the call (exit code 0)"),
        (hostile.SEGFAULT, "softmax", "segmentation fault (SIGSEGV)"),
        (hostile.BASE_EXCEPTION, "softmax", "the function raised KeyboardInterrupt"),
    ],
    ids=["sys.exit", "os._exit", "segfault", "BaseException"],
)
def test_crashes_cost_only_their_function(backend, tmp_path, cases, spec, source, layer, message):
    run, _ = grade_source(backend, tmp_path, source, cases, spec)
    bad = by_layer(run, layer)
    assert bad.status == "crashed" and bad.message == message
    assert all(c.status == "ok" for cid, c in run.calls.items() if not cid.startswith(layer))


def test_fork_bomb_is_bounded_and_reaped(backend, tmp_path, cases, spec):
    run, _ = grade_source(backend, tmp_path, hostile.FORK_BOMB, cases, spec)
    conv = by_layer(run, "conv")
    assert conv.status == "error" and "forked" in conv.message
    made = int(conv.message.split("forked ")[1].split()[0])
    if counts_processes(backend):
        assert made < LIMITS.max_processes
    assert statuses(run)["fc"] == "ok"
    assert not harness_processes()


def test_monkeypatched_numpy_changes_nothing_in_the_grader(backend, tmp_path, cases, spec):
    _run, report = grade_source(backend, tmp_path, hostile.MONKEYPATCH_NUMPY, cases, spec)
    fc_dx = next(p for p in report.problems if p.id == "fc.dx")
    assert fc_dx.score == 0 and fc_dx.cases[0].status == "failed"
    assert fc_dx.diagnosis.id == "any.zeros"


def test_reference_and_grader_cannot_be_imported(backend, tmp_path, cases, spec):
    run, _ = grade_source(backend, tmp_path, hostile.IMPORT_REFERENCE, cases, spec)
    assert "No module named 'reference'" in by_layer(run, "conv").message
    assert "No module named 'grader'" in by_layer(run, "fc").message
    assert "No module named 'pydantic'" in by_layer(run, "softmax").message  # only numpy, scipy and the stdlib


def test_secret_never_enters_the_sandbox(backend, tmp_path, cases, spec, monkeypatch):
    monkeypatch.setenv("PA5_GRADER_SECRET", SECRET)
    # A process of the grader's user with the secret in its initial environment, as `grade` would be.
    holder = subprocess.Popen(["sleep", "60"], env={"PA5_GRADER_SECRET": SECRET})
    try:
        run, report = grade_source(backend, tmp_path, hostile.SNOOP, cases, spec, redact=(SECRET,))
    finally:
        holder.kill()
        holder.wait()
    found = [line for line in run.output.splitlines() if line.startswith("FOUND")]
    assert not [f for f in found if f.split()[1] in ("env", "file")], found
    if strong(backend):
        assert not found, found
    else:
        # Same user: /proc of the grader is readable. The report says so, and redaction still applies.
        assert "not isolated" in report.sandbox.note
    assert SECRET not in render_json(report)


def test_network(backend, tmp_path, cases, spec):
    if backend.name == "process":
        pytest.skip("the process backend shares the network; the README's security model says so")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    got = []
    threading.Thread(target=lambda: got.append(_accept(server)), daemon=True).start()
    try:
        run, _ = grade_source(
            backend, tmp_path, hostile.NETWORK, cases, spec, files={"port.txt": str(server.getsockname()[1])}
        )
    finally:
        server.close()
    fc = by_layer(run, "fc")
    assert fc.status == "error" and "CONNECTED" not in fc.message
    time.sleep(0.2)
    assert got in ([], [None])


def _accept(server):
    try:
        conn, _ = server.accept()
        return conn.recv(10)
    except OSError:
        return None


def test_endless_output_is_capped_and_costs_only_its_function(backend, tmp_path, cases, spec):
    # Output never stops a call (issue 11); an endless flood is an endless loop, stopped by the call limit.
    run, _report = grade_source(backend, tmp_path, hostile.OUTPUT_FLOOD, cases, spec)
    conv = by_layer(run, "conv")
    assert conv.status == "timeout" and conv.message == "timed out after 3 s"
    assert statuses(run)["fc"] == "ok" and statuses(run)["softmax"] == "ok"
    assert run.output_truncated and "bytes of output cut" in run.output
    assert len(run.output) < (LIMITS.output_kb << 10) + 200


def test_overwritten_outputs_are_rejected_not_unpickled(backend, tmp_path, cases, spec):
    marker = Path("/tmp") / f"pa5-unpickled-{os.getpid()}"
    marker.unlink(missing_ok=True)
    source = hostile.OVERWRITE_OUTPUTS.replace(
        'os.environ.get("PA5_TEST_MARKER", "/tmp/pa5-unpickled")', repr(str(marker))
    )
    run, report = grade_source(backend, tmp_path, source, cases, spec)
    assert not marker.exists(), "an object array was unpickled on the trusted side"
    assert all(c.status != "passed" for p in report.problems for c in p.cases)
    messages = " ".join(c.message for c in run.calls.values())
    assert "rejected" in messages or "invalid status" in messages


def test_detached_daemon_does_not_survive(backend, tmp_path, cases, spec):
    piddir = Path(f"/tmp/pa5-test-piddir-{os.getpid()}")
    piddir.mkdir(exist_ok=True)
    piddir.chmod(0o777)
    try:
        src = hostile.DAEMON.replace(
            'os.environ["PA5_TEST_PIDDIR"]', repr(str(piddir if backend.name == "process" else "/tmp"))
        )
        run, _ = grade_source(backend, tmp_path, src, cases, spec)
        assert by_layer(run, "fc").status == "ok"
        if backend.name == "process":
            pid = int((piddir / "daemon.pid").read_text())
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)
            assert not Path(f"/proc/{pid}").exists(), "the detached daemon outlived the grade"
        elif backend.name == "bwrap":  # its pid means nothing out here; its job folder shows in its mounts
            assert not harness_processes(), "the detached daemon outlived the grade"
        else:
            assert backend.client.containers.list(all=True, filters={"label": "pa5-grader.sandbox"}) == []
    finally:
        for p in piddir.iterdir():
            p.unlink()
        piddir.rmdir()


def test_ignoring_sigterm_does_not_help(backend, tmp_path, cases, spec):
    run, _ = grade_source(backend, tmp_path, hostile.IGNORE_SIGTERM, cases, spec)
    assert statuses(run) == {"conv": "timeout", "fc": "ok", "softmax": "ok"}
    assert not harness_processes()


def test_planted_modules_do_not_affect_later_grades(backend, tmp_path, cases, spec):
    run, _ = grade_source(backend, tmp_path, hostile.PLANT_FILES, cases, spec)
    planted_line = next(line for line in run.output.splitlines() if line.startswith("PLANTED"))
    (tmp_path / "next").mkdir()
    _, report = grade_source(backend, tmp_path / "next", hostile.CORRECT, cases, spec)
    assert report.score == report.max_score
    outside = [p for p in ast.literal_eval(planted_line[len("PLANTED ") :]) if p.startswith("/")]
    if backend.name == "docker":
        # They were written to the container's tmpfs, which went with the container.
        assert outside and backend.client.containers.list(all=True, filters={"label": "pa5-grader.sandbox"}) == []
    elif backend.name == "bwrap":
        # They were written to the sandbox's own tmpfs mounts; none reached the host.
        assert outside and not [p for p in outside if Path(p).exists()]
    elif backend.drop:
        for path in outside:
            assert not Path(path).exists(), f"{path} outlived the grade"
    else:  # same user: not swept, as the README says; tidy up after the test
        for path in outside:
            Path(path).unlink(missing_ok=True)


def test_a_fake_report_in_the_output_gains_nothing(backend, tmp_path, cases, spec):
    run, report = grade_source(backend, tmp_path, hostile.FAKE_REPORT, cases, spec)
    assert report.score == 0
    assert '"score": 100.0' in run.output


def test_lying_arrays_are_graded_on_their_values(backend, tmp_path, cases, spec):
    _run, report = grade_source(backend, tmp_path, hostile.LYING_ARRAYS, cases, spec)
    assert report.score == 0
    assert all(c.status == "failed" for p in report.problems for c in p.cases)
