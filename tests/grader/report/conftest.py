"""A fixed report, built without a sandbox from hand-made outputs, for the renderers' golden files."""

import numpy as np
import pytest
from scipy.signal import convolve2d

from grader.cases.generate import generate
from grader.feedback.plan import plan_feedback
from grader.results import CallResult, RunResult
from grader.scoring.score import build_report


def _outputs(case):
    """A student who forgot to flip the kernel and to subtract t, and whose fc crashes on square W."""
    i = case.inputs
    if case.layer == "conv":
        dx = convolve2d(i["dy"], i["w"], mode="same")
        return CallResult(case.id, "ok", outputs={"conv.dx": dx, "conv.dw": case.expected["conv.dw"]}, seconds=0.001)
    if case.layer == "fc":
        if i["W"].shape[0] == i["W"].shape[1]:
            return CallResult(case.id, "crashed", "the process exited during the call (exit code 0)")
        return CallResult(
            case.id,
            "ok",
            outputs={"fc.dx": (i["W"].T @ i["dy"]).reshape(-1, 1), "fc.dW": np.outer(i["dy"], i["x"])},
            modified_inputs=["x"],
            seconds=0.002,
        )
    p = np.exp(i["s"] - i["s"].max())
    return CallResult(case.id, "ok", outputs={"softmax.ds": p / p.sum()}, seconds=0.001)


@pytest.fixture(scope="session")
def fixed_report(spec):
    import datetime as dt

    cases = generate(spec=spec, seed=spec.cases.public_seed, hidden=False)
    cases += generate(spec=spec, seed=42, hidden=True)[:2]
    feedback = plan_feedback(spec)
    run = RunResult(
        calls={c.id: _outputs(c) for c in [*cases, *feedback.probes, *feedback.candidates]},
        import_error=None,
        output="hello from backprop.py\n",
        output_truncated=False,
        backend="docker",
        isolated=True,
        note="isolated: test",
        seconds=1.25,
    )
    return build_report(
        spec=spec,
        cases=cases,
        run=run,
        submission_sha256="0" * 64,
        student_id="alice",
        mode="grade",
        started=dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc),
        probes=feedback.probes,
        fresh=feedback.candidates,
    )
