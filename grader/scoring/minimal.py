"""Choosing a problem's minimal failing case among the fresh inputs that ran: the smallest that still fails,
and, when a mistake is named, the smallest that tells it apart from its look-alikes."""

from __future__ import annotations

import numpy as np

from grader.cases.model import Case
from grader.contract import layer_of, reference_available
from grader.report.model import MinimalCase
from grader.scoring.diagnose import diagnose_all
from grader.scoring.explain import Outcome
from grader.spec import Problem


def minimal_case(problem: Problem, fresh: list[Outcome], mistake: str | None = None) -> MinimalCase | None:
    """The failing fresh input with the fewest numbers, integer-valued ones first; None if none fails.

    With a named mistake, inputs on which the answer shows that mistake and no look-alike come first (a 3x1
    kernel cannot tell a row flip from a full one), then inputs that show it at all, then any failing one.
    A timeout is never chosen: it says more about the time budget than about the answer.
    """
    failing = [o for o in fresh if o.failed and o.report.status != "timeout"]
    if not failing:
        return None

    # By (tier, size, integers first, order): scanned by size, a candidate's tier (its diagnosis, the costly
    # part) is worked out only until the first that shows the mistake alone, which no later one can beat.
    by_size = sorted(enumerate(failing), key=lambda io: (io[1].case.size, not io[1].case.integral, io[0]))
    best_tier, o = 3, by_size[0][1]
    for _, candidate in by_size if mistake else []:
        found = _matches(problem, candidate)
        tier = 0 if found == [mistake] else 1 if mistake in found else 2
        if tier < best_tier:
            best_tier, o = tier, candidate
        if tier == 0:
            break
    layer = layer_of(problem.id)
    R = o.case.expected[problem.id]
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


def _matches(problem: Problem, o: Outcome) -> list[str]:
    """Every mistake this answer shows; shrink inputs were judged without looking, so look now."""
    if o.matches or o.got is None or not o.answered_wrong:
        return list(o.matches)
    return diagnose_all(problem.id, _with_known_answers(o.case), o.got, problem.tol, problem.tau)[0]


def _with_known_answers(case: Case) -> Case:
    if case.mistakes or not reference_available():
        return case
    from grader.cases.generate import with_mistakes

    return with_mistakes(case, case.weight)


def _source(o: Outcome) -> str:
    for source in ("probe", "shrink", "explore"):
        if o.case.id.startswith(source):
            return source
    return "shrink"
