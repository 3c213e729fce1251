"""Randomized cases from the reference: a case set is a pure function of (spec, seed).

Each layer draws its cases from a schedule of kinds chosen to expose common mistakes: non-square
shapes catch transposes, asymmetric kernels catch a missing flip, 1x1 and oversized kernels catch
padding bugs, and large logits catch an unstabilised softmax. A few square or ordinary cases let a
partly right answer earn partial credit.
"""

from __future__ import annotations

import numpy as np

from grader.cases.model import Case
from grader.contract import ARGUMENTS, INT_ARGUMENTS
from grader.errors import ReferenceMissing
from grader.spec import Spec

CONV_KINDS = ("nonsquare", "square", "nonsquare", "kernel-1x1", "kernel-larger", "row", "nonsquare", "column")
FC_KINDS = ("tall", "wide", "square", "tall", "vector-in", "wide")
SOFTMAX_KINDS = ("ordinary", "ordinary", "large-positive", "ordinary", "large-negative", "ordinary", "extreme")
_LAYER_KEY = {"conv": 0, "fc": 1, "softmax": 2}


def _reference():
    try:
        import reference
        import reference.mistakes
    except ImportError:
        raise ReferenceMissing(
            "the reference implementation is not installed (this looks like the student kit): "
            "only the stored public cases in test_cases/ can be used here"
        ) from None
    return reference, reference.mistakes


def generate(*, spec: Spec, seed: int, hidden: bool) -> list[Case]:
    """All cases of every layer in the spec, public counts or hidden counts, from one seed."""
    ref, mistakes = _reference()
    cases = []
    for layer in spec.layers:
        counts = getattr(spec.cases, layer)
        n = counts.hidden if hidden else counts.public
        # One independent stream per layer and case, so changing one count leaves the other cases alone.
        root = np.random.SeedSequence([seed, _LAYER_KEY[layer], int(hidden)])
        for i, child in enumerate(root.spawn(n)):
            rng = np.random.default_rng(child)
            kinds = {"conv": CONV_KINDS, "fc": FC_KINDS, "softmax": SOFTMAX_KINDS}[layer]
            kind = kinds[i % len(kinds)]
            inputs, tags = _DRAW[layer](rng, kind, spec)
            tags = tuple(dict.fromkeys(tags))
            expected = _expected(ref, layer, inputs, spec)
            wrong = {
                pid: _distinct(mistakes.wrong_answers(pid, _call_args(layer, inputs)), expected[pid])
                for pid in expected
            }
            weight = spec.cases.hidden_weight if hidden else spec.cases.public_weight
            cid = f"{layer}-{'h' if hidden else 'p'}{i + 1:02d}"
            cases.append(Case(cid, layer, hidden, tags, inputs, expected, wrong, weight))
    return cases


def _distinct(wrong: dict[str, np.ndarray], right: np.ndarray) -> dict[str, np.ndarray]:
    """Drop wrong answers that these inputs cannot tell from the right one (e.g. a vertical flip on a 1-row image)."""
    scale = float(np.abs(right).max()) if right.size else 0.0
    return {m: a for m, a in wrong.items() if a.shape != right.shape or float(np.abs(a - right).max()) > 1e-9 * scale}


def _call_args(layer: str, inputs: dict[str, np.ndarray]) -> list:
    return [int(inputs[k]) if k in INT_ARGUMENTS else inputs[k] for k in ARGUMENTS[layer]]


def _expected(ref, layer: str, inputs: dict[str, np.ndarray], spec: Spec) -> dict[str, np.ndarray]:
    fn = {"conv": ref.conv_backward, "fc": ref.fc_backward, "softmax": ref.softmax_loss_backward}[layer]
    out = fn(*_call_args(layer, inputs))
    out = out if isinstance(out, tuple) else (out,)
    return {p.id: np.asarray(out[p.output_index], dtype=float) for p in spec.problems_of(layer)}


def _scale(rng) -> float:
    return float(10.0 ** rng.uniform(-3, 3))


def _odd(rng, lo: int, hi: int) -> int:
    lo |= 1
    return lo + 2 * int(rng.integers((hi - lo) // 2 + 1))


def _asymmetric_kernel(rng, shape) -> np.ndarray:
    # A kernel close to its own 180-degree rotation would hide a missing flip.
    for _ in range(100):
        w = rng.normal(size=shape)
        if w.size == 1 or ((w - w[::-1, ::-1]) ** 2).sum() >= 0.25 * (w**2).sum():  # ||w - rot180 w|| >= ||w|| / 2
            return w
    return w


def _distinct_pair(rng, draw):
    a = draw()
    b = draw()
    while b == a:
        b = draw()
    return a, b


def _draw_conv(rng, kind: str, spec: Spec):
    S, K = spec.cases.max_side, spec.cases.max_kernel
    side = lambda: int(rng.integers(4, S + 1))  # noqa: E731
    ksz = lambda: _odd(rng, 3, min(7, K))  # noqa: E731
    if kind == "square":
        H = W = side()
        Kh = Kw = ksz()
    elif kind == "kernel-1x1":
        H, W = _distinct_pair(rng, side)
        Kh = Kw = 1
    elif kind == "kernel-larger":
        H, W = _distinct_pair(rng, lambda: int(rng.integers(1, 4)))
        Kh, Kw = _distinct_pair(rng, lambda: _odd(rng, 5, K))
    elif kind == "row":
        H, W = 1, side()
        Kh, Kw = _distinct_pair(rng, ksz)
    elif kind == "column":
        H, W = side(), 1
        Kh, Kw = _distinct_pair(rng, ksz)
    else:
        H, W = _distinct_pair(rng, side)
        Kh, Kw = _distinct_pair(rng, ksz)
    x = rng.normal(size=(H, W)) * _scale(rng)
    w = _asymmetric_kernel(rng, (Kh, Kw)) * _scale(rng)
    dy = rng.normal(size=(H, W)) * _scale(rng)
    tags = (kind, "square" if (H == W and Kh == Kw) else "nonsquare")
    return {"x": x, "w": w, "dy": dy}, tags


def _draw_fc(rng, kind: str, spec: Spec):
    S = spec.cases.max_side
    n = lambda: int(rng.integers(2, S + 1))  # noqa: E731
    if kind == "square":
        M = N = n()
    elif kind == "vector-in":
        M, N = n(), 1
    else:
        a, b = _distinct_pair(rng, n)
        M, N = (max(a, b), min(a, b)) if kind == "tall" else (min(a, b), max(a, b))
    x = rng.normal(size=N) * _scale(rng)
    W = rng.normal(size=(M, N)) * _scale(rng)
    dy = rng.normal(size=M) * _scale(rng)
    return {"x": x, "W": W, "dy": dy}, (kind, "square" if M == N else "nonsquare")


def _draw_softmax(rng, kind: str, spec: Spec):
    M = int(rng.integers(2, min(12, spec.cases.max_side) + 1))
    if kind == "large-positive":  # like [1000, 999, 998]: exp overflows without the max shift
        s = 1000.0 + rng.integers(0, 4) * 100 + rng.normal(size=M) * 2
    elif kind == "large-negative":  # like [-1000, -1000, -1000]: exp underflows to 0/0
        s = -1000.0 - rng.integers(0, 4) * 100 + rng.normal(size=M) * 2
    elif kind == "extreme":  # like [1e4, -1e4, 0] or [710, 0, -5]
        s = rng.choice([-1e4, -5.0, 0.0, 710.0, 1e4], size=M) + rng.normal(size=M)
        s[rng.integers(M)] = 1e4 if rng.random() < 0.5 else 710.0
    else:
        s = rng.normal(size=M) * rng.uniform(0.5, 5)
    large = kind != "ordinary"
    if large:
        # Multiples of 1/64 below 2^17 are exact in float32, so a correct float32 softmax is not
        # penalised for the cast of its input (float32's spacing near 1e4 is about 1e-3).
        s = np.round(s * 64) / 64
    y = np.array(int(rng.integers(M)), dtype=np.int64)
    return {"s": s, "y": y}, (kind, "large-logits" if large else "small-logits")


_DRAW = {"conv": _draw_conv, "fc": _draw_fc, "softmax": _draw_softmax}
