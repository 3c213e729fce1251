"""The unscored calls of one run: which run right after the graded cases, and who chooses any more."""

from __future__ import annotations

from dataclasses import dataclass

from grader.cases.model import Case
from grader.feedback.explore import explore_cases
from grader.feedback.probes import probe_cases
from grader.feedback.shrink import Shrinker, candidates
from grader.spec import Spec


@dataclass(frozen=True)
class Feedback:
    """Probes (name mistakes), shrink candidates (find minimal failing cases), explore cases (random checks)."""

    probes: tuple[Case, ...] = ()
    candidates: tuple[Case, ...] = ()
    explore: tuple[Case, ...] = ()

    @property
    def first(self) -> list[Case]:
        """Run after the graded cases, for the layers that failed one, within the feedback budget."""
        return [*self.probes, *self.candidates]

    def shrinker(self, spec: Spec, graded: list[Case]) -> Shrinker:
        """The runner's `more`: the probes and fixed candidates of the layers that failed a graded case, then
        further shrink rounds when no fixed candidate is the smallest failure."""
        return Shrinker(
            spec, fresh=[*self.explore, *self.probes], fixed=list(self.candidates), graded=graded, first=self.first
        )


def plan_feedback(spec: Spec, *, explore: int = 0, seed: int | None = None) -> Feedback:
    """Probes and shrink candidates, and `explore` random cases from `seed` when asked for."""
    cases = tuple(explore_cases(spec, n=explore, seed=seed)) if explore else ()
    return Feedback(probes=tuple(probe_cases(spec)), candidates=tuple(candidates(spec)), explore=cases)
