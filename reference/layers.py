"""The three PA5 layers as pure, vectorized forward/backward pairs in the assignment's conventions."""

import numpy as np


def _radius(w):
    Kh, Kw = w.shape
    if Kh % 2 == 0 or Kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {w.shape}")
    return (Kh - 1) // 2, (Kw - 1) // 2


def _zero_pad(x, rh, rw):
    H, W = x.shape
    xp = np.zeros((H + 2 * rh, W + 2 * rw))
    xp[rh : rh + H, rw : rw + W] = x
    return xp


def correlate_valid(xp, k):
    """
    Valid cross-correlation: out[i, j] = sum_{a,b} xp[i + a, j + b] * k[a, b].

    Inputs:
    - xp: array of shape (P, Q), already padded, C-contiguous float64
    - k: array of shape (h, w), h <= P and w <= Q

    Returns:
    - out: array of shape (P - h + 1, Q - w + 1)
    """
    h, w = k.shape
    P, Q = xp.shape
    # A strided view of every h x w window, built directly: np.lib.stride_tricks costs more than the sum here.
    windows = np.ndarray((P - h + 1, Q - w + 1, h, w), dtype=xp.dtype, buffer=xp, strides=xp.strides * 2)
    return np.einsum("efij,ij->ef", windows, k)


def conv_forward(x, w):
    """
    True 2D convolution with zero padding, output the same size as the input (equation 2):
    y[e, f] = sum_{a,b} x[a, b] * w[e - a, f - b], kernel index c in -r..r stored at w[c + r].

    Inputs:
    - x: image of shape (H, W)
    - w: kernel of shape (Kh, Kw), both sides odd; may be larger than the image

    Returns:
    - y: output of shape (H, W)
    """
    rh, rw = _radius(w)
    # Correlating with the flipped kernel is the convolution.
    return correlate_valid(_zero_pad(x, rh, rw), np.asarray(w, dtype=float)[::-1, ::-1])


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
    rh, rw = _radius(w)
    dp = _zero_pad(dout, rh, rw)
    dx = correlate_valid(dp, np.asarray(w, dtype=float))
    # dw[c + rh, d + rw] = sum_{a,b} x[a, b] * dout[a + c, b + d], reading zeros outside dout.
    dw = correlate_valid(dp, np.asarray(x, dtype=float))
    return dx, dw


def fc_forward(x, W):
    """
    Fully connected layer y = W x.

    Inputs:
    - x: input of shape (N,)
    - W: weights of shape (M, N)

    Returns:
    - y: output of shape (M,)
    """
    return W @ x


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


def softmax_loss_forward(s, y):
    """
    Softmax followed by cross-entropy, L = -log p_y (natural log).

    Inputs:
    - s: scores of shape (M,)
    - y: integer label in [0, M)

    Returns:
    - L: the loss, a float
    """
    s = np.asarray(s, dtype=float)
    m = np.max(s)
    return float(m + np.log(np.sum(np.exp(s - m))) - s[y])


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
