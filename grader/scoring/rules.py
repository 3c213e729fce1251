"""Rules that name a mistake from the correct answer and the inputs alone, so they work without the reference."""

from __future__ import annotations

import functools

import numpy as np

from grader.cases.model import Case
from grader.scoring.compare import close


def by_rules(pid: str, case: Case, S: np.ndarray, tol: float, tau: float) -> tuple[str | None, dict]:
    """The mistake these rules recognise in S, with any values its message needs."""
    near = functools.partial(close, tol=tol, tau=tau)
    R = case.expected[pid]
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
        # [r:-r] is empty when r = 0: empty exactly along the kernel's sides of length 1. An empty answer
        # says nothing about transposes or padding.
        K = case.inputs["w"].shape if case.layer == "conv" else ()
        if len(shape) == len(K) == 2 and all((n == 0) == (k == 1) for n, k in zip(shape, K, strict=True)):
            return "conv.empty_crop"
        return None
    if len(shape) == 2 and shape == R.shape[::-1]:
        return "fc.dW.transposed" if pid == "fc.dW" else "conv.swap_axes" if pid.startswith("conv") else None
    if pid == "conv.dx" and len(shape) == 2:
        (H, W), (Kh, Kw) = case.inputs["x"].shape, case.inputs["w"].shape
        if shape == (H + Kh - 1, W + Kw - 1):
            return "conv.full"
        if shape == (H - Kh + 1, W - Kw + 1):
            return "conv.valid"
        # The full result cropped by one fixed r0 on every side, e.g. [1:-1, 1:-1] written for 3x3 kernels.
        r0 = (H + Kh - 1 - shape[0]) / 2
        if r0 >= 1 and r0 == int(r0) and shape[1] == W + Kw - 1 - 2 * r0:
            return "conv.fixed_crop"
    if pid == "conv.dw" and len(shape) == 2 and shape[0] == shape[1] and shape[0] % 2 == 1:
        return "conv.fixed_crop"  # a square odd kernel size, but not this kernel's: hard-coded
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
