"""Mistakes found in real student code, each written here by hand (not from reference/mistakes.py), named right.

Each runs on the public cases and the hidden cases of several students, with the probes, and must get
one diagnosis, the same for every student.
"""

import numpy as np
import pytest

from grader.feedback.probes import probe_cases
from grader.spec import Spec, default_spec
from grader.workflows.grade import grading_cases
from tests.grader.scoring.inprocess import report_of

CONV_SPEC = Spec(problems=tuple(p for p in default_spec().problems if p.layer == "conv"))


def full_correlation(dy, w):
    """sum_{a,b} dyp[i + a, j + b] w[a, b] with dy padded by K-1: size (H+Kh-1, W+Kw-1)."""
    (H, W), (Kh, Kw) = dy.shape, w.shape
    dyp = np.zeros((H + 2 * (Kh - 1), W + 2 * (Kw - 1)))
    dyp[Kh - 1 : Kh - 1 + H, Kw - 1 : Kw - 1 + W] = dy
    out = np.zeros((H + Kh - 1, W + Kw - 1))
    for a in range(Kh):
        for b in range(Kw):
            out += w[a, b] * dyp[a : a + H + Kh - 1, b : b + W + Kw - 1]
    return out


def padded(dy, w):
    """dy with (Kh-1)/2 rows and (Kw-1)/2 columns of zeros on each side."""
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    out = np.zeros((dy.shape[0] + 2 * rh, dy.shape[1] + 2 * rw))
    out[rh : rh + dy.shape[0], rw : rw + dy.shape[1]] = dy
    return out


def dw_loops(x, w, dy, overwrite=False):
    (H, W), (Kh, Kw) = x.shape, w.shape
    dyp = padded(dy, w)
    dw = np.zeros((Kh, Kw))
    for a in range(Kh):
        for b in range(Kw):
            for i in range(H):
                for j in range(W):
                    if overwrite:
                        dw[a, b] = x[i, j] * dyp[i + a, j + b]
                    else:
                        dw[a, b] += x[i, j] * dyp[i + a, j + b]
    return dw


def empty_crop(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    return full_correlation(dy, w)[rh:-rh, rw:-rw], dw_loops(x, w, dy)


def crop_for_3x3(x, w, dy):
    return full_correlation(dy, w)[1:-1, 1:-1], dw_loops(x, w, dy)


def overwrite_taps(x, w, dy):
    (H, W), (Kh, Kw) = x.shape, w.shape
    dyp = padded(dy, w)
    dx = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for a in range(Kh):
                for b in range(Kw):
                    dx[i, j] = dyp[i + a, j + b] * w[a, b]  # = where += belongs
    return dx, dw_loops(x, w, dy)


def overwrite_pixels(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    return full_correlation(dy, w)[rh : rh + x.shape[0], rw : rw + x.shape[1]], dw_loops(x, w, dy, overwrite=True)


def swapped_loops(x, w, dy):
    (H, W), (Kh, Kw) = x.shape, w.shape
    dyp = padded(dy, w)
    dx = np.zeros((H, W))
    for i in range(H):
        for j in range(H):  # H where W belongs: raises when H > W, leaves columns at 0 when H < W
            dx[i, j] = np.sum(dyp[i : i + Kh, j : j + Kw] * w)
    return dx, dw_loops(x, w, dy)


@pytest.mark.parametrize(
    "fn,pid,mistake",
    [
        (empty_crop, "conv.dx", "conv.empty_crop"),
        (crop_for_3x3, "conv.dx", "conv.fixed_crop"),
        (overwrite_taps, "conv.dx", "conv.dx.overwrite"),
        (overwrite_pixels, "conv.dw", "conv.dw.overwrite"),
        (swapped_loops, "conv.dx", "conv.swapped_loops"),
    ],
    ids=["empty-crop", "crop-for-3x3", "overwrite-taps", "overwrite-pixels", "swapped-loops"],
)
def test_real_mistakes_are_named_the_same_for_every_student(fn, pid, mistake):
    probes = probe_cases(CONV_SPEC)
    named = set()
    for sid in ("ann", "bo", "cy", "di"):
        cases = grading_cases(spec=CONV_SPEC, secret=b"real", student_id=sid)
        report = report_of({"conv_backward": fn}, cases, CONV_SPEC, probes)
        problem = next(p for p in report.problems if p.id == pid)
        assert problem.score < problem.max_score
        named.add(problem.diagnosis.id if problem.diagnosis else None)
    assert named == {mistake}


def test_swapped_loops_pass_on_square_images_with_any_kernel():
    rng = np.random.default_rng(0)
    x, w, dy = rng.normal(size=(5, 5)), rng.normal(size=(1, 3)), rng.normal(size=(5, 5))
    np.testing.assert_allclose(swapped_loops(x, w, dy)[0], overwrite_pixels(x, w, dy)[0])
