"""Expected answers from the forward pass alone agree with the reference backward on every layer."""

import numpy as np
import pytest

from grader.contract import LAYERS
from grader.feedback.oracle import FD_ERROR, expected, from_forward
from reference import conv_backward, fc_backward, softmax_loss_backward


@pytest.mark.parametrize("seed", range(12))
def test_transposed_jacobian_products_are_exact_for_conv_and_fc(seed):
    rng = np.random.default_rng(seed)
    H, W = rng.integers(1, 9, size=2)
    Kh, Kw = rng.choice([1, 3, 5, 7], size=2)
    x, w, dy = rng.normal(size=(H, W)) * 10, rng.normal(size=(Kh, Kw)), rng.normal(size=(H, W))
    got = from_forward(LAYERS["conv"], {"x": x, "w": w, "dy": dy})
    dx, dw = conv_backward(x, w, dy)
    np.testing.assert_allclose(got["conv.dx"], dx, rtol=1e-12, atol=1e-12 * np.abs(dx).max())
    np.testing.assert_allclose(got["conv.dw"], dw, rtol=1e-12, atol=1e-12 * np.abs(dw).max())
    M, N = rng.integers(1, 9, size=2)
    x, Wm, dy = rng.normal(size=N), rng.normal(size=(M, N)), rng.normal(size=M)
    got = from_forward(LAYERS["fc"], {"x": x, "W": Wm, "dy": dy})
    np.testing.assert_allclose(got["fc.dx"], fc_backward(x, Wm, dy)[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["fc.dW"], fc_backward(x, Wm, dy)[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "s", [[0.5, -1.0, 2.0], [1000.0, 999.0, 998.0], [-1000.0, -1000.0, -1000.0], [1e4, -1e4, 0.0], [710.0, 0.0, -5.0]]
)
@pytest.mark.parametrize("y", [0, 2])
def test_central_differences_of_the_loss_are_within_the_stated_error(s, y):
    s = np.array(s)
    got = from_forward(LAYERS["softmax"], {"s": s, "y": np.array(y)})["softmax.ds"]
    assert np.abs(got - softmax_loss_backward(s, y)).max() <= FD_ERROR


def test_the_reference_is_used_when_installed_and_can_be_skipped():
    inputs = {"s": np.array([1.0, 2.0]), "y": np.array(1)}
    with_ref = expected(LAYERS["softmax"], inputs)["softmax.ds"]
    assert np.array_equal(with_ref, softmax_loss_backward(inputs["s"], 1))
    without = expected(LAYERS["softmax"], inputs, use_reference=False)["softmax.ds"]
    assert not np.array_equal(with_ref, without) and np.abs(with_ref - without).max() <= FD_ERROR
