"""Drawing one case's inputs for a kind of case; the kinds of each layer are listed in grader.contract."""

from __future__ import annotations

import numpy as np

from grader.spec import Spec


def _scale(rng) -> float:
    return float(10.0 ** rng.uniform(-3, 3))


def _odd(rng, lo: int, hi: int) -> int:
    lo |= 1
    return lo + 2 * int(rng.integers((hi - lo) // 2 + 1))


def asymmetric_kernel(rng, shape) -> np.ndarray:
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


def draw_conv(rng, kind: str, spec: Spec):
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
    w = asymmetric_kernel(rng, (Kh, Kw)) * _scale(rng)
    dy = rng.normal(size=(H, W)) * _scale(rng)
    tags = (kind, "square" if (H == W and Kh == Kw) else "nonsquare")
    return {"x": x, "w": w, "dy": dy}, tags


def draw_fc(rng, kind: str, spec: Spec):
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


def draw_softmax(rng, kind: str, spec: Spec):
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
