"""Known wrong answers, computed from a case's inputs, so the grader can name a student's mistake.

Each entry maps a mistake id to a function of the inputs. Mistakes that follow from the correct
answer alone (scale, sign, transpose, shift, border band) live in grader.scoring.diagnose instead.
"""

import numpy as np

from reference.layers import conv_forward, correlate_valid


def _wrap_pad(a, w):
    """Circular instead of zero padding: indices taken modulo the image size (so larger kernels wrap again)."""
    rh, rw = (w.shape[0] - 1) // 2, (w.shape[1] - 1) // 2
    H, W = a.shape
    rows = np.arange(-rh, H + rh) % H
    cols = np.arange(-rw, W + rw) % W
    return np.asarray(a, dtype=float)[rows[:, None], cols[None, :]]


def _last_term(dy, k, out_shape):
    """The last term of correlate_valid(zero-padded dy, k) in loop order: k[-1, -1] times its window."""
    rh, rw = (out_shape[0] - 1) // 2, (out_shape[1] - 1) // 2
    dp = np.pad(np.asarray(dy, dtype=float), ((rh, rh), (rw, rw)))
    h, w = k.shape
    return float(k[-1, -1]) * dp[h - 1 : h - 1 + dp.shape[0] - h + 1, w - 1 : w - 1 + dp.shape[1] - w + 1]


MISTAKES = {
    "conv.dx": {
        "conv.dx.unflipped": lambda x, w, dy: conv_forward(dy, w),
        # dx = dy convolved with w flipped both ways; these flip one way only.
        "conv.dx.flip_horizontal_only": lambda x, w, dy: conv_forward(dy, w[:, ::-1]),
        "conv.dx.flip_vertical_only": lambda x, w, dy: conv_forward(dy, w[::-1, :]),
        "conv.dx.wrap": lambda x, w, dy: correlate_valid(_wrap_pad(dy, w), w),
        # `dx[i, j] = ...` inside the loop over taps (a, b), where += belongs: the last tap alone.
        "conv.dx.overwrite": lambda x, w, dy: _last_term(dy, w, w.shape),
    },
    "conv.dw": {
        "conv.dw.wrap": lambda x, w, dy: correlate_valid(_wrap_pad(dy, w), x),
        # `dw[a, b] = ...` inside the loop over pixels (i, j), where += belongs: the last pixel alone.
        "conv.dw.overwrite": lambda x, w, dy: _last_term(dy, x, w.shape),
    },
    "fc.dx": {
        "fc.dx.no_transpose": lambda x, W, dy: W @ dy,
        "fc.dx.elementwise": lambda x, W, dy: W.T * dy,
    },
    "fc.dW": {
        "fc.dW.elementwise": lambda x, W, dy: dy * x,
    },
    "softmax.ds": {},
}


def wrong_answers(problem_id, args):
    """Every known wrong answer for these inputs that is defined (shapes permitting), by mistake id.

    Inputs:
    - problem_id: e.g. "conv.dx"
    - args: the arguments of the student's function, in order (x, w, dy) or (x, W, dy) or (s, y)

    Returns:
    - dict of mistake id -> array
    """
    out = {}
    for mid, fn in MISTAKES[problem_id].items():
        try:
            out[mid] = np.asarray(fn(*args), dtype=float)
        except ValueError:  # e.g. W @ dy when W is not square
            continue
    return out
