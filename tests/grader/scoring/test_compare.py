import numpy as np
import pytest

from grader.scoring.compare import close, close_each, read_output, rel_error


def test_metric_is_symmetric_scale_invariant_and_not_diluted():
    rng = np.random.default_rng(0)
    R = rng.normal(size=(8, 8))
    S = R.copy()
    S[3, 4] += 0.5
    assert rel_error(S, R) == rel_error(R, S)
    assert rel_error(1e6 * S, 1e6 * R) == pytest.approx(rel_error(S, R))
    big_R = np.zeros((100, 100))
    big_R[:8, :8] = R
    big_S = big_R.copy()
    big_S[3, 4] += 0.5  # the same single wrong entry among 10,000
    assert rel_error(big_S, big_R) == pytest.approx(rel_error(S, R))


def test_metric_handles_zeros_and_non_finite():
    z = np.zeros(3)
    assert rel_error(z, z) == 0.0
    assert rel_error(np.array([np.nan, 0, 0]), z) == float("inf")


def test_column_vector_is_accepted_with_a_note():
    r = read_output(np.ones((4, 1)), np.ones(4), "dx")
    assert r.failure is None and r.array.shape == (4,) and "accepted" in r.notes[0]


def test_a_transposed_vector_matrix_is_not_a_singleton_difference():
    r = read_output(np.ones((1, 4)), np.ones((4, 1)), "dW")
    assert r.failure == "dW has shape (1, 4), expected (4, 1)"


def test_other_shape_mismatch_names_both_shapes():
    assert read_output(np.ones((3, 4)), np.ones((4, 3)), "dw").failure == "dw has shape (3, 4), expected (4, 3)"


def test_first_nan_is_located():
    S = np.ones((3, 3))
    S[1, 2] = np.nan
    S[2, 0] = np.inf
    assert read_output(S, np.ones((3, 3)), "dx").failure == "dx has NaN at index [1, 2] (2 non-finite values in all)"


def test_integers_are_converted_and_complex_refused():
    r = read_output(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]), "ds")
    assert r.failure is None and r.array.dtype == np.float64
    assert "complex" in read_output(np.array([1j]), np.array([1.0]), "ds").failure
    assert read_output(None, np.ones(2), "ds").failure == "ds is missing"


def test_close_each_agrees_with_close_candidate_by_candidate():
    rng = np.random.default_rng(3)
    S = rng.normal(size=(4, 5))
    near = S + 1e-9
    odd = [np.full((4, 5), np.nan), np.full((4, 5), np.inf), np.zeros((4, 5)), 2 * S, -S, S.T.reshape(4, 5)]
    Rs = np.stack([S, near, *odd, *rng.normal(size=(6, 4, 5))])
    for tol in (1e-12, 1e-6, 0.5, 2.0):
        assert close_each(S, Rs, tol).tolist() == [close(S, R, tol) for R in Rs]
    assert close_each(np.zeros((4, 5)), Rs[:1] * 0, 1e-6).tolist() == [True]  # 0/0 guarded by tau
    bad = S.copy()
    bad[0, 0] = np.nan
    assert not close_each(bad, Rs, 2.0).any()
    assert close_each(S, Rs[:0], 1e-6).shape == (0,)
