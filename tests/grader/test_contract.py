"""The layer records: one per layer, read by everything else, usable without reference/ installed."""

import subprocess
import sys

import numpy as np
import pytest

from grader.contract import LAYERS, PROBLEM_IDS, layer_of
from grader.spec import default_spec


def test_problem_ids_in_report_order():
    assert PROBLEM_IDS == ("conv.dx", "conv.dw", "fc.dx", "fc.dW", "softmax.ds")
    assert [p.id for p in default_spec().problems] == list(PROBLEM_IDS)


@pytest.mark.parametrize(
    "pid,layer,index",
    [("conv.dx", "conv", 0), ("conv.dw", "conv", 1), ("fc.dW", "fc", 1), ("softmax.ds", "softmax", 0)],
)
def test_layer_of_and_output_index(pid, layer, index):
    assert layer_of(pid).name == layer
    assert default_spec().problem(pid).output_index == index
    with pytest.raises(KeyError):
        layer_of("conv.dy")


def test_references_resolve_lazily_to_the_reference_functions():
    import reference.layers

    assert LAYERS["fc"].reference("backward") is reference.layers.fc_backward
    assert LAYERS["softmax"].reference("forward") is reference.layers.softmax_loss_forward
    args = LAYERS["softmax"].call_args({"s": np.zeros(3), "y": np.array(2)})
    assert isinstance(args[1], int) and args[1] == 2


def test_importable_without_the_reference():
    # The student kit ships grader/ without reference/: importing the contract must not need it.
    code = (
        "import sys; sys.modules['reference'] = None\n"
        "import grader.contract, grader.spec, grader.cases.store, grader.report.render_csv\n"
        "try:\n    grader.contract.LAYERS['conv'].reference('backward')\n"
        "except ImportError:\n    print('no reference')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "no reference"
