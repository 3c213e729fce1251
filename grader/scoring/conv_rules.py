"""Convolution mistakes recognised from their own evidence: where the answer sits in the full result, which
kernel taps or pixels survive in it, which axis is reversed, and whether it is empty.

Everything here needs only the inputs and the correct answer, so it works in the student kit too.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.cases.model import Case
from grader.forward import correlate_valid, zero_pad
from grader.scoring.compare import close, close_each

# A single product is exact in float64 and near 1e-7 in float32: one term per element is matched far more
# tightly than the problem's tolerance, so a chance match among many terms is unlikely.
TERM_TOL = 1e-6


def conv_matches(pid: str, case: Case, S: np.ndarray, tol: float) -> list[str]:
    """The convolution mistakes S shows, look-alikes included (the majority over cases chooses among them)."""
    R = case.expected[pid]
    found = []
    if S.ndim != 2:
        return []
    if 0 in S.shape:  # no value to compare; an empty shape fits some crop of nearly anything but this one
        return ["conv.empty_crop"] if _empty_crop(case, S) else []
    if _fixed_pad(pid, case, S, tol):
        found.append("conv.fixed_crop")
    if S.shape == R.shape:
        if R.size > 1 and pid == "conv.dw":
            found += _flips(S, R, tol)
        if _one_term_each(pid, case, S):
            found.append(f"{pid}.overwrite")
    return found


def _empty_crop(case: Case, S: np.ndarray) -> bool:
    """[r:-r] is [0:0] when r = 0: empty along the kernel's sides of length 1, or along both axes at once
    (one r = 0 used for both, or a padding of 0 for every kernel)."""
    K = case.inputs["w"].shape
    if all(n == 0 for n in S.shape):
        return True
    return all((n == 0) == (k == 1) for n, k in zip(S.shape, K, strict=True))


def full_result(pid: str, case: Case) -> tuple[np.ndarray, tuple[int, int]]:
    """Every offset of the correlation behind this output (dx: dy with w; dw: dy with x), and where the
    correct answer starts in it. A crop or padding of the wrong size shows as another window of it."""
    x, w, dy = (np.asarray(case.inputs[k], dtype=float) for k in ("x", "w", "dy"))
    (H, W), (Kh, Kw) = x.shape, w.shape
    rh, rw = (Kh - 1) // 2, (Kw - 1) // 2
    if pid == "conv.dx":
        return correlate_valid(zero_pad(dy, Kh - 1, Kw - 1), w), (rh, rw)
    return correlate_valid(zero_pad(dy, H - 1, W - 1), x), (H - 1 - rh, W - 1 - rw)


def window(F: np.ndarray, start: tuple[int, int], shape: tuple[int, ...]) -> np.ndarray:
    """F[start : start + shape], reading zeros outside F (a crop can reach past it, a padding beyond it)."""
    out = np.zeros(shape)
    (i0, j0), (h, w) = start, shape
    a, b = max(i0, 0), max(j0, 0)
    c, d = min(i0 + h, F.shape[0]), min(j0 + w, F.shape[1])
    if a < c and b < d:
        out[a - i0 : c - i0, b - j0 : d - j0] = F[a:c, b:d]
    return out


def _fixed_pad(pid: str, case: Case, S: np.ndarray, tol: float) -> bool:
    """S is the full result cut where one fixed padding p (the same on both axes) would cut it, not (K-1)/2:
    a crop [p:-p] or [p:p + H] starts at p, a padding of p then a valid correlation starts at K-1-p."""
    F, (oh, ow) = full_result(pid, case)
    rh, rw = (d // 2 for d in case.inputs["w"].shape)
    shifts = {(sign * (p - rh), sign * (p - rw)) for p in range(1, max(rh, rw) + 3) for sign in (1, -1)} - {(0, 0)}
    windows = [window(F, (oh + i, ow + j), S.shape) for i, j in sorted(shifts)]
    return bool(close_each(S, np.stack(windows), tol).any())


def _flips(S: np.ndarray, R: np.ndarray, tol: float) -> list[str]:
    out = []
    if R.shape[0] > 1 and close(S, R[::-1, :], tol):
        out.append("conv.dw.flip_vertical_only")
    if R.shape[1] > 1 and close(S, R[:, ::-1], tol):
        out.append("conv.dw.flip_horizontal_only")
    return out


def terms(pid: str, case: Case) -> np.ndarray:
    """The terms each element of the answer sums: per kernel tap for dx, per pixel for dw; shape (n, *answer)."""
    x, w, dy = (np.asarray(case.inputs[k], dtype=float) for k in ("x", "w", "dy"))
    (H, W), (Kh, Kw) = x.shape, w.shape
    dp = zero_pad(dy, (Kh - 1) // 2, (Kw - 1) // 2)
    # Every window of dp, as a strided view: [i, j] is dp[i : i + h, j : j + w] (the kernel's sides are odd, so
    # dp is H + Kh - 1 by W + Kw - 1 and every window is whole).
    if pid == "conv.dx":  # dx[i, j] = sum_{a,b} w[a, b] dp[i + a, j + b]
        views = sliding_window_view(dp, (H, W))  # (Kh, Kw, H, W)
        return (w[:, :, None, None] * views).reshape(Kh * Kw, H, W)
    # dw[a, b] = sum_{i,j} x[i, j] dp[i + a, j + b]
    views = sliding_window_view(dp, (Kh, Kw))  # (H, W, Kh, Kw)
    return (x[:, :, None, None] * views).reshape(H * W, Kh, Kw)


def _one_term_each(pid: str, case: Case, S: np.ndarray) -> bool:
    """Each element of S is one of the terms it should sum, not their sum: `=` where `+=` belongs, whatever
    the loop order (the last tap, the first, or in col2im whichever wrote last)."""
    T = terms(pid, case)
    if len(T) < 2 or not np.any(S):
        return False
    nearest = np.take_along_axis(T, np.argmin(np.abs(T - S), axis=0)[None], axis=0)[0]
    return close(S, nearest, TERM_TOL)
