"""Correct, split over two files: helper modules beside backprop.py are importable."""

import numpy as np
from layers_helpers import conv_grads, softmax_grad


def conv_backward(x, w, dy):
    return conv_grads(x, w, dy)


def fc_backward(x, W, dy):
    return (dy @ W).reshape(-1, 1), np.outer(dy, x)  # a column vector (N, 1) is accepted, with a note


def softmax_loss_backward(s, y):
    return softmax_grad(s, y)
