import numpy as np


def conv_grads(x, w, dy):
    H, W = x.shape
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    dx = sum(w[i, j] * dyp[i : i + H, j : j + W] for i in range(w.shape[0]) for j in range(w.shape[1]))
    dw = np.array([[np.sum(x * dyp[i : i + H, j : j + W]) for j in range(w.shape[1])] for i in range(w.shape[0])])
    return dx, dw


def softmax_grad(s, y):
    z = s - s.max()
    p = np.exp(z) / np.exp(z).sum()
    p[y] -= 1
    return p
