"""Problem-level diagnosis: named only when it explains most failing cases, with the count; empty answers are safe."""

import numpy as np
import pytest
from scipy.signal import correlate2d

from grader.cases.model import Case
from grader.report.model import CaseReport
from grader.scoring.diagnose import diagnose_case
from grader.scoring.explain import Finding, Outcome, name_mistake


def outcome(i: int, mistake: str | None, status: str = "failed") -> Outcome:
    x = np.ones((3, 4))
    case = Case(f"conv-h{i:02d}", "conv", True, ("nonsquare",), {"x": x, "w": np.ones((3, 3)), "dy": x}, {})
    report = CaseReport(id=case.id, hidden=True, tags=list(case.tags), status=status, weight=1.0, mistake=mistake)
    return Outcome(case, report, matches=(mistake,) if mistake else ())


def test_a_minority_mistake_is_never_named():
    # The dw with wrong loop bounds: 6 of its 16 failing cases happened to be all zeros.
    graded = [outcome(i, "any.zeros") for i in range(6)] + [outcome(i, None) for i in range(6, 16)]
    assert name_mistake("conv.dw", graded) is None


def test_exactly_half_is_not_a_majority():
    graded = [outcome(i, "conv.dx.unflipped") for i in range(4)] + [outcome(i, None) for i in range(4, 8)]
    assert name_mistake("conv.dx", graded) is None


def test_the_diagnosis_says_how_many_failing_cases_it_explains():
    graded = [outcome(i, "conv.dx.unflipped") for i in range(14)] + [outcome(i, "any.zeros") for i in (14, 15)]
    graded += [outcome(i, None, status="passed") for i in range(16, 20)]
    assert name_mistake("conv.dx", graded) == Finding("conv.dx.unflipped", 14, 16)


def test_nothing_failing_nothing_named():
    assert name_mistake("conv.dx", [outcome(0, None, status="passed")]) is None


def _conv_case(H, W, Kh, Kw):
    rng = np.random.default_rng(H * 100 + W * 10 + Kh + Kw)
    x, w, dy = rng.normal(size=(H, W)), rng.normal(size=(Kh, Kw)), rng.normal(size=(H, W))
    rh, rw = Kh // 2, Kw // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    dw = np.array([[np.sum(x * dyp[i : i + H, j : j + W]) for j in range(Kw)] for i in range(Kh)])
    expected = {"conv.dx": correlate2d(dy, w, mode="same"), "conv.dw": dw}
    return Case("conv-p01", "conv", False, ("nonsquare",), {"x": x, "w": w, "dy": dy}, expected)


@pytest.mark.parametrize("pid", ["conv.dx", "conv.dw"])
@pytest.mark.parametrize("shape", [(0, 0), (0, 2), (2, 0), (0,), (0, 3, 1)])
def test_empty_answers_are_diagnosed_without_error(pid, shape):
    # H = 2 with a 3-row kernel: the 'valid' size is (0, 2), which an empty answer must not be taken for.
    case = _conv_case(2, 4, 3, 3)
    mistake, _ = diagnose_case(pid, case, np.zeros(shape), 1e-4)
    assert mistake in (None, "conv.empty_crop")
    assert mistake != "conv.valid"


def test_a_case_matching_several_mistakes_counts_for_each():
    # A 1-row image cannot tell a missing flip from a vertical-only flip: it matches both.
    graded = [outcome(i, "conv.dx.unflipped") for i in range(5)]
    graded.append(
        Outcome(graded[0].case, graded[0].report, matches=("conv.dx.flip_vertical_only", "conv.dx.unflipped"))
    )
    assert name_mistake("conv.dx", graded) == Finding("conv.dx.unflipped", 6, 6)


def test_failing_probes_choose_the_mistake_whatever_the_graded_cases_say():
    graded = [outcome(i, "conv.dx.unflipped") for i in range(3)] + [outcome(3, "any.sign")]
    probes = [outcome(10 + i, "any.sign") for i in range(4)]
    # The probes point to a sign error, which explains only 1 of the 4 failing graded cases: nothing is named.
    assert name_mistake("conv.dx", graded, probes) is None
    passing_probes = [outcome(10, None, status="passed")]
    assert name_mistake("conv.dx", graded, passing_probes) == Finding("conv.dx.unflipped", 3, 4)
