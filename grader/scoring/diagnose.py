"""Naming a student's mistake: compare a wrong answer with known wrong answers for the same inputs.

Candidates come from two places: `case.mistakes` (computed by reference/mistakes.py, or stored
with the public cases) and the rules here, which need only the correct answer and the inputs.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable

import numpy as np

from grader.cases.model import Case
from grader.scoring.catalogue import CATALOGUE, describe
from grader.scoring.compare import close
from grader.scoring.rules import by_rules

__all__ = [
    "CATALOGUE",
    "describe",
    "diagnose_all",
    "diagnose_case",
    "diagnose_problem",
    "is_square",
    "square_image",
]  # the catalogue, for old importers


def diagnose_case(
    pid: str, case: Case, S: np.ndarray | None, tol: float, tau: float = 1e-30
) -> tuple[str | None, dict]:
    """The id of a known mistake that S matches within tolerance (the first in catalogue order), with any
    values its message needs."""
    found, values = diagnose_all(pid, case, S, tol, tau)
    return (found[0] if found else None), values


def diagnose_all(pid: str, case: Case, S: np.ndarray | None, tol: float, tau: float = 1e-30) -> tuple[list[str], dict]:
    """Every known wrong answer S matches and every mistake the rules recognise in it, in catalogue order.

    Look-alikes are all kept (a 1-row image cannot tell a missing flip from a vertical-only one, a 3x1 kernel a
    row flip from a full one): the majority over a problem's cases chooses among them."""
    if S is None:
        return [], {}
    near = functools.partial(close, tol=tol, tau=tau)
    found = [mid for mid, M in case.mistakes.get(pid, {}).items() if near(S, M)]
    ruled, values = by_rules(pid, case, S, tol, tau)
    return sorted(set(found) | set(ruled), key=catalogue_order), values


def catalogue_order(mistake_id: str) -> int:
    return _ORDER.get(mistake_id, len(_ORDER))


_ORDER = {mid: n for n, mid in enumerate(CATALOGUE)}


def diagnose_problem(
    pid: str, failed: list[tuple[Case, str | Iterable[str] | None]], passed: list[Case], nonfinite: list[Case]
) -> str | None:
    """The one mistake behind a set of failures: a known mistake matching most of them, or a pattern
    that covers all of them (only non-square inputs fail, only large logits overflow). None when
    neither holds: a minority mistake is never named, however common it is among the rest.

    Each failed case comes with the mistake it matches, or all of those it matches."""
    if not failed:
        return None
    named: Counter[str] = Counter()
    for _, m in failed:
        named.update(set([m] if isinstance(m, str) else m or ()))
    if named:
        mid = min(named, key=lambda k: (-named[k], catalogue_order(k)))
        if named[mid] * 2 > len(failed):
            return mid
    layer = pid.split(".")[0]
    overflow_only = nonfinite and all("large-logits" in c.tags for c in nonfinite)
    if layer == "softmax" and overflow_only and any("small-logits" in c.tags for c in passed):
        return "softmax.overflow"
    # Wrong only on non-square images, right on a square one even with a non-square kernel: H and W are
    # mixed up, not the kernel's sides.
    nonsquare_images_only = layer == "conv" and all(not square_image(c) for c, _ in failed)
    if nonsquare_images_only and any(square_image(c) and not is_square(c) for c in passed):
        return "conv.swapped_loops"
    nonsquare_only = all(not is_square(c) for c, _ in failed)
    if layer in ("conv", "fc") and nonsquare_only and any(is_square(c) for c in passed):
        return f"{layer}.square"
    return None


def square_image(case: Case) -> bool:
    return case.inputs["x"].shape[0] == case.inputs["x"].shape[1]


def is_square(case: Case) -> bool:
    """Whether every matrix among the case's inputs is square (image and kernel, or W)."""
    return all(a.ndim < 2 or a.shape[0] == a.shape[1] for a in case.inputs.values())
