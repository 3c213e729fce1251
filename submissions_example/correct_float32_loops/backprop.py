"""Correct, but computed in float32 with scipy and einsum: must still earn full marks."""

import numpy as np
from scipy.signal import correlate2d


def conv_backward(x, w, dy):
    x, w, dy = (a.astype(np.float32) for a in (x, w, dy))
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dx = correlate2d(dy, w, mode="same")
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    windows = np.lib.stride_tricks.sliding_window_view(dyp, x.shape)
    dw = np.einsum("ijab,ab->ij", windows, x)
    return dx, dw


def fc_backward(x, W, dy):
    x, W, dy = (a.astype(np.float32) for a in (x, W, dy))
    return np.einsum("mn,m->n", W, dy), np.einsum("m,n->mn", dy, x)


def softmax_loss_backward(s, y):
    s = s.astype(np.float32)
    p = np.exp(s - s.max())
    p /= p.sum()
    p[y] -= 1
    return p
