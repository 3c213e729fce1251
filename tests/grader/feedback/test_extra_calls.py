"""Unscored calls run after the graded ones in the same session, within their own time budget."""

import datetime as dt

from grader.feedback.probes import probe_cases
from grader.sandbox.runner import run_submission
from grader.scoring.score import build_report
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox.hostile import CORRECT

# Correct, but hangs on one input no graded case has: a 1x1 kernel on a 5x5 image (a probe).
HANGS_ON_A_PROBE = CORRECT.replace(
    "def conv_backward(x, w, dy):\n",
    "def conv_backward(x, w, dy):\n    while x.shape == (5, 5) and w.shape == (1, 1):\n        pass\n",
)


def test_a_hanging_probe_costs_no_points_and_only_the_feedback_budget(process_backend, tmp_path, public_cases, spec):
    (tmp_path / "backprop.py").write_text(HANGS_ON_A_PROBE)
    probes = probe_cases(spec)
    hang = next(c for c in probes if c.inputs["x"].shape == (5, 5) and c.inputs["w"].shape == (1, 1))
    limits = Limits(call_timeout=30, feedback_seconds=1)
    run = run_submission(
        submission=load_submission(tmp_path), cases=public_cases, backend=process_backend, limits=limits, extra=probes
    )
    assert all(run.calls[c.id].status == "ok" for c in public_cases)
    assert run.calls[hang.id].status == "timeout" and "unscored feedback" in run.calls[hang.id].message
    report = build_report(
        spec=spec,
        cases=public_cases,
        run=run,
        submission_sha256="0" * 64,
        student_id=None,
        mode="check",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        probes=probes,
    )
    assert report.score == report.max_score and report.passed
    assert all(not c.id.startswith("probe") for p in report.problems for c in p.cases)
