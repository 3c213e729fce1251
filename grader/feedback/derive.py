"""One shrinking step: smaller or simpler versions of a failing case, cut from its own inputs.

Cropping keeps the values the failure was seen with; rounding to small integers makes the case
easy to check by hand. Each candidate is kept only if it still fails (see shrink.Shrinker).
"""

from __future__ import annotations

import numpy as np

from grader.cases.model import Case
from grader.contract import LAYERS
from grader.feedback.oracle import expected


def derive(case: Case, ids: set[str], make_id) -> list[Case]:
    """Candidates one step smaller or simpler than `case`, with expected answers for the problems in `ids`."""
    layer = LAYERS[case.layer]
    out = []
    for inputs in _STEPS[case.layer](dict(case.inputs)):
        exp = {pid: a for pid, a in expected(layer, inputs).items() if pid in ids}
        tags = tuple(dict.fromkeys(("shrink", *case.tags)))
        out.append(Case(make_id(case.layer), case.layer, False, tags, inputs, exp, {}, 0.0))
    return out


def _smaller(n: int) -> list[int]:
    return sorted({m for m in (n - 1, n // 2) if 1 <= m < n})


def _small_ints(a: np.ndarray) -> np.ndarray:
    scale = float(np.abs(a).max()) if a.size else 0.0
    return np.clip(np.round(a / scale * 3), -3, 3) + 0.0 if scale else a.astype(float)  # + 0.0: no -0


def _conv(i):
    x, w, dy = i["x"], i["w"], i["dy"]
    for h in _smaller(x.shape[0]):
        yield {"x": x[:h], "w": w, "dy": dy[:h]}
    for v in _smaller(x.shape[1]):
        yield {"x": x[:, :v], "w": w, "dy": dy[:, :v]}
    for axis in (0, 1):
        k = w.shape[axis]
        for cut in sorted({1, (k - 1) // 2}):  # one ring in, or down to the centre row / column
            if k > 1 and k - 2 * cut >= 1:
                yield {"x": x, "w": np.take(w, range(cut, k - cut), axis=axis), "dy": dy}
    if not all(np.array_equal(a, np.round(a)) and np.abs(a).max(initial=0) <= 3 for a in (x, w, dy)):
        yield {"x": _small_ints(x), "w": _small_ints(w), "dy": _small_ints(dy)}


def _fc(i):
    x, W, dy = i["x"], i["W"], i["dy"]
    for n in _smaller(x.shape[0]):
        yield {"x": x[:n], "W": W[:, :n], "dy": dy}
    for m in _smaller(dy.shape[0]):
        yield {"x": x, "W": W[:m], "dy": dy[:m]}
    if not all(np.array_equal(a, np.round(a)) and np.abs(a).max(initial=0) <= 3 for a in (x, W, dy)):
        yield {"x": _small_ints(x), "W": _small_ints(W), "dy": _small_ints(dy)}


def _softmax(i):
    s, y = i["s"], int(i["y"])
    if len(s) > 2:
        drop = len(s) - 1 if y != len(s) - 1 else 0  # keep the label's score
        yield {"s": np.delete(s, drop), "y": np.array(y - (drop < y), dtype=np.int64)}
    if not np.array_equal(s, np.round(s)):
        yield {"s": np.round(s) + 0.0, "y": i["y"]}  # rounding keeps large logits large


_STEPS = {"conv": _conv, "fc": _fc, "softmax": _softmax}
