"""Rules that name a mistake from the correct answer and the inputs alone, so they work without the reference."""

from __future__ import annotations

import functools

import numpy as np

from grader.cases.model import Case
from grader.contract import layer_of
from grader.scoring.compare import close, close_each
from grader.scoring.conv_rules import conv_matches


def by_rules(pid: str, case: Case, S: np.ndarray, tol: float, tau: float) -> tuple[list[str], dict]:
    """Every mistake these rules recognise in S (look-alikes included), with any values their messages need."""
    with np.errstate(all="ignore"):  # an answer near float's limits overflows a product: that rule then fails
        return _by_rules(pid, case, S, tol, tau)


def _by_rules(pid: str, case: Case, S: np.ndarray, tol: float, tau: float) -> tuple[list[str], dict]:
    near = functools.partial(close, tol=tol, tau=tau)
    R = case.expected[pid]
    swapped = _swapped_with(pid, case, S, near)
    if swapped:
        layer = layer_of(pid)
        order = ", ".join(p.split(".")[1] for p in layer.outputs)
        return ["any.swapped_outputs"], {"function": layer.function, "other": swapped.split(".")[1], "order": order}
    if S.shape != R.shape:
        found = _by_shape(pid, case, S.shape)
        return found + (conv_matches(pid, case, S, tol) if case.layer == "conv" else []), {}
    if not np.all(np.isfinite(S)):
        return [], {}
    if not np.any(S) and np.any(R):
        return ["any.zeros"], {}
    found: list[str] = []
    if case.layer == "softmax":
        found += _softmax(case, S, R, near)
    if near(S, -R):
        found.append("any.sign")
    if R.ndim == 2:
        if R.shape[0] == R.shape[1] and R.shape[0] > 1 and near(S, R.T):
            found.append("fc.dW.transposed" if pid == "fc.dW" else "conv.swap_axes")
        if pid == "conv.dw" and R.size > 1 and near(S, R[::-1, ::-1]):
            found.append("conv.dw.flipped")
        if case.layer == "conv":
            found += conv_matches(pid, case, S, tol)
            if _shifted(S, R, tol):
                found.append("conv.off_by_one")
            # Only the image's border band: in dw every tap but the centre reads the padding, so a band
            # there says nothing (a flip keeps the centre too).
            if pid == "conv.dx" and _border_only(S, R, case, tol):
                found.append("conv.border")
    alpha = float(np.vdot(S, R) / np.vdot(R, R)) if np.any(R) else 0.0
    ordinary = np.isfinite(alpha) and abs(alpha - 1) > 1e-3 and abs(alpha + 1) > 1e-3 and alpha != 0
    if ordinary and near(S, alpha * R):
        return [*found, "any.scale"], {"factor": f" of {alpha:.4g}"}
    return found, {}


def _swapped_with(pid: str, case: Case, S: np.ndarray, near) -> str | None:
    """The other output of the same function whose expected value S is: the results returned in the wrong order."""
    for other, M in case.expected.items():
        if other != pid and other in layer_of(pid).outputs and np.any(M) and near(S, M):
            return other
    return None


def _softmax(case: Case, S: np.ndarray, R: np.ndarray, near) -> list[str]:
    y = int(case.inputs["y"])
    t = np.zeros_like(R)
    t[y] = 1.0
    if near(S, R + t):
        return ["softmax.p_only"]
    if near(S, -R):
        return ["softmax.t_minus_p"]
    for k in range(len(R)):
        tk = np.zeros_like(R)
        tk[k] = 1.0
        if k != y and near(S, R + t - tk):
            return ["softmax.wrong_index"]
    return []


def _by_shape(pid: str, case: Case, shape: tuple) -> list[str]:
    R = case.expected[pid]
    if 0 in shape:
        return []  # an empty answer says nothing about transposes or padding sizes (conv_matches: empty crops)
    if len(shape) == 2 and shape == R.shape[::-1]:
        return ["fc.dW.transposed" if pid == "fc.dW" else "conv.swap_axes"] if pid.startswith(("conv", "fc.dW")) else []
    if pid == "conv.dx" and len(shape) == 2:
        (H, W), (Kh, Kw) = case.inputs["x"].shape, case.inputs["w"].shape
        if shape == (H + Kh - 1, W + Kw - 1):
            return ["conv.full"]
        if shape == (H - Kh + 1, W - Kw + 1):
            return ["conv.valid"]
    return []


def _shifted(S: np.ndarray, R: np.ndarray, tol: float) -> bool:
    """S is R moved by one pixel along one axis or both, shifting in zeros (as padding would) or wrapping."""
    H, W = R.shape
    shifts = [(dh, dw) for dh in (-1, 0, 1) for dw in (-1, 0, 1) if (dh, dw) != (0, 0)]
    shifts = [(dh, dw) for dh, dw in shifts if not (dh and H < 2) and not (dw and W < 2)]
    if not shifts:
        return False
    tiled = np.tile(R, (2, 2))  # np.roll(R, (dh, dw), (0, 1)) is the H x W window of it at ((-dh) % H, (-dw) % W)
    moves = np.empty((2 * len(shifts), H, W), dtype=R.dtype)
    for k, (dh, dw) in enumerate(shifts):
        i, j = (-dh) % H, (-dw) % W
        moves[2 * k] = moves[2 * k + 1] = tiled[i : i + H, j : j + W]
        moved = moves[2 * k]  # the same move, shifting in zeros instead of wrapping
        if dh:
            moved[0 if dh == 1 else -1, :] = 0.0
        if dw:
            moved[:, 0 if dw == 1 else -1] = 0.0
    return bool(close_each(S, moves, tol).any())


def _border_only(S: np.ndarray, R: np.ndarray, case: Case, tol: float) -> bool:
    rh, rw = (d // 2 for d in case.inputs["w"].shape)
    H, W = R.shape
    if 2 * rh >= H or 2 * rw >= W or (rh == 0 and rw == 0):
        return False
    inner = (slice(rh, H - rh), slice(rw, W - rw))
    scale = max(np.max(np.abs(S)), np.max(np.abs(R)))
    return bool(np.max(np.abs(S[inner] - R[inner])) <= tol * scale)
