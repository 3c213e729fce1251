"""Expected answers for fresh inputs: the reference backward where installed, else from the forward pass.

The student kit has no reference, only the forward passes the assignment defines. Layers with an
upstream gradient are linear in each argument, so dL/da = J_a^T dy is exact: one forward call per
element of a. The loss is differentiated by central differences, accurate to FD_ERROR.
"""

from __future__ import annotations

import numpy as np

from grader.contract import Layer

FD_STEP = 1e-4
# Bound on |central difference - dL/ds| for the softmax loss: h^2/6 |L'''| plus eps |L| / h, with
# |L'''| <= 1 and |L| <= 4e4 for scores up to 2e4, is about 1e-7; the metric's scale there is 1.
FD_ERROR = 1e-6


def expected(layer: Layer, inputs: dict[str, np.ndarray], *, use_reference: bool = True) -> dict[str, np.ndarray]:
    """Every output of the layer for these inputs, by problem id."""
    if use_reference:
        try:
            out = layer.reference("backward")(*layer.call_args(inputs))
        except ImportError:
            pass
        else:
            out = out if isinstance(out, tuple) else (out,)
            return {pid: np.asarray(a, dtype=float) for pid, a in zip(layer.outputs, out, strict=True)}
    return from_forward(layer, inputs)


def from_forward(layer: Layer, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gradients by the forward pass alone: transposed-Jacobian products, or central differences."""
    forward = layer.reference("forward")
    args = [a for a in layer.arguments if a != layer.upstream]
    values = {a: (int(inputs[a]) if a in layer.int_arguments else np.asarray(inputs[a], dtype=float)) for a in args}
    out = {}
    for pid in layer.outputs:
        name = layer.differentiated(pid)

        def f(v, name=name):
            return forward(*(v if a == name else values[a] for a in args))

        if layer.upstream is None:
            out[pid] = _central_difference(f, values[name])
        else:
            out[pid] = _transposed_jacobian_product(f, values[name], np.asarray(inputs[layer.upstream], dtype=float))
    return out


def _transposed_jacobian_product(f, a: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """J^T dy for a linear f, one basis vector at a time: (J^T dy)[k] = <f(e_k), dy>."""
    g = np.zeros(a.shape)
    e = np.zeros(a.shape)
    for k in np.ndindex(a.shape):
        e[k] = 1.0
        g[k] = float(np.vdot(f(e), dy))
        e[k] = 0.0
    return g


def _central_difference(f, a: np.ndarray) -> np.ndarray:
    g = np.zeros(a.shape)
    for k in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[k] += FD_STEP
        down[k] -= FD_STEP
        g[k] = (f(up) - f(down)) / (2 * FD_STEP)
    return g
