"""Typical mistake (A.1): dx uses the kernel unflipped (convolution where a correlation is needed)."""

import numpy as np
from scipy.signal import convolve2d


def conv_backward(x, w, dy):
    dx = convolve2d(dy, w, mode="same")  # should be correlate2d
    H, W = x.shape
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    dw = np.array([[np.sum(x * dyp[i : i + H, j : j + W]) for j in range(w.shape[1])] for i in range(w.shape[0])])
    return dx, dw


def fc_backward(x, W, dy):
    return W.T @ dy, np.outer(dy, x)


def softmax_loss_backward(s, y):
    p = np.exp(s - s.max())
    p /= p.sum()
    p[y] -= 1
    return p
