"""The three PA5 layers as pure, vectorized forward/backward pairs in the assignment's conventions."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _radius(w):
    Kh, Kw = w.shape
    if Kh % 2 == 0 or Kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {w.shape}")
    return (Kh - 1) // 2, (Kw - 1) // 2


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
    xp = np.pad(np.asarray(x, dtype=float), ((rh, rh), (rw, rw)))
    # Windows of the padded image, correlated with the flipped kernel, are the convolution.
    windows = sliding_window_view(xp, w.shape)
    return np.einsum("efij,ij->ef", windows, w[::-1, ::-1])


def conv_backward(x, w, dout):
    """
    Backward pass of conv_forward (A.1 and A.2).

    Inputs:
    - x: image of shape (H, W)
    - w: kernel of shape (Kh, Kw), both sides odd
    - dout: upstream gradient dL/dy of shape (H, W)

    Returns a tuple of:
    - dx: dL/dx of shape (H, W), dout convolved with the kernel flipped both ways
    - dw: dL/dw of shape (Kh, Kw), dout convolved with the flipped image, on the kernel's support
    """
    rh, rw = _radius(w)
    H, W = x.shape
    dx = conv_forward(dout, w[::-1, ::-1])
    # dw[c + rh, d + rw] = sum_{a,b} x[a, b] * dout[a + c, b + d], reading zeros outside dout.
    dp = np.pad(np.asarray(dout, dtype=float), ((rh, rh), (rw, rw)))
    dw = np.einsum("ijab,ab->ij", sliding_window_view(dp, (H, W)), x)
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
