"""Wrong implementations in the shapes real code takes, each named from its own evidence, never as a look-alike.

Every row runs on the public and hidden cases of several students, with the probes: the named problem must get
the one expected mistake, in the same words for every student, and none of the look-alikes it could be taken for.
"""

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d

from grader.feedback.probes import probe_cases
from grader.report.render import render
from grader.scoring.catalogue import CATALOGUE
from grader.spec import default_spec
from grader.workflows.grade import grading_cases
from tests.grader.scoring.inprocess import report_of

SPEC = default_spec()
STUDENTS = ("ann", "bo", "cy")


def dx_ok(x, w, dy):
    return correlate2d(dy, w, mode="same")


def dw_ok(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    H, W = x.shape
    return np.array([[np.sum(x * dyp[a : a + H, b : b + W]) for b in range(w.shape[1])] for a in range(w.shape[0])])


def fc_ok(x, W, dy):
    return W.T @ dy, np.outer(dy, x)


def softmax_ok(s, y):
    p = np.exp(s - s.max())
    p /= p.sum()
    p[y] -= 1.0
    return p


def col2im_dx(x, w, dy, order, assign):
    """dx as im2col code has it: cols = w~ (Kh*Kw, 1) @ dy (1, H*W), scattered back into a padded image."""
    (H, W), (Kh, Kw) = x.shape, w.shape
    rh, rw = Kh // 2, Kw // 2
    cols = w[::-1, ::-1].reshape(-1, 1) @ dy.reshape(1, -1)
    dxp = np.zeros((H + 2 * rh, W + 2 * rw))

    def put(window, value):
        if assign:
            dxp[window] = value  # = where += belongs
        else:
            dxp[window] += value

    if order == "pixels":
        for i in range(H):
            for j in range(W):
                put((slice(i, i + Kh), slice(j, j + Kw)), cols[:, i * W + j].reshape(Kh, Kw))
    else:
        for a in range(Kh):
            for b in range(Kw):
                put((slice(a, a + H), slice(b, b + W)), cols[a * Kw + b].reshape(H, W))
    return dxp[rh : rh + H, rw : rw + W]


def crop_fixed(p):
    """The full correlation cropped [p:-p] on both axes, p written for one kernel size (p = 0: [0:0], empty)."""

    def conv_backward(x, w, dy):
        return correlate2d(dy, w, mode="full")[p:-p, p:-p], dw_ok(x, w, dy)

    return conv_backward


def crop_each_radius(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2  # empty along a kernel side of 1
    return correlate2d(dy, w, mode="full")[rh:-rh, rw:-rw], dw_ok(x, w, dy)


def pad1_window(x, w, dy):
    H, W = x.shape
    return correlate2d(dy, w, mode="full")[1 : H + 1, 1 : W + 1], dw_ok(x, w, dy)


def pad1_loops(x, w, dy):
    """dy padded by 1, written for 3x3: windows run short (and raise) for larger kernels."""
    (H, W), (Kh, Kw) = x.shape, w.shape
    dyp = np.pad(dy, 1)
    dx = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            dx[i, j] = np.sum(dyp[i : i + Kh, j : j + Kw] * w)
    return dx, dw_ok(x, w, dy)


def pad1_dw(x, w, dy):
    dyp = np.pad(dy, 1)
    H, W = x.shape
    return dx_ok(x, w, dy), np.array([[np.sum(x * dyp[a : a + H, b : b + W]) for b in range(3)] for a in range(3)])


def dw_last_pixel(x, w, dy, order=1):
    (H, W), (Kh, Kw) = x.shape, w.shape
    dyp = np.pad(dy, ((Kh // 2, Kh // 2), (Kw // 2, Kw // 2)))
    dw = np.zeros((Kh, Kw))
    for i in range(H)[::order]:
        for j in range(W)[::order]:
            dw = x[i, j] * dyp[i : i + Kh, j : j + Kw]  # = where += belongs
    return dx_ok(x, w, dy), dw


def conv(dx=dx_ok, dw=dw_ok):
    return lambda x, w, dy: (dx(x, w, dy), dw(x, w, dy))


def col2im_assign_pixel_loops(x, w, dy):
    return col2im_dx(x, w, dy, "pixels", assign=True)


def col2im_assign_tap_loops(x, w, dy):
    return col2im_dx(x, w, dy, "taps", assign=True)


def dx_kernel_flipud(x, w, dy):
    return convolve2d(dy, np.flipud(w), mode="same")


def dx_kernel_fliplr(x, w, dy):
    return convolve2d(dy, np.fliplr(w), mode="same")


def dw_rows_reversed(x, w, dy):
    return dw_ok(x, w, dy)[::-1, :]


def dw_fliplr(x, w, dy):
    return np.fliplr(dw_ok(x, w, dy))


def dw_rot180(x, w, dy):
    return dw_ok(x, w, dy)[::-1, ::-1]


def returns_dw_dx(x, w, dy):
    return dw_ok(x, w, dy), dx_ok(x, w, dy)


def returns_dW_dx(x, W, dy):
    return np.outer(dy, x), W.T @ dy


def dx_shifted(rows, cols):
    """The right numbers, one pixel off: a loop or a crop started at r + 1 (zeros shifted in)."""

    def dx(x, w, dy):
        out = np.zeros(dy.shape)
        H, W = dy.shape
        out[max(rows, 0) : H + min(rows, 0), max(cols, 0) : W + min(cols, 0)] = dx_ok(x, w, dy)[
            max(-rows, 0) : H + min(-rows, 0), max(-cols, 0) : W + min(-cols, 0)
        ]
        return out

    return dx


def dx_valid(x, w, dy):
    return correlate2d(dy, w, mode="valid")


def dx_full(x, w, dy):
    return correlate2d(dy, w, mode="full")


def dx_is(mistake):
    return {"conv.dx": mistake}


def dw_is(mistake):
    return {"conv.dw": mistake}


FLIPS = ("conv.dx.unflipped", "conv.dx.flip_horizontal_only", "conv.dx.flip_vertical_only")
DW_FLIPS = ("conv.dw.flipped", "conv.dw.flip_vertical_only", "conv.dw.flip_horizontal_only", "conv.border")
CROPS = ("conv.fixed_crop", "conv.empty_crop", "conv.off_by_one", "conv.full", "conv.valid", "conv.swap_axes")
SWAPPED = "any.swapped_outputs"

# (name, implementation of conv_backward or {function: implementation}, {problem: mistake}, names that must not be)
TABLE = [
    ("col2im-assign-pixel-loops", conv(col2im_assign_pixel_loops), dx_is("conv.dx.overwrite"), CROPS),
    ("col2im-assign-tap-loops", conv(col2im_assign_tap_loops), dx_is("conv.dx.overwrite"), CROPS),
    ("crop-pad-0", crop_fixed(0), dx_is("conv.empty_crop"), ("conv.fixed_crop",)),
    ("crop-pad-1", crop_fixed(1), dx_is("conv.fixed_crop"), ("conv.empty_crop", "conv.off_by_one")),
    ("crop-pad-2", crop_fixed(2), dx_is("conv.fixed_crop"), ("conv.empty_crop", "conv.off_by_one", "conv.valid")),
    ("crop-each-radius", crop_each_radius, dx_is("conv.empty_crop"), ("conv.fixed_crop",)),
    ("pad-1-window", pad1_window, dx_is("conv.fixed_crop"), ("conv.off_by_one", "conv.border")),
    ("pad-1-loops", pad1_loops, {"conv.dx": "conv.fixed_crop", "conv.dw": None}, ("conv.off_by_one", "conv.square")),
    ("pad-1-dw", pad1_dw, dw_is("conv.fixed_crop"), DW_FLIPS),
    ("dx-kernel-flipud", conv(dx_kernel_flipud), dx_is(FLIPS[2]), FLIPS[:2]),
    ("dx-kernel-fliplr", conv(dx_kernel_fliplr), dx_is(FLIPS[1]), (FLIPS[0], FLIPS[2])),
    ("dw-rows-reversed", conv(dw=dw_rows_reversed), dw_is(DW_FLIPS[1]), (DW_FLIPS[0], *DW_FLIPS[2:])),
    ("dw-fliplr", conv(dw=dw_fliplr), dw_is(DW_FLIPS[2]), (*DW_FLIPS[:2], DW_FLIPS[3])),
    ("dw-rot180", conv(dw=dw_rot180), dw_is(DW_FLIPS[0]), DW_FLIPS[1:]),
    ("dw-last-pixel", dw_last_pixel, dw_is("conv.dw.overwrite"), ("conv.fixed_crop",)),
    ("dw-first-pixel", lambda x, w, dy: dw_last_pixel(x, w, dy, -1), dw_is("conv.dw.overwrite"), ("conv.fixed_crop",)),
    ("dx-one-row-off", conv(dx_shifted(1, 0)), dx_is("conv.off_by_one"), ("conv.fixed_crop", "conv.border")),
    ("dx-one-pixel-diagonally", conv(dx_shifted(-1, -1)), dx_is("conv.off_by_one"), ("conv.fixed_crop",)),
    ("dx-valid", conv(dx_valid), {"conv.dx": "conv.valid", "conv.dw": None}, ("conv.fixed_crop", "conv.empty_crop")),
    ("dx-full", conv(dx_full), dx_is("conv.full"), ("conv.fixed_crop",)),
    ("conv-returns-dw-dx", returns_dw_dx, {"conv.dx": SWAPPED, "conv.dw": SWAPPED}, CROPS),
    ("fc-returns-dW-dx", {"fc_backward": returns_dW_dx}, {"fc.dx": SWAPPED, "fc.dW": SWAPPED}, ("fc.dW.transposed",)),
]


def _functions(impl) -> dict:
    fns = {"conv_backward": conv(), "fc_backward": fc_ok, "softmax_loss_backward": softmax_ok}
    fns.update(impl if isinstance(impl, dict) else {"conv_backward": impl})
    return fns


@pytest.fixture(scope="module")
def probes():
    return probe_cases(SPEC)


@pytest.mark.parametrize("name,impl,named,absent", TABLE, ids=[row[0] for row in TABLE])
def test_each_real_shape_of_a_mistake_is_named_the_same_for_every_student(probes, name, impl, named, absent):
    words = set()
    for sid in STUDENTS:
        report = report_of(_functions(impl), grading_cases(spec=SPEC, secret=b"table", student_id=sid), SPEC, probes)
        got = {p.id: p.diagnosis.id if p.diagnosis else None for p in report.problems if p.score < p.max_score}
        assert got == named, f"{sid}: {got}"
        assert not set(got.values()) & set(absent)
        words.add(tuple(p.diagnosis.message for p in report.problems if p.diagnosis))
        for fmt in ("text", "junit", "gradescope"):
            text = render(report, fmt)
            shown = [m for m in CATALOGUE if m in text]
            assert not shown, f"internal ids reach the student in {fmt}: {shown}"
    assert len(words) == 1, "the same bug must get the same words for every student"


def test_the_smallest_failing_input_tells_a_row_flip_from_a_full_flip(probes):
    fns = _functions(conv(dw=dw_rows_reversed))
    report = report_of(fns, grading_cases(spec=SPEC, secret=b"table", student_id="ann"), SPEC, probes)
    m = next(p for p in report.problems if p.id == "conv.dw").minimal_case
    got, expected = np.array(m.got), np.array(m.expected)
    np.testing.assert_allclose(got, expected[::-1, :])
    assert not np.allclose(got, expected[::-1, ::-1]), "a 3x1 kernel would not tell the two apart"


def test_swapped_returns_say_so_with_the_order_expected(probes):
    fns = _functions(returns_dw_dx)
    report = report_of(fns, grading_cases(spec=SPEC, secret=b"table", student_id="ann"), SPEC, probes)
    d = next(p for p in report.problems if p.id == "conv.dx").diagnosis
    assert "wrong order" in d.message and "conv_backward returns (dx, dw)" in d.message and "expected dw" in d.message
