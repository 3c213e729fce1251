"""The mistake catalogue: each typical wrong answer, written here by hand, is named correctly."""

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d

from grader.scoring.catalogue import CATALOGUE, describe
from grader.scoring.diagnose import diagnose_case, diagnose_problem
from tests.grader.scoring import test_real_mistakes as real

TOL = 1e-4


def dx_correct(x, w, dy):
    return correlate2d(dy, w, mode="same")


def dw_correct(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    H, W = x.shape
    return np.array([[np.sum(x * dyp[i : i + H, j : j + W]) for j in range(w.shape[1])] for i in range(w.shape[0])])


def p_of(s):
    e = np.exp(s - s.max())
    return e / e.sum()


def shift_right(a):
    out = np.zeros_like(a)
    out[:, 1:] = a[:, :-1]
    return out


def zero_border(a, w):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    out = a.copy()
    out[:rh], out[a.shape[0] - rh :], out[:, :rw], out[:, a.shape[1] - rw :] = 0, 0, 0, 0
    return out


MISTAKES = [
    ("conv.dx", "conv.dx.unflipped", lambda x, w, dy: convolve2d(dy, w, mode="same")),
    ("conv.dx", "conv.dx.flip_horizontal_only", lambda x, w, dy: convolve2d(dy, w[:, ::-1], mode="same")),
    ("conv.dx", "conv.dx.flip_vertical_only", lambda x, w, dy: convolve2d(dy, w[::-1, :], mode="same")),
    ("conv.dx", "conv.dx.wrap", lambda x, w, dy: _wrap_dx(x, w, dy)),
    ("conv.dx", "conv.full", lambda x, w, dy: correlate2d(dy, w, mode="full")),
    ("conv.dx", "conv.valid", lambda x, w, dy: correlate2d(dy, w, mode="valid")),
    ("conv.dx", "conv.off_by_one", lambda x, w, dy: shift_right(dx_correct(x, w, dy))),
    ("conv.dx", "conv.border", lambda x, w, dy: zero_border(dx_correct(x, w, dy), w)),
    ("conv.dx", "any.sign", lambda x, w, dy: -dx_correct(x, w, dy)),
    ("conv.dx", "any.scale", lambda x, w, dy: 0.5 * dx_correct(x, w, dy)),
    ("conv.dx", "any.zeros", lambda x, w, dy: np.zeros_like(x)),
    ("conv.dw", "conv.dw.flipped", lambda x, w, dy: dw_correct(x, w, dy)[::-1, ::-1]),
    ("conv.dx", "conv.empty_crop", lambda x, w, dy: real.empty_crop(x, w, dy)[0]),
    ("conv.dx", "conv.fixed_crop", lambda x, w, dy: real.crop_for_3x3(x, w, dy)[0]),
    ("conv.dx", "conv.dx.overwrite", lambda x, w, dy: real.overwrite_taps(x, w, dy)[0]),
    ("conv.dw", "conv.dw.overwrite", lambda x, w, dy: real.overwrite_pixels(x, w, dy)[1]),
    ("fc.dx", "fc.dx.no_transpose", lambda x, W, dy: W @ dy),
    ("fc.dx", "fc.dx.elementwise", lambda x, W, dy: W.T * dy),
    ("fc.dW", "fc.dW.transposed", lambda x, W, dy: np.outer(x, dy)),
    ("softmax.ds", "softmax.p_only", lambda s, y: p_of(s)),
    ("softmax.ds", "softmax.t_minus_p", lambda s, y: np.eye(len(s))[y] - p_of(s)),
    ("softmax.ds", "softmax.wrong_index", lambda s, y: p_of(s) - np.eye(len(s))[(y + 1) % len(s)]),
    ("softmax.ds", "any.scale", lambda s, y: 2 * (p_of(s) - np.eye(len(s))[y])),
]


def _wrap_dx(x, w, dy):
    rh, rw = w.shape[0] // 2, w.shape[1] // 2
    H, W = dy.shape
    out = np.zeros_like(dy)
    for a in range(H):
        for b in range(W):
            for c in range(-rh, rh + 1):
                for d in range(-rw, rw + 1):
                    out[a, b] += dy[(a + c) % H, (b + d) % W] * w[c + rh, d + rw]
    return out


def _args(case):
    order = {"conv": ("x", "w", "dy"), "fc": ("x", "W", "dy"), "softmax": ("s", "y")}[case.layer]
    return [int(case.inputs[k]) if k == "y" else case.inputs[k] for k in order]


@pytest.mark.parametrize("pid,mid,wrong", MISTAKES, ids=[f"{m[1]}" for m in MISTAKES])
def test_each_mistake_is_named(public_cases, pid, mid, wrong):
    layer = pid.split(".")[0]
    named = []
    for case in (c for c in public_cases if c.layer == layer):
        try:
            S = np.asarray(wrong(*_args(case)), dtype=float)
        except ValueError:
            continue  # e.g. W @ dy with a non-square W: the student gets an error, not a diagnosis
        if S.shape == case.expected[pid].shape and np.allclose(S, case.expected[pid], rtol=1e-9, atol=1e-12):
            continue  # this case cannot tell the mistake apart (e.g. a 1x1 kernel)
        got, _ = diagnose_case(pid, case, S, TOL, 1.0 if layer == "softmax" else 1e-30)
        named.append(got)
    assert named, "no public case exposes this mistake"
    assert sum(n == mid for n in named) >= len(named) / 2, named


def test_problem_level_patterns(public_cases):
    conv = [c for c in public_cases if c.layer == "conv"]
    square = [c for c in conv if "square" in c.tags]
    nonsq = [c for c in conv if "square" not in c.tags]
    assert diagnose_problem("conv.dx", [(c, None) for c in nonsq], square, []) == "conv.square"
    sm = [c for c in public_cases if c.layer == "softmax"]
    large = [c for c in sm if "large-logits" in c.tags]
    small = [c for c in sm if "small-logits" in c.tags]
    assert diagnose_problem("softmax.ds", [(c, None) for c in large], small, large) == "softmax.overflow"
    assert diagnose_problem("softmax.ds", [], sm, []) is None


def test_every_catalogue_entry_has_words_and_a_section():
    for mid in CATALOGUE:
        text, _section = describe(mid)
        assert len(text) > 20
    assert describe("any.scale", factor=" of 0.5")[0].endswith("factor of 0.5")
    assert all(describe(m)[1] for m in CATALOGUE if not m.startswith("any."))


def test_diagnosis_needs_no_reference(public_cases):
    """Public cases carry their wrong answers as data, so diagnosis works in the student kit."""
    import importlib.abc
    import sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "reference" or name.startswith("reference."):
                raise ImportError("blocked")

    saved = {k: v for k, v in sys.modules.items() if k == "reference" or k.startswith("reference.")}
    for k in saved:
        del sys.modules[k]
    sys.meta_path.insert(0, Block())
    try:
        case = next(c for c in public_cases if c.layer == "conv" and "kernel-1x1" not in c.tags)
        _x, w, dy = _args(case)
        assert diagnose_case("conv.dx", case, convolve2d(dy, w, mode="same"), TOL)[0] == "conv.dx.unflipped"
    finally:
        sys.meta_path.pop(0)
        sys.modules.update(saved)
