"""The default tolerance passes every correct implementation and fails every structural mistake, with margin.

Measured on 2026-11-26 over the public cases and three students' hidden cases (tol = 1e-4):
- correct implementations, worst error: float64 4e-16, FFT 6e-16, float32 2e-7 (large logits are drawn
  on a 1/64 grid so that float32 holds them exactly; off the grid float32 alone costs ~5e-4 near 1e4);
- structural mistakes, smallest error: 0.25 (dw flipped), then 0.36 (unflipped kernel), 0.69 (shift).
The bounds below keep a factor of 10 or more on each side.
"""

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d, fftconvolve

from grader.cases.generate import generate
from grader.scoring.compare import rel_error
from grader.workflows.grade import hidden_cases

CORRECT_SIDE_BOUND = 1e-5  # at least 10x below the tolerance
MISTAKE_SIDE_BOUND = 0.1  # at least 1000x above it


@pytest.fixture(scope="module")
def all_cases(spec):
    cases = generate(spec=spec, seed=spec.cases.public_seed, hidden=False)
    for sid in ("alice", "bob", "carol"):
        cases += hidden_cases(spec=spec, secret=b"margins", student_id=sid)
    return cases


def _dw(x, w, dy, dtype=np.float64):
    x, dy = x.astype(dtype), dy.astype(dtype)
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    return np.einsum("ijab,ab->ij", np.lib.stride_tricks.sliding_window_view(dyp, x.shape), x)


def _fft_dx(x, w, dy):
    full = fftconvolve(dy, w[::-1, ::-1], mode="full")
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    return full[rh : rh + dy.shape[0], rw : rw + dy.shape[1]]


def _softmax(s, y, dtype=np.float64):
    s = s.astype(dtype)
    p = np.exp(s - s.max())
    p /= p.sum()
    p[y] -= 1
    return p


CORRECT = {
    "float64-scipy": {
        "conv.dx": lambda x, w, dy: correlate2d(dy, w, mode="same"),
        "conv.dw": _dw,
        "fc.dx": lambda x, W, dy: W.T @ dy,
        "fc.dW": lambda x, W, dy: np.outer(dy, x),
        "softmax.ds": _softmax,
    },
    "float32": {
        "conv.dx": lambda x, w, dy: correlate2d(dy.astype(np.float32), w.astype(np.float32), mode="same"),
        "conv.dw": lambda x, w, dy: _dw(x, w, dy, np.float32),
        "fc.dx": lambda x, W, dy: np.einsum("mn,m->n", W.astype(np.float32), dy.astype(np.float32)),
        "fc.dW": lambda x, W, dy: np.outer(dy.astype(np.float32), x.astype(np.float32)),
        "softmax.ds": lambda s, y: _softmax(s, y, np.float32),
    },
    "fft": {"conv.dx": _fft_dx},
}

MISTAKES = {
    "unflipped": ("conv.dx", lambda x, w, dy: convolve2d(dy, w, mode="same")),
    "dw-flipped": ("conv.dw", lambda x, w, dy: _dw(x, w, dy)[::-1, ::-1]),
    "shift": ("conv.dx", lambda x, w, dy: np.roll(correlate2d(dy, w, mode="same"), 1, axis=1)),
    "no-transpose": ("fc.dx", lambda x, W, dy: W @ dy),
    "p-only": ("softmax.ds", lambda s, y: _softmax(s, y) + np.eye(len(s))[y]),
    "wrong-index": ("softmax.ds", lambda s, y: _softmax(s, y) + np.eye(len(s))[y] - np.eye(len(s))[(y + 1) % len(s)]),
}


def _args(case):
    order = {"conv": ("x", "w", "dy"), "fc": ("x", "W", "dy"), "softmax": ("s", "y")}[case.layer]
    return [int(case.inputs[k]) if k == "y" else case.inputs[k] for k in order]


@pytest.mark.parametrize("impl", sorted(CORRECT))
def test_correct_implementations_pass_with_margin(all_cases, spec, impl):
    worst = 0.0
    for pid, fn in CORRECT[impl].items():
        for case in (c for c in all_cases if c.layer == pid.split(".")[0]):
            S = np.asarray(fn(*_args(case)), dtype=np.float64)
            worst = max(worst, rel_error(S, case.expected[pid], spec.problem(pid).tau))
    assert worst < CORRECT_SIDE_BOUND <= spec.problems[0].tol / 10, worst


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_structural_mistakes_fail_with_margin(all_cases, spec, name):
    pid, fn = MISTAKES[name]
    errors = []
    for case in (c for c in all_cases if c.layer == pid.split(".")[0]):
        try:
            S = np.asarray(fn(*_args(case)), dtype=np.float64)
        except ValueError:
            continue
        R = case.expected[pid]
        if S.shape == R.shape and not np.allclose(S, R, rtol=1e-12, atol=0):  # cases that can tell at all
            errors.append(rel_error(S, R, spec.problem(pid).tau))
    assert errors and min(errors) > MISTAKE_SIDE_BOUND, min(errors)
