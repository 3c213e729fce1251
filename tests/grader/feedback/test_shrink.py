"""Minimal failing cases: fresh, small, still failing, and only for the layers that failed."""

import numpy as np
from scipy.signal import convolve2d, correlate2d

from grader.cases.model import Case
from grader.feedback.plan import plan_feedback
from grader.feedback.shrink import candidates
from grader.report.model import CaseReport
from grader.sandbox.runner import run_submission
from grader.scoring.explain import Outcome
from grader.scoring.minimal import minimal_case
from grader.spec import default_spec
from grader.submission import load_submission
from grader.workflows.grade import check
from tests.conftest import EXAMPLES
from tests.grader.sandbox.hostile import correct_except

UNFLIPPED = correct_except(
    conv_backward="from scipy.signal import convolve2d\nimport numpy as np\nx, w, dy = args\n"
    "rh, rw = w.shape[0] // 2, w.shape[1] // 2\ndyp = np.pad(dy, ((rh, rh), (rw, rw)))\n"
    "dw = np.array([[np.sum(x * dyp[i:i+x.shape[0], j:j+x.shape[1]]) for j in range(w.shape[1])] "
    "for i in range(w.shape[0])])\nreturn convolve2d(dy, w, mode='same'), dw"
)


def test_candidates_go_from_1x1_up_with_small_integers_first(spec):
    conv = [c for c in candidates(spec) if c.layer == "conv"]
    sizes = [sum(a.size for a in c.inputs.values()) for c in conv if "integers" in c.tags]
    assert conv[0].inputs["x"].shape == (1, 1) and conv[0].inputs["w"].shape == (1, 1)
    assert sizes == sorted(sizes)
    for c in conv:
        if "integers" in c.tags:
            assert all(np.array_equal(a, np.round(a)) and np.abs(a).max() <= 3 for a in c.inputs.values())


def test_a_failing_problem_gets_its_smallest_failing_input_in_full(process_backend, tmp_path, spec):
    (tmp_path / "backprop.py").write_text(UNFLIPPED)
    report = check(submission=tmp_path, spec=spec, backend=process_backend)
    dx = next(p for p in report.problems if p.id == "conv.dx")
    m = dx.minimal_case
    assert m is not None and m.source in ("probe", "shrink") and m.call == "conv_backward(x, w, dy)"
    x, w, dy = (np.array(m.inputs[k]) for k in ("x", "w", "dy"))
    # A 1x2 image with a 1x3 kernel shows a missing flip, but also fits a kernel flipped up-down only (a 1-row
    # kernel is its own up-down flip): a 2x2 image and a 3x3 kernel are the smallest that tell them apart.
    assert x.shape == dy.shape == (2, 2) and w.shape == (3, 3)
    assert not np.allclose(m.got, convolve2d(dy, w[::-1, :], mode="same"))
    assert not np.allclose(m.got, convolve2d(dy, w[:, ::-1], mode="same"))
    assert all(np.array_equal(a, np.round(a)) for a in (x, w, dy)), "small integers"
    np.testing.assert_allclose(m.expected, correlate2d(dy, w, mode="same"))  # independent of the grader
    np.testing.assert_allclose(m.got, convolve2d(dy, w, mode="same"))
    assert not np.allclose(m.got, m.expected)
    assert m.shapes == {"x": list(x.shape), "w": list(w.shape), "dy": list(dy.shape)}
    assert all(p.minimal_case is None for p in report.problems if p.id != "conv.dx")


def test_no_more_rounds_when_a_fixed_candidate_is_the_smallest_failure(process_backend, tmp_path, spec, public_cases):
    (tmp_path / "backprop.py").write_text(UNFLIPPED)
    feedback = plan_feedback(spec)
    shrinker = feedback.shrinker(spec, graded=public_cases)
    run = run_submission(
        submission=load_submission(tmp_path),
        cases=public_cases,
        backend=process_backend,
        limits=spec.limits,
        more=shrinker,
    )
    assert shrinker.tried == [] and all(run.calls[c.id].status == "ok" for c in public_cases)
    unscored = {c.layer for c in feedback.first if c.id in run.calls}
    assert unscored == {"conv"}, "probes and candidates run only for the layer that failed a graded case"


def test_a_submission_that_passes_runs_no_unscored_call(process_backend, spec, public_cases):
    feedback = plan_feedback(spec)
    run = run_submission(
        submission=load_submission(EXAMPLES / "correct"),
        cases=public_cases,
        backend=process_backend,
        limits=spec.limits,
        more=feedback.shrinker(spec, graded=public_cases),
    )
    assert set(run.calls) == {c.id for c in public_cases}


# Right except on inputs longer than 12, which no fixed candidate has: shrinking must step down from a random case.
LONG_ONLY = correct_except(
    fc_backward="import numpy as np\nx, W, dy = args\ndx = W.T @ dy\n"
    "return (2 * dx if len(x) > 12 else dx), np.outer(dy, x)"
)


def test_a_failure_only_on_large_inputs_is_shrunk_to_its_edge(process_backend, tmp_path, spec):
    (tmp_path / "backprop.py").write_text(LONG_ONLY)
    report = check(submission=tmp_path, spec=spec, backend=process_backend, explore=60, seed=3)
    m = next(p for p in report.problems if p.id == "fc.dx").minimal_case
    assert m is not None and m.source == "shrink"
    x, W, dy = (np.array(m.inputs[k]) for k in ("x", "W", "dy"))
    assert x.shape == (13,) and W.shape == (1, 13) and dy.shape == (1,), "the smallest length that fails, one row"
    assert all(np.array_equal(a, np.round(a)) and np.abs(a).max() <= 3 for a in (x, W, dy))
    np.testing.assert_allclose(m.expected, W.T @ dy)
    np.testing.assert_allclose(m.got, 2 * (W.T @ dy))


def _outcome(cid, shape, status="failed", floats=False):
    x = np.full(shape, 0.5 if floats else 1.0)
    case = Case(cid, "fc", False, (), {"x": x[0], "W": x, "dy": x[:, 0]}, {"fc.dx": x[0]})
    report = CaseReport(id=cid, hidden=False, tags=[], status=status, weight=0.0, message=f"{cid} fails")
    return Outcome(case, report, got=None)


def test_the_smallest_failing_one_wins_integers_first_never_a_timeout():
    fresh = [
        _outcome("shrink-fc-03", (2, 2)),
        _outcome("shrink-fc-01", (1, 1), status="timeout"),
        _outcome("shrink-fc-02", (1, 2), floats=True),
        _outcome("probe-fc-01", (1, 2)),
    ]
    fc_dx = default_spec().problem("fc.dx")
    assert minimal_case(fc_dx, fresh).message == "probe-fc-01 fails"
    assert minimal_case(fc_dx, fresh[:2]).message == "shrink-fc-03 fails"
    assert minimal_case(fc_dx, [_outcome("shrink-fc-04", (1, 1), status="passed")]) is None
