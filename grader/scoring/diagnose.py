"""Naming a student's mistake: compare a wrong answer with known wrong answers for the same inputs.

Candidates come from two places: `case.mistakes` (computed by reference/mistakes.py, or stored
with the public cases) and the rules here, which need only the correct answer and the inputs.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np

from grader.cases.model import Case
from grader.scoring.catalogue import CATALOGUE, describe
from grader.scoring.compare import close

__all__ = [
    "CATALOGUE",
    "describe",
    "diagnose_case",
    "diagnose_problem",
    "is_square",
]  # the catalogue, for old importers


def diagnose_case(
    pid: str, case: Case, S: np.ndarray | None, tol: float, tau: float = 1e-30
) -> tuple[str | None, dict]:
    """The id of a known mistake that S matches within tolerance, with any values its message needs."""
    if S is None:
        return None, {}
    near = functools.partial(close, tol=tol, tau=tau)
    R = case.expected[pid]
    for mid, M in case.mistakes.get(pid, {}).items():
        if near(S, M):
            return mid, {}
    if S.shape != R.shape:
        return _by_shape(pid, case, S.shape), {}
    if not np.all(np.isfinite(S)):
        return None, {}
    layer = case.layer
    if not np.any(S) and np.any(R):
        return "any.zeros", {}
    if layer == "softmax":
        t = np.zeros_like(R)
        t[int(case.inputs["y"])] = 1.0
        if near(S, R + t):
            return "softmax.p_only", {}
        if near(S, -R):
            return "softmax.t_minus_p", {}
        for k in range(len(R)):
            tk = np.zeros_like(R)
            tk[k] = 1.0
            if k != int(case.inputs["y"]) and near(S, R + t - tk):
                return "softmax.wrong_index", {}
    if near(S, -R):
        return "any.sign", {}
    if R.ndim == 2:
        if R.shape[0] == R.shape[1] and R.shape[0] > 1 and near(S, R.T):
            return ("fc.dW.transposed" if pid == "fc.dW" else "conv.swap_axes"), {}
        if pid == "conv.dw" and R.size > 1 and near(S, R[::-1, ::-1]):
            return "conv.dw.flipped", {}
        if layer == "conv":
            if _shifted(S, R, tol):
                return "conv.off_by_one", {}
            if _border_only(S, R, case, tol):
                return "conv.border", {}
    alpha = float(np.vdot(S, R) / np.vdot(R, R)) if np.any(R) else 0.0
    if abs(alpha - 1) > 1e-3 and alpha != 0 and near(S, alpha * R):
        return "any.scale", {"factor": f" of {alpha:.4g}"}
    return None, {}


def _by_shape(pid: str, case: Case, shape: tuple) -> str | None:
    R = case.expected[pid]
    if 0 in shape:
        return None  # an empty answer says nothing about transposes or padding
    if len(shape) == 2 and shape == R.shape[::-1]:
        return "fc.dW.transposed" if pid == "fc.dW" else "conv.swap_axes" if pid.startswith("conv") else None
    if pid == "conv.dx":
        (H, W), (Kh, Kw) = case.inputs["x"].shape, case.inputs["w"].shape
        if shape == (H + Kh - 1, W + Kw - 1):
            return "conv.full"
        if shape == (H - Kh + 1, W - Kw + 1):
            return "conv.valid"
    return None


def _shifted(S: np.ndarray, R: np.ndarray, tol: float) -> bool:
    for axis in (0, 1):
        if R.shape[axis] < 2:
            continue
        for step in (1, -1):
            moved = np.roll(R, step, axis=axis)
            edge = [slice(None)] * 2
            edge[axis] = 0 if step == 1 else -1
            moved[tuple(edge)] = 0.0  # shifting in zeros, as padding would
            if close(S, moved, tol) or close(S, np.roll(R, step, axis=axis), tol):
                return True
    return False


def _border_only(S: np.ndarray, R: np.ndarray, case: Case, tol: float) -> bool:
    rh, rw = (d // 2 for d in case.inputs["w"].shape)
    H, W = R.shape
    if 2 * rh >= H or 2 * rw >= W or (rh == 0 and rw == 0):
        return False
    inner = (slice(rh, H - rh), slice(rw, W - rw))
    scale = max(np.max(np.abs(S)), np.max(np.abs(R)))
    return bool(np.max(np.abs(S[inner] - R[inner])) <= tol * scale)


def diagnose_problem(
    pid: str, failed: list[tuple[Case, str | None]], passed: list[Case], nonfinite: list[Case]
) -> str | None:
    """The one mistake behind a set of failures: a known mistake matching most of them, or a pattern
    that covers all of them (only non-square inputs fail, only large logits overflow). None when
    neither holds: a minority mistake is never named, however common it is among the rest."""
    if not failed:
        return None
    named = Counter(m for _, m in failed if m)
    if named:
        mid, n = named.most_common(1)[0]
        if n * 2 > len(failed):
            return mid
    layer = pid.split(".")[0]
    overflow_only = nonfinite and all("large-logits" in c.tags for c in nonfinite)
    if layer == "softmax" and overflow_only and any("small-logits" in c.tags for c in passed):
        return "softmax.overflow"
    nonsquare_only = all(not is_square(c) for c, _ in failed)
    if layer in ("conv", "fc") and nonsquare_only and any(is_square(c) for c in passed):
        return f"{layer}.square"
    return None


def is_square(case: Case) -> bool:
    """Whether every matrix among the case's inputs is square (image and kernel, or W)."""
    return all(a.ndim < 2 or a.shape[0] == a.shape[1] for a in case.inputs.values())
