"""Shrinking: fresh inputs from 1x1 images and the smallest odd kernels up, small integers first, and
steps down from the smallest failing probe or random case; the smallest that still fails becomes the
problem's minimal failing case. They run after the graded cases, in rounds, in the same session; being
fresh, they reveal no hidden case.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from grader.cases.model import Case
from grader.contract import LAYERS
from grader.feedback.derive import derive
from grader.feedback.oracle import expected
from grader.results import CallResult
from grader.scoring.score import judge
from grader.spec import Spec

SEED = 1729
# Few enough to run with every submission (a call costs a few ms); bugs that need more are shrunk in rounds.
IMAGES = ((1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2))
KERNELS = ((1, 1), (1, 3), (3, 1), (3, 3), (3, 5), (5, 3))
FLOAT_CONV = (((2, 3), (3, 3)), ((3, 4), (3, 5)))
FC = ((1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 2), (3, 4))  # (M, N)
FLOAT_FC = ((3, 4),)


def candidates(spec: Spec) -> list[Case]:
    """Every layer's candidates, smallest first within a layer, with expected answers for the spec's problems."""
    return list(_candidates(spec))


@functools.lru_cache(maxsize=4)
def _candidates(spec: Spec) -> tuple[Case, ...]:
    rng = np.random.default_rng(SEED)
    ids = {p.id for p in spec.problems}
    out = []
    for name in spec.layers:
        layer = LAYERS[name]
        for i, (inputs, kind) in enumerate(_DRAW.get(name, lambda rng: ())(rng)):
            exp = {pid: a for pid, a in expected(layer, inputs).items() if pid in ids}
            out.append(Case(f"shrink-{name}-{i + 1:02d}", name, False, ("shrink", kind), inputs, exp, {}, 0.0))
    return tuple(out)


def _ints(rng, shape) -> np.ndarray:
    """Small nonzero integers, as float64: easy to check by hand."""
    return rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], size=shape)


def _conv(rng):
    # By how many numbers the inputs hold (x and dy are images), as the minimal case is chosen.
    shapes = sorted(itertools.product(IMAGES, KERNELS), key=lambda s: (2 * s[0][0] * s[0][1] + s[1][0] * s[1][1], s))
    for (H, W), (Kh, Kw) in shapes:
        yield {"x": _ints(rng, (H, W)), "w": _ints(rng, (Kh, Kw)), "dy": _ints(rng, (H, W))}, "integers"
    for (H, W), (Kh, Kw) in FLOAT_CONV:
        yield {"x": rng.normal(size=(H, W)), "w": rng.normal(size=(Kh, Kw)), "dy": rng.normal(size=(H, W))}, "floats"


def _fc(rng):
    for M, N in FC:
        yield {"x": _ints(rng, N), "W": _ints(rng, (M, N)), "dy": _ints(rng, M)}, "integers"
    for M, N in FLOAT_FC:
        yield {"x": rng.normal(size=N), "W": rng.normal(size=(M, N)), "dy": rng.normal(size=M)}, "floats"


def _softmax(rng):
    for M in (2, 3, 4):
        for y in (0, M - 1):
            yield {"s": _ints(rng, M), "y": np.array(y, dtype=np.int64)}, "integers"
    for s, y in (([1000.0, 999.0], 0), ([-1000.0, -1000.0], 1), ([1e4, -1e4, 0.0], 2), ([710.0, 0.0, -5.0], 1)):
        yield {"s": np.array(s), "y": np.array(y, dtype=np.int64)}, "large-integers"
    for M in (3, 4):
        yield {"s": rng.normal(size=M) * 2, "y": np.array(1, dtype=np.int64)}, "floats"


_DRAW = {"conv": _conv, "fc": _fc, "softmax": _softmax}


class Shrinker:
    """Chooses each round's candidates from the results so far, for the runner's `more`.

    The `first` round (probes and fixed candidates) runs only for the layers with a failing graded or
    explored case, so a submission that passes everything pays for no unscored call. Usually one fixed
    candidate is the smallest failing case, and nothing more runs. Otherwise each round steps down from
    the smallest failing case found so far, while that keeps shrinking (never from a fixed candidate: all
    smaller ones ran already). A round costs a restart of the student's code, so they are few.
    """

    ROUNDS = 5

    def __init__(
        self, spec: Spec, *, fresh: list[Case], fixed: list[Case], graded: list[Case] = (), first: list[Case] = ()
    ):
        self.spec, self.fresh = spec, [*fresh, *fixed]
        self.fixed_ids = {c.id for c in fixed}
        self.graded, self.first = [*graded, *fresh], list(first)
        self.first_done = not self.first
        self.tried: list[Case] = []
        self.rounds = self.made = 0
        self.source: dict[str, str] = {}  # problem id -> id of the case last shrunk from
        self.judged: dict[tuple[str, str], tuple[CallResult, bool]] = {}  # (case, problem) -> (its call, failed)

    def __call__(self, calls: dict[str, CallResult]) -> list[Case]:
        if not self.first_done:
            self.first_done = True
            failing: set[str] = set()
            for c in self.graded:  # one failing case is enough to know a layer fails
                if c.layer not in failing and self._fails(c, calls.get(c.id)):
                    failing.add(c.layer)
            return [c for c in self.first if c.layer in failing]
        self.rounds += 1
        if self.rounds > self.ROUNDS:
            return []
        batch = []
        for pid, case in self._smallest_failing(calls).items():
            if self.source.get(pid) != case.id and case.id not in self.fixed_ids:
                self.source[pid] = case.id
                batch += derive(case, {pid}, self._next_id)
        self.tried += batch
        return batch

    def _fails(self, case: Case, call: CallResult | None) -> bool:
        if call is None or call.status == "timeout":  # a layer that hangs would hang on its probes too
            return False
        return any(p.id in case.expected and self._failed(p, case, call) for p in self.spec.problems_of(case.layer))

    def _failed(self, problem, case: Case, call: CallResult) -> bool:
        """judge(...).failed, once per case, problem and call: every round looks at all the cases so far."""
        seen = self.judged.get((case.id, problem.id))
        if seen is None or seen[0] is not call:
            seen = self.judged[case.id, problem.id] = (call, judge(problem, case, call, diagnose=False).failed)
        return seen[1]

    def _smallest_failing(self, calls: dict[str, CallResult]) -> dict[str, Case]:
        best: dict[str, tuple[tuple[int, bool], Case]] = {}
        for case in [*self.fresh, *self.tried]:
            call = calls.get(case.id)
            if call is None or call.status == "timeout":
                continue
            key = None
            for p in self.spec.problems_of(case.layer):
                if p.id in case.expected and self._failed(p, case, call):
                    key = key or (case.size, not case.integral)
                    if p.id not in best or key < best[p.id][0]:
                        best[p.id] = (key, case)
        return {pid: case for pid, (_, case) in best.items()}

    def _next_id(self, layer: str) -> str:
        self.made += 1
        return f"shrink-{layer}-d{self.made:04d}"
