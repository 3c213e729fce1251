"""Probe cases: small fixed inputs chosen to tell the catalogued mistakes apart, the same for every student.

They run after the graded cases, are never scored and only name the mistake, so two students with the
same bug get the same words whatever hidden cases they drew.
"""

from __future__ import annotations

import functools

import numpy as np

from grader.cases.draw import asymmetric_kernel
from grader.cases.generate import with_mistakes
from grader.cases.model import Case
from grader.contract import LAYERS, reference_available
from grader.feedback.oracle import expected
from grader.spec import Spec

SEED = 20261126
# (H, W, Kh, Kw): square and non-square images and kernels, kernels of one row or column and 1x1,
# kernels other than 3x3 (for a hard-coded crop) and kernels larger than the image.
CONV = (
    (4, 4, 3, 3),
    (5, 5, 1, 1),
    (5, 5, 1, 3),
    (5, 5, 3, 1),
    (5, 5, 3, 5),
    (5, 5, 5, 5),
    (4, 6, 3, 3),
    (6, 4, 3, 3),
    (4, 7, 1, 3),
    (5, 7, 5, 3),
    (3, 2, 5, 5),
    (1, 6, 3, 3),
    (6, 1, 3, 3),
    (4, 5, 1, 1),
)
FC = ((3, 3), (4, 4), (2, 5), (5, 2), (1, 4), (4, 1), (3, 6))  # (M, N)
# (scores kind, M, label): a label first, last and in the middle, and logits that overflow exp.
SOFTMAX = (
    ("ordinary", 2, 0),
    ("ordinary", 4, 3),
    ("ordinary", 5, 2),
    ("ordinary", 6, 0),
    ("large-positive", 3, 1),
    ("large-negative", 4, 0),
    ("extreme", 3, 2),
)


def probe_cases(spec: Spec) -> list[Case]:
    """The probes of every layer in the spec, with expected and known wrong answers; none without the reference.

    Without the reference (the student kit) the public cases name mistakes instead: they too are the same for everyone.
    """
    return list(_probes(spec)) if reference_available() else []


@functools.lru_cache(maxsize=4)
def _probes(spec: Spec) -> tuple[Case, ...]:
    rng = np.random.default_rng(SEED)
    out = []
    for name in spec.layers:
        for i, (inputs, tags) in enumerate(_DRAW.get(name, lambda rng: ())(rng)):
            exp = {pid: a for pid, a in expected(LAYERS[name], inputs).items() if pid in _ids(spec)}
            out.append(with_mistakes(Case(f"probe-{name}-{i + 1:02d}", name, False, tags, inputs, exp), 0.0))
    return tuple(out)


def _ids(spec: Spec) -> set[str]:
    return {p.id for p in spec.problems}


def _conv(rng):
    for H, W, Kh, Kw in CONV:
        x, dy = rng.normal(size=(H, W)), rng.normal(size=(H, W))
        square = H == W and Kh == Kw
        yield {"x": x, "w": asymmetric_kernel(rng, (Kh, Kw)), "dy": dy}, ("probe", "square" if square else "nonsquare")


def _fc(rng):
    for M, N in FC:
        inputs = {"x": rng.normal(size=N), "W": rng.normal(size=(M, N)), "dy": rng.normal(size=M)}
        yield inputs, ("probe", "square" if M == N else "nonsquare")


def _softmax(rng):
    for kind, M, y in SOFTMAX:
        s = rng.normal(size=M) * 2
        if kind == "large-positive":
            s = np.round((1000.0 + s) * 64) / 64
        elif kind == "large-negative":
            s = np.round((-1000.0 + s) * 64) / 64
        elif kind == "extreme":
            s = np.array([1e4, -1e4, 0.0][:M]) + np.round(s * 64) / 64
        logits = "small-logits" if kind == "ordinary" else "large-logits"
        yield {"s": s, "y": np.array(y, dtype=np.int64)}, ("probe", kind, logits)


_DRAW = {"conv": _conv, "fc": _fc, "softmax": _softmax}
