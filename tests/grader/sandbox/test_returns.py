"""How returned values are read, through the real sandbox: lenient on harmless forms, clear on the rest."""

import datetime as dt
import json

import pytest

from grader.report.render_json import render_json
from grader.sandbox.runner import run_submission
from grader.scoring.score import build_report
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox.hostile import CORRECT, correct_except


def grade(backend, tmp_path, source, cases, spec, limits=None):
    limits = limits or Limits()
    (tmp_path / "backprop.py").write_text(source)
    sub = load_submission(tmp_path / "backprop.py")
    run = run_submission(submission=sub, cases=cases, backend=backend, limits=limits)
    return build_report(
        spec=spec,
        cases=cases,
        run=run,
        submission_sha256=sub.sha256,
        student_id=None,
        mode="check",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )


def problem(report, pid):
    return next(p for p in report.problems if p.id == pid)


def fc_cases(public_cases):
    return [c for c in public_cases if c.layer == "fc"]


def test_lists_tuples_and_integer_arrays_are_accepted(process_backend, tmp_path, public_cases, spec):
    src = correct_except(
        fc_backward="x, W, dy = args\nreturn (W.T @ dy).tolist(), tuple(map(tuple, __import__('numpy').outer(dy, x)))"
    )
    r = grade(process_backend, tmp_path, src, fc_cases(public_cases), spec)
    assert problem(r, "fc.dx").score == 20 and problem(r, "fc.dW").score == 20


@pytest.mark.parametrize(
    "body,pid,message",
    [
        ("return 1, 2, 3", "fc.dx", "returned 3 values, expected 2"),
        ("return None", "fc.dx", "returned a NoneType, expected a tuple of 2 arrays"),
        ("x, W, dy = args\nreturn None, W", "fc.dx", "dx (returned by fc_backward): returned None"),
        ("x, W, dy = args\nreturn (W.T @ dy) + 0j, W", "fc.dx", "returned complex numbers"),
        ("x, W, dy = args\nreturn ['a'] * len(x), W", "fc.dx", "not numbers"),
        ("x, W, dy = args\nreturn [object()] * len(x), W", "fc.dx", "dtype object"),
    ],
    ids=["three-values", "none", "none-item", "complex", "strings", "objects"],
)
def test_unusable_returns_are_clear_errors(process_backend, tmp_path, public_cases, spec, body, pid, message):
    r = grade(process_backend, tmp_path, correct_except(fc_backward=body), fc_cases(public_cases), spec)
    case = problem(r, pid).cases[0]
    assert case.status == "error" and message in case.message, case.message


def test_modified_inputs_are_graded_on_the_return_value_with_a_note(process_backend, tmp_path, public_cases, spec):
    src = correct_except(
        fc_backward="x, W, dy = args\n"
        "dx, dW = W.T @ dy, __import__('numpy').outer(dy, x)\nx *= 0\nW[:] = 1\nreturn dx, dW"
    )
    r = grade(process_backend, tmp_path, src, fc_cases(public_cases), spec)
    fc = problem(r, "fc.dx")
    assert fc.score == 20
    assert "modified its input(s) x, W" in fc.cases[0].notes[0]


def test_each_call_gets_fresh_inputs(process_backend, tmp_path, public_cases, spec):
    """A function that scribbles on its arguments cannot spoil the next case's inputs."""
    src = (
        CORRECT + "\n_orig = conv_backward\ndef conv_backward(x, w, dy):\n"
        "    out = _orig(x, w, dy)\n    x[:] = 0; w[:] = 0; dy[:] = 0\n    return out\n"
    )
    r = grade(process_backend, tmp_path, src, [c for c in public_cases if c.layer == "conv"], spec)
    assert problem(r, "conv.dx").score == 20


def test_cpu_limit_is_enforced_from_outside(backend, tmp_path, public_cases, spec):
    src = correct_except(fc_backward="while True:\n    pass")
    r = grade(backend, tmp_path, src, fc_cases(public_cases)[:1], spec, Limits(cpu_seconds=1, call_timeout=20))
    case = problem(r, "fc.dx").cases[0]
    assert case.status == "crashed" and "CPU time limit" in case.message


def test_same_inputs_same_report_apart_from_timing(process_backend, tmp_path, public_cases, spec):
    src = correct_except(
        conv_backward="import numpy as np\nx, w, dy = args\nreturn np.zeros_like(x), w",
        fc_backward="raise ValueError('boom')",
    )  # tracebacks must not carry the job folder's path
    a = json.loads(render_json(grade(process_backend, tmp_path, src, public_cases, spec)))
    b = json.loads(render_json(grade(process_backend, tmp_path, src, public_cases, spec)))

    def strip(r):
        r.pop("timing")
        for p in r["problems"]:
            for c in p["cases"]:
                c.pop("seconds")
        return r

    assert strip(a) == strip(b)
    fc = next(p for p in a["problems"] if p["id"] == "fc.dx")
    assert fc["cases"][0]["message"].startswith('ValueError: boom\n  File "backprop.py"')
