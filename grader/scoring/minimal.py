"""Choosing a problem's minimal failing case among the fresh inputs that ran: the smallest that still fails."""

from __future__ import annotations

import numpy as np

from grader.contract import layer_of
from grader.report.model import MinimalCase
from grader.scoring.explain import Outcome


def minimal_case(problem_id: str, fresh: list[Outcome]) -> MinimalCase | None:
    """The failing fresh input with the fewest numbers, integer-valued ones first; None if none fails.

    A timeout is never chosen: it says more about the time budget than about the answer.
    """
    failing = [o for o in fresh if o.failed and o.report.status != "timeout"]
    if not failing:
        return None
    o = min(enumerate(failing), key=lambda io: (io[1].case.size, not io[1].case.integral, io[0]))[1]
    layer = layer_of(problem_id)
    R = o.case.expected[problem_id]
    arrays = {a: o.case.inputs[a] for a in layer.arguments}
    got = o.got
    return MinimalCase(
        call=f"{layer.function}({', '.join(layer.arguments)})",
        inputs={a: (int(v) if a in layer.int_arguments else np.asarray(v).tolist()) for a, v in arrays.items()},
        shapes={a: list(np.shape(v)) for a, v in arrays.items() if a not in layer.int_arguments},
        got=None if got is None else got.tolist(),
        got_shape=None if got is None else list(got.shape),
        expected=R.tolist(),
        expected_shape=list(R.shape),
        message=o.report.message,
        source=_source(o),
    )


def _source(o: Outcome) -> str:
    for source in ("probe", "shrink", "explore"):
        if o.case.id.startswith(source):
            return source
    return "shrink"
