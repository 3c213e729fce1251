"""Reference forward/backward pairs for PA5 (instructor only: this package is the solution)."""

from reference.layers import (
    conv_backward,
    conv_forward,
    fc_backward,
    fc_forward,
    softmax_loss_backward,
    softmax_loss_forward,
)

__all__ = [
    "conv_backward",
    "conv_forward",
    "fc_backward",
    "fc_forward",
    "softmax_loss_backward",
    "softmax_loss_forward",
]
