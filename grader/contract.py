"""The submission contract: which function each layer calls, with which arguments, returning what."""

FUNCTIONS = {"conv": "conv_backward", "fc": "fc_backward", "softmax": "softmax_loss_backward"}
ARGUMENTS = {"conv": ("x", "w", "dy"), "fc": ("x", "W", "dy"), "softmax": ("s", "y")}
N_OUTPUTS = {"conv": 2, "fc": 2, "softmax": 1}
SIGNATURES = {
    "conv": "conv_backward(x, w, dy) -> (dx, dw)",
    "fc": "fc_backward(x, W, dy) -> (dx, dW)",
    "softmax": "softmax_loss_backward(s, y) -> ds",
}
# Arguments passed as Python ints rather than arrays.
INT_ARGUMENTS = {"y"}
