"""The submission contract: one record per layer, the only place the facts about a layer are written.

Adding a layer means one `Layer` below, its forward in `grader/forward.py` (shipped to students), its
backward in `reference/layers.py` (never shipped) and its case drawer in `grader/cases/draw.py`;
everything else reads these records.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Layer:
    """One layer of the assignment: the student function that computes its backward pass, and where its
    forward, backward reference and case drawer live. Code is named by "module:function", resolved only
    when needed, because the student kit ships the grader without `reference/`.

    Problem ids name the argument they differentiate: conv.dw is dL/dw. A layer with an `upstream`
    gradient argument is linear in each of its other array arguments (so the forward pass alone gives
    exact gradients); a layer without one has a scalar forward (a loss)."""

    name: str
    function: str
    signature: str
    arguments: tuple[str, ...]
    int_arguments: frozenset[str]
    outputs: tuple[str, ...]
    upstream: str | None
    forward: str
    backward: str
    draw: str
    kinds: tuple[str, ...]
    seed_key: int  # stream of its random cases: changing it changes every stored and hidden case

    def output_index(self, problem_id: str) -> int:
        """Position of a problem's array in the function's return value."""
        return self.outputs.index(problem_id)

    def call_args(self, inputs: dict) -> list:
        """The function's arguments, in order, from a case's named inputs (integers as Python ints)."""
        return [int(inputs[a]) if a in self.int_arguments else inputs[a] for a in self.arguments]

    def differentiated(self, problem_id: str) -> str:
        """The argument a problem's gradient is taken with respect to: w for conv.dw."""
        return problem_id.split(".")[1][1:]

    def reference(self, which: Literal["forward", "backward"]) -> Callable:
        """The forward pass, or the reference backward (ImportError where `reference/` is not installed)."""
        return _resolve(getattr(self, which))

    def drawer(self) -> Callable:
        return _resolve(self.draw)


def _resolve(dotted: str) -> Callable:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            name="conv",
            function="conv_backward",
            signature="conv_backward(x, w, dy) -> (dx, dw)",
            arguments=("x", "w", "dy"),
            int_arguments=frozenset(),
            outputs=("conv.dx", "conv.dw"),
            upstream="dy",
            forward="grader.forward:conv_forward",
            backward="reference.layers:conv_backward",
            draw="grader.cases.draw:draw_conv",
            kinds=("nonsquare", "square", "nonsquare", "kernel-1x1", "kernel-larger", "row", "nonsquare", "column"),
            seed_key=0,
        ),
        Layer(
            name="fc",
            function="fc_backward",
            signature="fc_backward(x, W, dy) -> (dx, dW)",
            arguments=("x", "W", "dy"),
            int_arguments=frozenset(),
            outputs=("fc.dx", "fc.dW"),
            upstream="dy",
            forward="grader.forward:fc_forward",
            backward="reference.layers:fc_backward",
            draw="grader.cases.draw:draw_fc",
            kinds=("tall", "wide", "square", "tall", "vector-in", "wide"),
            seed_key=1,
        ),
        Layer(
            name="softmax",
            function="softmax_loss_backward",
            signature="softmax_loss_backward(s, y) -> ds",
            arguments=("s", "y"),
            int_arguments=frozenset({"y"}),
            outputs=("softmax.ds",),
            upstream=None,
            forward="grader.forward:softmax_loss_forward",
            backward="reference.layers:softmax_loss_backward",
            draw="grader.cases.draw:draw_softmax",
            kinds=("ordinary", "ordinary", "large-positive", "ordinary", "large-negative", "ordinary", "extreme"),
            seed_key=2,
        ),
    )
}

# What a submission may import besides the standard library and its own modules: all a sandbox holds.
ALLOWED_PACKAGES = ("numpy", "scipy")

PROBLEM_IDS: tuple[str, ...] = tuple(pid for layer in LAYERS.values() for pid in layer.outputs)


_LAYER_OF = {pid: layer for layer in LAYERS.values() for pid in layer.outputs}


def layer_of(problem_id: str) -> Layer:
    """The layer whose function returns this problem's array, e.g. conv for conv.dw. KeyError for no such id."""
    return _LAYER_OF[problem_id]


# Views over the records for callers that want one fact for every layer.
FUNCTIONS = {name: layer.function for name, layer in LAYERS.items()}
ARGUMENTS = {name: layer.arguments for name, layer in LAYERS.items()}
N_OUTPUTS = {name: len(layer.outputs) for name, layer in LAYERS.items()}
SIGNATURES = {name: layer.signature for name, layer in LAYERS.items()}
INT_ARGUMENTS = frozenset().union(*(layer.int_arguments for layer in LAYERS.values()))


def reference_available() -> bool:
    """Whether the reference implementation is installed (it is not in the student kit)."""
    try:
        LAYERS["conv"].reference("backward")
    except ImportError:
        return False
    return True
