"""The unscored calls of one run: which run right after the graded cases, which only when something failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grader.cases.model import Case
from grader.feedback.explore import explore_cases
from grader.feedback.probes import probe_cases
from grader.feedback.shrink import candidates, layers_to_shrink
from grader.results import CallResult
from grader.spec import Spec


@dataclass(frozen=True)
class Feedback:
    """Probes (name mistakes), shrink candidates (find minimal failing cases), explore cases (random checks)."""

    probes: tuple[Case, ...] = ()
    candidates: tuple[Case, ...] = ()
    explore: tuple[Case, ...] = ()

    @property
    def first(self) -> list[Case]:
        """Run right after the graded cases, within the feedback budget."""
        return list(self.probes)

    @property
    def fresh(self) -> list[Case]:
        """Where minimal failing cases may come from, besides the probes and explore cases."""
        return list(self.candidates)

    def picker(self, spec: Spec, graded: list[Case]) -> Callable[[dict[str, CallResult]], set[str]]:
        """Chooses, from the first results, the candidates to run: those of the layers that failed."""

        def pick(calls: dict[str, CallResult]) -> set[str]:
            layers = layers_to_shrink(spec, [*graded, *self.explore, *self.first], calls)
            return {c.id for c in self.candidates if c.layer in layers}

        return pick


def plan_feedback(spec: Spec, *, explore: int = 0, seed: int | None = None) -> Feedback:
    """Probes and shrink candidates, and `explore` random cases from `seed` when asked for."""
    cases = tuple(explore_cases(spec, n=explore, seed=seed)) if explore else ()
    return Feedback(probes=tuple(probe_cases(spec)), candidates=tuple(candidates(spec)), explore=cases)
