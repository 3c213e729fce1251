"""Randomized cases from the reference: a case set is a pure function of (spec, seed).

Each layer draws its cases from a schedule of kinds chosen to expose common mistakes: non-square
shapes catch transposes, asymmetric kernels catch a missing flip, 1x1 and oversized kernels catch
padding bugs, and large logits catch an unstabilised softmax. A few square or ordinary cases let a
partly right answer earn partial credit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from grader.cases.model import Case
from grader.contract import LAYERS, Layer
from grader.errors import ReferenceMissing
from grader.spec import Spec


def _mistakes():
    try:
        import reference.mistakes
    except ImportError:
        raise ReferenceMissing(
            "the reference implementation is not installed (this looks like the student kit): "
            "only the stored public cases in test_cases/ can be used here"
        ) from None
    return reference.mistakes


def generate(*, spec: Spec, seed: int, hidden: bool) -> list[Case]:
    """All cases of every layer in the spec, public counts or hidden counts, from one seed."""
    _mistakes()  # fail early, with the reason, where the reference is missing
    cases = []
    for name in spec.layers:
        layer = LAYERS[name]
        counts = getattr(spec.cases, name)
        n = counts.hidden if hidden else counts.public
        draw = layer.drawer()
        # One independent stream per layer and case, so changing one count leaves the other cases alone.
        root = np.random.SeedSequence([seed, layer.seed_key, int(hidden)])
        for i, child in enumerate(root.spawn(n)):
            rng = np.random.default_rng(child)
            kind = layer.kinds[i % len(layer.kinds)]
            inputs, tags = draw(rng, kind, spec)
            expected = expected_outputs(layer, inputs, spec)
            weight = spec.cases.hidden_weight if hidden else spec.cases.public_weight
            cid = f"{name}-{'h' if hidden else 'p'}{i + 1:02d}"
            cases.append(with_mistakes(Case(cid, name, hidden, tuple(dict.fromkeys(tags)), inputs, expected), weight))
    return cases


def with_mistakes(case: Case, weight: float = 1.0) -> Case:
    """The case with its known wrong answers (those these inputs can tell from the right one) and weight."""
    _mistakes()
    return Case(case.id, case.layer, case.hidden, case.tags, case.inputs, case.expected, KnownMistakes(case), weight)


class KnownMistakes(Mapping):
    """A case's known wrong answers by problem id (mistake id -> array), worked out from the reference the first
    time a problem's are asked for: most answers pass, and only a failing one is compared with them."""

    def __init__(self, case: Case):
        self._layer, self._inputs, self._expected = case.layer, case.inputs, case.expected
        self._known: dict[str, dict[str, np.ndarray]] = {}

    def __getitem__(self, pid: str) -> dict[str, np.ndarray]:
        if pid not in self._known:
            right = self._expected[pid]  # KeyError for a problem the case does not have, as a dict's
            args = LAYERS[self._layer].call_args(self._inputs)
            self._known[pid] = _distinct(_mistakes().wrong_answers(pid, args), right)
        return self._known[pid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._expected)

    def __len__(self) -> int:
        return len(self._expected)


def _distinct(wrong: dict[str, np.ndarray], right: np.ndarray) -> dict[str, np.ndarray]:
    """Drop wrong answers that these inputs cannot tell from the right one (e.g. a vertical flip on a 1-row image)."""
    scale = float(np.abs(right).max()) if right.size else 0.0
    return {m: a for m, a in wrong.items() if a.shape != right.shape or float(np.abs(a - right).max()) > 1e-9 * scale}


def expected_outputs(layer: Layer, inputs: dict[str, np.ndarray], spec: Spec) -> dict[str, np.ndarray]:
    """The reference backward's arrays for the spec's problems of this layer, by problem id."""
    out = layer.reference("backward")(*layer.call_args(inputs))
    out = out if isinstance(out, tuple) else (out,)
    return {p.id: np.asarray(out[layer.output_index(p.id)], dtype=float) for p in spec.problems_of(layer.name)}
