"""Scoring reads results under plain names and gives each case its points once, for every renderer."""

import datetime as dt

import numpy as np
import pytest

from grader.cases.model import Case
from grader.results import CallResult, RunResult
from grader.scoring.score import build_report, judge
from grader.spec import Problem, Spec


def _fc_case(cid: str, weight: float, hidden: bool = False) -> Case:
    x, W, dy = np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 3.0], [1.0, 1.0]]), np.array([1.0, -1.0, 2.0])
    expected = {"fc.dx": np.array([3.0, -1.0]), "fc.dW": np.array([[1.0, 2.0], [-1.0, -2.0], [2.0, 4.0]])}
    return Case(cid, "fc", hidden, ("tall",), {"x": x, "W": W, "dy": dy}, expected, {}, weight)


def _run(calls: dict[str, CallResult]) -> RunResult:
    return RunResult(calls, None, "", False, "process", False, "test", 0.1)


SPEC = Spec(
    problems=(
        Problem(id="fc.dx", title="dx", section="B.1", points=12),
        Problem(id="fc.dW", title="dW", section="B.1", points=8),
    )
)


def test_outputs_are_read_by_problem_id():
    case = _fc_case("fc-p01", 1.0)
    call = CallResult(case.id, "ok", outputs={"fc.dW": case.expected["fc.dW"]}, unreadable={"fc.dx": "returned None"})
    dx = judge(SPEC.problem("fc.dx"), case, call).report
    dW = judge(SPEC.problem("fc.dW"), case, call).report
    assert dx.status == "error" and dx.message == "dx (returned by fc_backward): returned None"
    assert dW.status == "passed"


def test_modified_inputs_are_named_plainly_in_the_note():
    case = _fc_case("fc-p01", 1.0)
    call = CallResult(case.id, "ok", outputs=dict(case.expected), modified_inputs=["x", "W"])
    report = judge(SPEC.problem("fc.dx"), case, call).report
    assert report.status == "passed" and report.notes == [
        "the function modified its input(s) x, W; graded on what it returned"
    ]


def test_case_points_are_the_problem_points_split_by_weight():
    # Weights 1, 1, 2 of a 12-point problem: 3, 3 and 6 points; cases 1 and 3 pass, so 9 points.
    cases = [_fc_case("fc-p01", 1.0), _fc_case("fc-p02", 1.0), _fc_case("fc-h01", 2.0, hidden=True)]
    wrong = {"fc.dx": np.array([0.0, 0.0]), "fc.dW": cases[1].expected["fc.dW"]}
    calls = {c.id: CallResult(c.id, "ok", outputs=dict(c.expected)) for c in cases}
    calls["fc-p02"] = CallResult("fc-p02", "ok", outputs=wrong)
    report = build_report(
        spec=SPEC,
        cases=cases,
        run=_run(calls),
        submission_sha256="0" * 64,
        student_id=None,
        mode="check",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )
    dx, dW = report.problems
    assert [c.max_points for c in dx.cases] == [3, 3, 6]
    assert [c.points for c in dx.cases] == [3, 0, 6]
    assert dx.score == 9 and sum(c.points for c in dx.cases) == pytest.approx(dx.score)
    assert [c.max_points for c in dW.cases] == [2, 2, 4] and dW.score == 8
