"""The one failure policy: a student's failure is a report, a grader's is the same zero report flagged, a stop is
raised; and Gradescope's zero is rendered from that report like any other."""

import json
import shutil
from pathlib import Path

import pytest

from grader.errors import SandboxUnavailable
from grader.sandbox.calls import Cancelled
from grader.workflows import gradescope_run, outcome
from grader.workflows.outcome import GRADER_FAILED, grade_or_zero

ROOT = Path(__file__).resolve().parents[3]
CORRECT = ROOT / "submissions_example" / "correct"


def _run(spec, backend, submission):
    return grade_or_zero(submission=submission, student_id="s1", secret=b"k", spec=spec, backend=backend)


def test_a_grader_bug_is_a_flagged_zero_report_of_that_submission(spec, process_backend, monkeypatch):
    def broken(**kw):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(outcome, "grade", broken)
    graded = _run(spec, process_backend, CORRECT)
    assert graded.grader_failed and graded.reason == "RuntimeError: a bug in the grader"
    assert graded.report.score == 0 and graded.report.error == GRADER_FAILED
    assert graded.report.submission_sha256 != "" and graded.report.student_id == "s1"
    assert all(c.status == "error" for p in graded.report.problems for c in p.cases)
    assert any(c.hidden for p in graded.report.problems for c in p.cases)  # the grade's cases, hidden included


def test_nothing_gradable_is_the_students_zero_not_the_graders(spec, process_backend, tmp_path):
    (tmp_path / "notes.txt").write_text("no code here")
    graded = _run(spec, process_backend, tmp_path)
    assert not graded.grader_failed and graded.report.score == 0 and "backprop.py" in graded.report.error


@pytest.mark.parametrize("stop", [Cancelled(), SandboxUnavailable("Docker went away")], ids=["cancelled", "sandbox"])
def test_a_stop_or_a_sandbox_that_cannot_run_is_raised_not_blamed_on_the_submission(
    spec, process_backend, monkeypatch, stop
):
    def stopped(**kw):
        raise stop

    monkeypatch.setattr(outcome, "grade", stopped)
    with pytest.raises(type(stop)):
        _run(spec, process_backend, CORRECT)


def test_gradescopes_zero_is_the_report_rendered_like_any_other(tmp_path, monkeypatch):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "secret").write_text("k")
    shutil.copytree(CORRECT, root / "submission")
    (root / "results").mkdir()

    def broken(**kw):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(outcome, "grade", broken)
    monkeypatch.setattr(gradescope_run, "_lock_down", lambda root: None)
    data = json.loads(gradescope_run.run_in_gradescope(root=root).read_text())
    assert data["score"] == 0 and GRADER_FAILED in data["output"]
    assert data["tests"] and all(t["score"] == 0 and t["max_score"] > 0 for t in data["tests"])  # one per problem


def test_gradescope_without_its_secret_still_gives_the_student_a_zero_with_the_reason(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    shutil.copytree(CORRECT, root / "submission")
    (root / "results").mkdir()
    data = json.loads(gradescope_run.run_in_gradescope(root=root).read_text())
    assert data["score"] == 0 and data["tests"] and "secret" in data["output"]
