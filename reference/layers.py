"""The three PA5 layers as pure, vectorized forward/backward pairs in the assignment's conventions.

The forward passes live in grader/forward.py, because the student kit needs them and never gets this file;
each backward here sits under the name of its forward.
"""

import numpy as np

from grader.forward import conv_forward, correlate_valid, fc_forward, radius, softmax_loss_forward, zero_pad

__all__ = [
    "conv_backward",
    "conv_forward",
    "correlate_valid",
    "fc_backward",
    "fc_forward",
    "softmax_loss_backward",
    "softmax_loss_forward",
]


def conv_backward(x, w, dout):
    """
    Backward pass of conv_forward (A.1 and A.2).

    Inputs:
    - x: image of shape (H, W)
    - w: kernel of shape (Kh, Kw), both sides odd
    - dout: upstream gradient dL/dy of shape (H, W)

    Returns a tuple of:
    - dx: dL/dx of shape (H, W), dout convolved with the kernel flipped both ways (a correlation with w)
    - dw: dL/dw of shape (Kh, Kw), dout convolved with the flipped image, on the kernel's support
    """
    rh, rw = radius(w)
    dp = zero_pad(dout, rh, rw)
    dx = correlate_valid(dp, np.asarray(w, dtype=float))
    # dw[c + rh, d + rw] = sum_{a,b} x[a, b] * dout[a + c, b + d], reading zeros outside dout.
    dw = correlate_valid(dp, np.asarray(x, dtype=float))
    return dx, dw


def fc_backward(x, W, dout):
    """
    Backward pass of fc_forward (B.1 and the weight gradient).

    Inputs:
    - x: input of shape (N,)
    - W: weights of shape (M, N)
    - dout: upstream gradient dL/dy of shape (M,)

    Returns a tuple of:
    - dx: dL/dx = W^T dout, of shape (N,)
    - dW: dL/dW = dout x^T, of shape (M, N)
    """
    return W.T @ dout, np.outer(dout, x)


def _softmax(s):
    z = s - np.max(s)  # shift invariance keeps exp from overflowing
    e = np.exp(z)
    return e / e.sum()


def softmax_loss_backward(s, y):
    """
    Backward pass of softmax_loss_forward (C.1): dL/ds = p - t, t the one-hot vector of y.

    Inputs:
    - s: scores of shape (M,)
    - y: integer label in [0, M)

    Returns:
    - ds: dL/ds of shape (M,)
    """
    ds = _softmax(np.asarray(s, dtype=float))
    ds[y] -= 1.0
    return ds
