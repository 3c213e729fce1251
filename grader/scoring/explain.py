"""Naming one mistake for a whole problem, only when it explains most of the problem's failing cases.

A wrong diagnosis is worse than none, because the student trusts it. So a mistake is named only when
it explains a strict majority of the failing graded cases, and the report says how many it explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.cases.model import Case
from grader.report.model import CaseReport
from grader.scoring.diagnose import diagnose_problem, is_square, square_image


@dataclass(frozen=True)
class Outcome:
    """One judged call: the case, its report, whether the answer held NaN or inf, every known mistake it
    matches (with the values their messages need) and the array it returned, when it could be read."""

    case: Case
    report: CaseReport
    nonfinite: bool = False
    matches: tuple[str, ...] = ()
    values: dict = field(default_factory=dict)
    got: np.ndarray | None = None

    @property
    def failed(self) -> bool:
        return self.report.status != "passed"

    @property
    def answered_wrong(self) -> bool:
        """It failed with an answer to judge: not an error, a crash or a timeout, which name no mistake."""
        return self.report.status == "failed"


@dataclass(frozen=True)
class Finding:
    mistake: str
    explains: int
    failing: int  # failing cases that returned an answer
    raised: int = 0  # failing cases that returned none (errors, crashes, timeouts): told apart, never explained


def explains(mistake: str, outcome: Outcome) -> bool:
    """Whether a mistake accounts for this failing case: it matched it, or the case fits the mistake's pattern."""
    if mistake == "softmax.overflow":
        return outcome.nonfinite and "large-logits" in outcome.case.tags
    if mistake in ("conv.square", "fc.square"):
        return not is_square(outcome.case)
    if mistake == "conv.swapped_loops":
        return not square_image(outcome.case)
    return mistake in outcome.matches


def candidate(pid: str, outcomes: list[Outcome]) -> str | None:
    """The mistake a set of judged calls points to, by diagnose_problem's rule, from the answers that came back."""
    failed = [(o.case, o.matches) for o in outcomes if o.answered_wrong]
    passed = [o.case for o in outcomes if not o.failed]
    return diagnose_problem(pid, failed, passed, [o.case for o in outcomes if o.nonfinite])


def name_mistake(pid: str, graded: list[Outcome], probes: list[Outcome] = ()) -> Finding | None:
    """The problem's diagnosis, or None when no known mistake explains most of its wrong answers.

    When probes answer wrong, they alone choose the mistake, so the words do not depend on the hidden cases
    drawn; the graded cases choose only when no probe does. Either way it must explain most of the failing
    graded cases that returned an answer; calls that raised are told as errors, not as a mistake.
    """
    failing = [o for o in graded if o.answered_wrong]
    if not failing:
        return None
    mistake = candidate(pid, probes if any(o.answered_wrong for o in probes) else graded)
    if mistake is None:
        return None
    n = sum(explains(mistake, o) for o in failing)
    raised = sum(o.failed and not o.answered_wrong for o in graded)
    return Finding(mistake, n, len(failing), raised) if 2 * n > len(failing) else None
