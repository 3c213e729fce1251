"""The reference against independent oracles: finite differences, scipy, literal loops, invariants."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import conv_backward, conv_forward, fc_backward, fc_forward, softmax_loss_backward, softmax_loss_forward


def conv_literal(x, w):
    """Equation (2) word for word: y[e,f] = sum_{a,b} x[a,b] w[e-a, f-b], w index c stored at [c + r]."""
    H, W = x.shape
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    y = np.zeros((H, W))
    for e in range(H):
        for f in range(W):
            for a in range(H):
                for b in range(W):
                    c, d = e - a, f - b
                    if -rh <= c <= rh and -rw <= d <= rw:
                        y[e, f] += x[a, b] * w[c + rh, d + rw]
    return y


def numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


SHAPES = [
    ((5, 7), (3, 5)),
    ((4, 4), (3, 3)),
    ((1, 6), (3, 1)),
    ((6, 1), (1, 5)),
    ((2, 3), (7, 9)),
    ((1, 1), (1, 1)),
    ((3, 2), (5, 5)),
]


@pytest.mark.parametrize("xs,ws", SHAPES)
def test_conv_forward_matches_literal_equation_and_scipy(xs, ws):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=xs), rng.normal(size=ws)
    y = conv_forward(x, w)
    assert y.shape == xs
    np.testing.assert_allclose(y, conv_literal(x, w), atol=1e-12)
    if ws[0] <= 2 * xs[0] and ws[1] <= 2 * xs[1]:
        full = scipy.signal.convolve2d(x, w, mode="full")
        rh, rw = ws[0] // 2, ws[1] // 2
        np.testing.assert_allclose(y, full[rh : rh + xs[0], rw : rw + xs[1]], atol=1e-12)


@pytest.mark.parametrize("xs,ws", SHAPES)
def test_conv_backward_matches_finite_differences(xs, ws):
    rng = np.random.default_rng(1)
    x, w, dy = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=xs)
    dx, dw = conv_backward(x, w, dy)
    loss = lambda: np.sum(conv_forward(x, w) * dy)  # noqa: E731  dL/dy = dy
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    assert rel_error(dw, numeric_grad(loss, w)) < 1e-6


def test_conv_dx_is_scipy_correlation_with_the_kernel():
    rng = np.random.default_rng(2)
    x, w, dy = rng.normal(size=(9, 13)), rng.normal(size=(5, 3)), rng.normal(size=(9, 13))
    dx, dw = conv_backward(x, w, dy)
    np.testing.assert_allclose(dx, scipy.signal.correlate2d(dy, w, mode="same"), atol=1e-12)
    # dw[c + r] = sum_a x[a] dy[a + c]: the 'valid' correlation of zero-padded dy with x.
    dyp = np.pad(dy, ((2, 2), (1, 1)))
    np.testing.assert_allclose(dw, scipy.signal.correlate2d(dyp, x, mode="valid"), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    H=st.integers(1, 7), W=st.integers(1, 7), rh=st.integers(0, 4), rw=st.integers(0, 4), seed=st.integers(0, 2**32 - 1)
)
def test_conv_backward_property_any_shape(H, W, rh, rw, seed):
    rng = np.random.default_rng(seed)
    x, w, dy = rng.normal(size=(H, W)), rng.normal(size=(2 * rh + 1, 2 * rw + 1)), rng.normal(size=(H, W))
    dx, dw = conv_backward(x, w, dy)
    assert dx.shape == (H, W) and dw.shape == w.shape
    # Adjoint identity: <conv(x, w), dy> = <x, dx> = <w, dw>, since the layer is bilinear.
    lhs = np.sum(conv_literal(x, w) * dy)
    np.testing.assert_allclose(np.sum(x * dx), lhs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.sum(w * dw), lhs, rtol=1e-9, atol=1e-9)


def test_conv_does_not_mutate_and_rejects_even_kernels():
    rng = np.random.default_rng(3)
    x, w, dy = rng.normal(size=(4, 5)), rng.normal(size=(3, 3)), rng.normal(size=(4, 5))
    copies = [a.copy() for a in (x, w, dy)]
    conv_backward(x, w, dy)
    for a, b in zip((x, w, dy), copies, strict=False):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="odd"):
        conv_forward(x, np.ones((2, 3)))


@pytest.mark.parametrize("M,N", [(3, 5), (5, 3), (4, 4), (1, 6), (6, 1)])
def test_fc_backward_matches_finite_differences_and_loops(M, N):
    rng = np.random.default_rng(4)
    x, W, dy = rng.normal(size=N), rng.normal(size=(M, N)), rng.normal(size=M)
    dx, dW = fc_backward(x, W, dy)
    loss = lambda: np.sum(fc_forward(x, W) * dy)  # noqa: E731
    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    assert rel_error(dW, numeric_grad(loss, W)) < 1e-6
    loops_dx = [sum(W[j, i] * dy[j] for j in range(M)) for i in range(N)]
    np.testing.assert_allclose(dx, loops_dx, atol=1e-12)
    assert dW.shape == (M, N)


@pytest.mark.parametrize("M", [2, 3, 10])
def test_softmax_backward_matches_finite_differences(M):
    rng = np.random.default_rng(5)
    s, y = rng.normal(size=M) * 3, int(rng.integers(M))
    ds = softmax_loss_backward(s, y)
    assert rel_error(ds, numeric_grad(lambda: softmax_loss_forward(s, y), s)) < 1e-6


ADVERSARIAL = [
    ([1000.0, 999.0, 998.0], 0),
    ([-1000.0, -1000.0, -1000.0], 1),
    ([710.0, 0.0, -5.0], 2),
    ([0.0, 800.0], 0),
    ([1e4, -1e4, 0.0], 1),
]


def exact_p_minus_t(s, y):
    """p - t in exact-enough arithmetic: Python's math on shifted exponents, element by element."""
    import math

    m = max(s)
    e = [math.exp(v - m) for v in s]
    z = math.fsum(e)
    return np.array([ei / z - (i == y) for i, ei in enumerate(e)])


@pytest.mark.parametrize("s,y", ADVERSARIAL)
def test_softmax_adversarial_logits_exact_and_silent(s, y):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ds = softmax_loss_backward(np.array(s), y)
    assert np.all(np.isfinite(ds))
    np.testing.assert_allclose(ds, exact_p_minus_t(s, y), rtol=1e-12, atol=1e-300)
    loss = softmax_loss_forward(np.array(s), y)
    assert np.isfinite(loss)


@settings(max_examples=80, deadline=None)
@given(
    s=st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=12),
    c=st.floats(-1e3, 1e3),
    data=st.data(),
)
def test_softmax_invariants(s, c, data):
    s = np.array(s)
    y = data.draw(st.integers(0, len(s) - 1))
    ds = softmax_loss_backward(s, y)
    assert np.all(np.isfinite(ds))
    assert abs(ds.sum()) < 1e-12 * len(s) + 1e-12
    assert -1.0 <= ds[y] <= 0.0 and np.all(np.delete(ds, y) >= 0)
    np.testing.assert_allclose(softmax_loss_backward(s + c, y), ds, atol=1e-9)
