"""Grading a class: reports per student, summaries, resumption, and one bad submission never stops the rest."""

import json
import shutil
from pathlib import Path

import pytest

from grader.report.model import Report
from grader.report.summary import ClassSummary
from grader.spec import Limits, Spec, default_spec
from grader.workflows.batch import run_batch
from tests.children import default_signals
from tests.conftest import lingering_harness_processes

EX = Path(__file__).resolve().parents[3] / "submissions_example"
SECRET = b"batch-secret"


@pytest.fixture
def spec():
    return Spec(problems=default_spec().problems, limits=Limits(call_timeout=2, submission_timeout=30))


@pytest.fixture
def klass(tmp_path):
    d = tmp_path / "class"
    d.mkdir()
    shutil.copytree(EX / "correct", d / "alice")
    shutil.copytree(EX / "unflipped_kernel", d / "bob")
    shutil.copyfile(EX / "naive_softmax" / "backprop.py", d / "carol.py")
    (d / "dave").mkdir()
    (d / "dave" / "solution.py").write_text("x = 1\n")
    (d / "eve").mkdir()
    (d / "eve" / "backprop.py").write_text("while True:\n    pass\n")
    (d / "notes.txt").write_text("not a submission\n")
    return d


def test_batch_grades_everyone_and_summarises(klass, tmp_path, spec, process_backend):
    out = tmp_path / "reports"
    seen = []
    result = run_batch(
        submissions=klass, out=out, spec=spec, backend=process_backend, secret=SECRET, jobs=2, on_progress=seen.append
    )
    assert result.graded == 5 and result.skipped == 0 and not result.failed_to_grade
    assert sorted(p.name for p in out.glob("*.json")) == [
        "alice.json",
        "bob.json",
        "carol.json",
        "dave.json",
        "eve.json",
        "summary.json",
    ]
    reports = {p.stem: Report.model_validate_json(p.read_text()) for p in out.glob("*.json") if p.stem != "summary"}
    assert reports["alice"].score == 100
    assert next(p for p in reports["bob"].problems if p.id == "conv.dx").diagnosis.id == "conv.dx.unflipped"
    assert "has no backprop.py, at its top or one folder down (found: solution.py)" in reports["dave"].error
    assert reports["eve"].error == "importing backprop.py timed out after 2 s"
    assert [p.done for p in seen] == [1, 2, 3, 4, 5] and seen[-1].total == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["students"] == 5 and summary["problems"]["conv.dx"]["full"] == 2
    assert {"problem": "conv.dx", "mistake": "conv.dx.unflipped"}.items() <= summary["common_mistakes"][
        0
    ].items() or any(m["mistake"] == "conv.dx.unflipped" for m in summary["common_mistakes"])
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 6 and rows[0].startswith("student_id,score")
    model = ClassSummary.model_validate_json((out / "summary.json").read_text())
    assert (result.summary_json, result.summary_csv) == (out / "summary.json", out / "summary.csv")
    assert [r.student_id for r in model.rows] == ["alice", "bob", "carol", "dave", "eve"]
    assert model.rows[0].score == 100 and model.could_not_run == 2  # dave has no backprop.py, eve hangs at import


def test_batch_resumes_and_force_regrades(klass, tmp_path, spec, process_backend):
    out = tmp_path / "reports"
    run_batch(submissions=klass, out=out, spec=spec, backend=process_backend, secret=SECRET, jobs=2)
    again = run_batch(submissions=klass, out=out, spec=spec, backend=process_backend, secret=SECRET, jobs=2)
    assert again.skipped == 4 and again.graded == 1  # dave has no submission digest to match, so he is re-reported
    (klass / "bob" / "backprop.py").write_text((EX / "correct" / "backprop.py").read_text())
    third = run_batch(submissions=klass, out=out, spec=spec, backend=process_backend, secret=SECRET, jobs=2)
    assert third.graded == 2 and Report.model_validate_json((out / "bob.json").read_text()).score == 100
    forced = run_batch(
        submissions=klass, out=out, spec=spec, backend=process_backend, secret=SECRET, jobs=2, force=True
    )
    assert forced.graded == 5


def test_interrupt_keeps_finished_reports(klass, tmp_path, spec, process_backend):
    out = tmp_path / "reports"

    def stop_after_first(progress):
        raise KeyboardInterrupt

    result = run_batch(
        submissions=klass,
        out=out,
        spec=spec,
        backend=process_backend,
        secret=SECRET,
        jobs=1,
        on_progress=stop_after_first,
    )
    assert result.interrupted
    assert result.summary_json == out / "summary.json" and result.summary_csv.exists()
    assert ClassSummary.model_validate_json(result.summary_json.read_text()).students >= 1
    finished = [p for p in out.glob("*.json") if p.stem != "summary"]
    assert finished and all(Report.model_validate_json(p.read_text()) for p in finished)
    assert not list(out.glob(".*.tmp"))


@pytest.mark.docker
def test_batch_with_docker(klass, tmp_path, spec, docker_backend):
    out = tmp_path / "reports"
    result = run_batch(submissions=klass, out=out, spec=spec, backend=docker_backend, secret=SECRET, jobs=2)
    assert result.graded == 5
    assert Report.model_validate_json((out / "alice.json").read_text()).sandbox.backend == "docker"


def test_ctrl_c_on_the_cli_keeps_reports_and_leaves_no_sandbox(tmp_path):
    """A real SIGINT to `pa5-grader batch` while sandboxes run: exit 130, finished reports intact, nothing left over."""
    import signal
    import subprocess
    import sys
    import time

    klass = tmp_path / "class"
    klass.mkdir()
    shutil.copytree(EX / "correct", klass / "a-first")
    for i in range(4):
        (klass / f"hang{i}").mkdir()
        (klass / f"hang{i}" / "backprop.py").write_text(
            (EX / "correct" / "backprop.py").read_text()
            + "\ndef conv_backward(x, w, dy):\n    while True:\n        pass\n"
        )
    out = tmp_path / "reports"
    spec = tmp_path / "spec.toml"
    spec.write_text("[limits]\ncall_timeout = 30\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "batch",
            str(klass),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--sandbox",
            "process",
            "--insecure-default-secret",
            "--spec",
            str(spec),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,  # it gets a SIGINT below, even if pytest was started with SIGINT ignored
    )
    deadline = time.monotonic() + 60
    while not (out / "a-first.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # a hanging submission is now in its sandbox
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert Report.model_validate_json((out / "a-first.json").read_text()).score == 100
    assert not list(out.glob(".*.tmp"))
    assert not lingering_harness_processes(), "a sandbox outlived the interrupted batch"
