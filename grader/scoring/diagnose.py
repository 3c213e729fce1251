"""Naming a student's mistake: compare a wrong answer with known wrong answers for the same inputs.

Candidates come from two places: `case.mistakes` (computed by reference/mistakes.py, or stored
with the public cases) and the rules here, which need only the correct answer and the inputs.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict

import numpy as np

from grader.cases.model import Case
from grader.scoring.compare import close

# mistake id -> (what the student did, in words they can act on; part of the assignment)
CATALOGUE: dict[str, tuple[str, str]] = {
    "conv.dx.unflipped": (
        "dx uses the kernel without flipping it: dL/dx is dL/dy convolved with the kernel flipped both ways "
        "(w~[c,d] = w[-c,-d]), i.e. a correlation with w",
        "A.1",
    ),
    "conv.dx.flip_horizontal_only": (
        "the kernel is flipped left-right but not up-down: w~[c,d] = w[-c,-d] flips both axes",
        "A.1",
    ),
    "conv.dx.flip_vertical_only": (
        "the kernel is flipped up-down but not left-right: w~[c,d] = w[-c,-d] flips both axes",
        "A.1",
    ),
    "conv.dx.wrap": (
        "the border wraps around: the assignment uses zero padding, so pixels outside the image are 0",
        "A.1",
    ),
    "conv.dw.wrap": (
        "the border wraps around: the assignment uses zero padding, so pixels outside the image are 0",
        "A.2",
    ),
    "conv.dw.flipped": (
        "dw is flipped by 180 degrees: dL/dw[c,d] = sum dL/dy[e,f] x[e-c, f-d], index c stored at [c + r]",
        "A.2",
    ),
    "conv.off_by_one": (
        "the result is shifted by one pixel: check the kernel centre r = (K-1)/2 and the padding",
        "A.1/A.2",
    ),
    "conv.full": (
        "the output has the 'full' size (H+Kh-1, W+Kw-1); the assignment's output is the same size as the input",
        "A",
    ),
    "conv.valid": (
        "the output has the 'valid' size (H-Kh+1, W-Kw+1); pad with zeros so the output is the same size as the input",
        "A",
    ),
    "conv.border": ("only a band along the border is wrong: the zero padding is missing or wrong", "A"),
    "conv.swap_axes": ("rows and columns are swapped: the first index is the row (height H or Kh)", "A"),
    "conv.square": ("wrong only when H != W or Kh != Kw: the code assumes square images or kernels", "A"),
    "fc.dx.no_transpose": ("dx uses W where W^T is needed: dL/dx = W^T dL/dy", "B.1"),
    "fc.dx.elementwise": ("an elementwise product where a matrix product is needed: dL/dx = W^T dL/dy (use @)", "B.1"),
    "fc.dW.elementwise": ("an elementwise product where an outer product is needed: dL/dW = dL/dy x^T", "B"),
    "fc.dW.transposed": ("dW is transposed: dL/dW has the shape of W, (M, N), and equals dL/dy x^T", "B"),
    "fc.square": ("wrong only when W is not square: check which dimension is M and which is N", "B.1"),
    "softmax.p_only": ("returns p without subtracting the one-hot target t: dL/ds = p - t", "C.1"),
    "softmax.t_minus_p": ("returns t - p: the sign is flipped, dL/ds = p - t", "C.1"),
    "softmax.wrong_index": ("the one-hot target is at the wrong index: t has its 1 at the label y (0-based)", "C.1"),
    "softmax.overflow": (
        "NaN or inf only on large scores: exp overflows; subtract max(s) before exp (softmax is shift invariant)",
        "C.1",
    ),
    "any.zeros": ("returns all zeros: the function is probably unimplemented", ""),
    "any.sign": ("the sign is flipped: the gradient is the negative of what was returned", ""),
    "any.scale": ("the result is off by a constant factor{factor}", ""),
}


def describe(mistake_id: str, **values) -> tuple[str, str]:
    """The message and assignment part of a mistake; values the message names but were not given read as ''."""
    text, section = CATALOGUE[mistake_id]
    return text.format_map(defaultdict(str, values)), section


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
    """One mistake for the whole problem: the most common among failed cases, or a pattern across them."""
    if not failed:
        return None
    named = Counter(m for _, m in failed if m)
    if named:
        mid, n = named.most_common(1)[0]
        if n * 2 >= len(failed):
            return mid
    layer = pid.split(".")[0]
    overflow_only = nonfinite and all("large-logits" in c.tags for c in nonfinite)
    if layer == "softmax" and overflow_only and any("small-logits" in c.tags for c in passed):
        return "softmax.overflow"
    nonsquare_only = all("nonsquare" in c.tags for c, _ in failed)
    if layer in ("conv", "fc") and nonsquare_only and any("square" in c.tags for c in passed):
        return f"{layer}.square"
    return named.most_common(1)[0][0] if named else None
