"""The assignment's forward passes, which it defines in full: shipped with the grader, unlike the backward reference.

The student kit uses them to check answers on fresh inputs; `reference/layers.py` pairs each with its backward.
"""

import numpy as np


def radius(w):
    Kh, Kw = w.shape
    if Kh % 2 == 0 or Kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {w.shape}")
    return (Kh - 1) // 2, (Kw - 1) // 2


def zero_pad(x, rh, rw):
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
    rh, rw = radius(w)
    # Correlating with the flipped kernel is the convolution.
    return correlate_valid(zero_pad(x, rh, rw), np.asarray(w, dtype=float)[::-1, ::-1])


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
