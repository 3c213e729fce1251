"""Random gradient checks a student can run anywhere: N fresh cases of varied shapes from a printed seed.

Their expected answers come from the forward pass alone (grader/feedback/oracle.py), which the assignment
defines, so they need no reference: exact for conv and fc, within FD_ERROR for the loss. Never scored.
"""

from __future__ import annotations

import secrets

import numpy as np

from grader.cases.model import Case
from grader.contract import LAYERS
from grader.feedback.oracle import expected
from grader.spec import Spec


def new_seed() -> int:
    return secrets.randbelow(1 << 31)


def explore_cases(spec: Spec, *, n: int, seed: int) -> list[Case]:
    """n cases, the spec's layers in turn, each of a random kind of that layer; the same for the same seed."""
    rng = np.random.default_rng([seed, 11])
    ids = {p.id for p in spec.problems}
    out = []
    for i in range(n):
        layer = LAYERS[spec.layers[i % len(spec.layers)]]
        kind = layer.kinds[int(rng.integers(len(layer.kinds)))]
        inputs, tags = layer.drawer()(rng, kind, spec)
        exp = {pid: a for pid, a in expected(layer, inputs, use_reference=False).items() if pid in ids}
        tags = ("explore", *dict.fromkeys(tags))
        out.append(Case(f"explore-{layer.name}-{i + 1:03d}", layer.name, False, tags, inputs, exp, {}, 0.0))
    return out
