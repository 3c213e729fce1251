"""Known wrong answers, computed from a case's inputs, so the grader can name a student's mistake.

Each entry maps a mistake id to a function of the inputs. Mistakes that follow from the correct
answer alone (scale, sign, transpose, shift, border band) live in grader.scoring.diagnose instead.
"""

import numpy as np

from reference.layers import conv_forward


def _conv_wrap(x, w):
    """conv_forward with circular instead of zero padding."""
    rh, rw = (w.shape[0] - 1) // 2, (w.shape[1] - 1) // 2
    H, W = x.shape
    xp = np.pad(x, ((rh, rh), (rw, rw)), mode="wrap")
    y = np.zeros((H, W))
    for i in range(w.shape[0]):  # loop over kernel taps only; each step is a whole-image operation
        for j in range(w.shape[1]):
            y += w[w.shape[0] - 1 - i, w.shape[1] - 1 - j] * xp[i : i + H, j : j + W]
    return y


def _dw_wrap(x, w, dy):
    rh, rw = (w.shape[0] - 1) // 2, (w.shape[1] - 1) // 2
    H, W = x.shape
    dp = np.pad(dy, ((rh, rh), (rw, rw)), mode="wrap")
    return np.array([[np.sum(x * dp[i : i + H, j : j + W]) for j in range(w.shape[1])] for i in range(w.shape[0])])


MISTAKES = {
    "conv.dx": {
        "conv.dx.unflipped": lambda x, w, dy: conv_forward(dy, w),
        # dx = dy convolved with w flipped both ways; these flip one way only.
        "conv.dx.flip_horizontal_only": lambda x, w, dy: conv_forward(dy, w[:, ::-1]),
        "conv.dx.flip_vertical_only": lambda x, w, dy: conv_forward(dy, w[::-1, :]),
        "conv.dx.wrap": lambda x, w, dy: _conv_wrap(dy, w[::-1, ::-1]),
    },
    "conv.dw": {
        "conv.dw.wrap": _dw_wrap,
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
