"""The comparison metric and the reading of what a student returned, all in one place.

A case passes when

    e = max|S - R| / max(max|S|, max|R|, tau) <= tol

with S the student's array and R the reference. The metric is symmetric, does not change when
both arrays are scaled, and is not diluted by array size. `tol` and `tau` come from the spec per
problem; tau only guards 0/0, except for softmax.ds whose values live on the probability scale (tau = 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TAU = 1e-30  # the default floor: only guards 0/0


def rel_error(S: np.ndarray, R: np.ndarray, tau: float = TAU) -> float:
    """The metric above for two arrays of one shape; inf if S has a NaN or an inf."""
    S, R = np.asarray(S), np.asarray(R)
    if not np.isfinite(S).all():
        return float("inf")
    # The arrays' own methods: numpy's module-level np.max costs more than the reduction on arrays this small.
    scale = max(float(np.abs(S).max(initial=0.0)), float(np.abs(R).max(initial=0.0)), tau)
    return float(np.abs(S - R).max(initial=0.0)) / scale


def close(S: np.ndarray, R: np.ndarray, tol: float, tau: float = TAU) -> bool:
    return S.shape == R.shape and rel_error(S, R, tau) <= tol


def close_each(S: np.ndarray, Rs: np.ndarray, tol: float, tau: float = TAU) -> np.ndarray:
    """close(S, R, tol, tau) for each R along the first axis of `Rs` (of shape (n, *S.shape)), at once: the
    same arithmetic, element for element, without a numpy call per candidate."""
    if not np.all(np.isfinite(S)) or len(Rs) == 0:
        return np.zeros(len(Rs), dtype=bool)
    axes = tuple(range(1, Rs.ndim))
    scale = np.maximum(np.max(np.abs(Rs), axis=axes, initial=0.0), max(float(np.max(np.abs(S), initial=0.0)), tau))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.max(np.abs(S - Rs), axis=axes, initial=0.0) / scale <= tol


@dataclass
class Reading:
    """A returned value made comparable, or the reason it is not."""

    array: np.ndarray | None
    failure: str | None = None
    notes: list[str] = field(default_factory=list)
    raw_shape: tuple | None = None


def read_output(value: np.ndarray | None, expected: np.ndarray, name: str) -> Reading:
    """Convert to float64 and reconcile the shape; singleton-only differences are accepted with a note."""
    if value is None:
        return Reading(None, f"{name} is missing")
    if value.dtype.kind == "c":
        return Reading(None, f"{name} is complex (dtype {value.dtype}); return real numbers")
    S = value.astype(np.float64)
    raw = S.shape
    if S.shape != expected.shape:
        # Only adding or dropping singleton axes, as in a column vector (N, 1) for (N,);
        # (1, N) for (N, 1) is a transpose.
        if S.ndim != expected.ndim and _squeeze(S.shape) == _squeeze(expected.shape):
            note = f"{name} has shape {S.shape}; accepted as {expected.shape}"
            return Reading(S.reshape(expected.shape), None, [note], raw)
        return Reading(S, f"{name} has shape {S.shape}, expected {expected.shape}", [], raw)
    finite = np.isfinite(S)
    if not finite.all():
        bad = np.argwhere(~finite)
        idx = tuple(int(i) for i in bad[0])
        what = "NaN" if np.isnan(S[idx]) else "inf"
        return Reading(S, f"{name} has {what} at index {list(idx)} ({len(bad)} non-finite values in all)", [], raw)
    return Reading(S, None, [], raw)


def _squeeze(shape: tuple) -> tuple:
    return tuple(d for d in shape if d != 1)


def worst_element(S: np.ndarray, R: np.ndarray) -> tuple[list[int], float, float]:
    """Index, got and expected at the largest absolute difference."""
    idx = np.unravel_index(int(np.argmax(np.abs(S - R))), R.shape) if R.size else ()
    return [int(i) for i in idx], float(S[idx]), float(R[idx])
