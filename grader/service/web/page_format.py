"""Jinja filters of the pages: times, points, numbers and arrays as text; every one returns plain text to be escaped."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import jinja2
import numpy as np

from grader.report.numbers import duration, points
from grader.report.render_minimal import affected, problem_status


def when(iso: str | dt.datetime | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (the API's times are UTC)."""
    if iso is None:
        return ""
    t = iso if isinstance(iso, dt.datetime) else dt.datetime.fromisoformat(iso)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def pts(x: float | None) -> str:
    """Points as every human-readable report writes them: 20, 2.22, 55.56."""
    return "" if x is None else points(x)


def num(x: float | None) -> str:
    """A number in 6 significant digits; NaN and the infinities as nan, inf and -inf."""
    return "" if x is None else f"{x:.6g}"


def anchor(problem_id: str) -> str:
    """An id attribute for a problem: conv.dx -> p-conv-dx."""
    return "p-" + re.sub(r"[^A-Za-z0-9_-]", "-", problem_id)


def shape(dims: list[int] | None) -> str:
    """A shape as the text report writes it: 7x13, or scalar."""
    return "x".join(map(str, dims)) if dims else "scalar"


# How the JSON report writes what JSON cannot hold (grader/report/model.py, MinimalCase).
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _numbers(value):
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return NONFINITE.get(value, value) if isinstance(value, str) else value


def pretty(value) -> str:
    """Numbers and nested lists of them as the text report prints arrays (NaN and infinities as nan, inf, -inf);
    anything else as text or JSON."""
    numbers = _numbers(value)
    try:
        a = np.asarray(numbers)
        if a.dtype == object:  # a null among numbers: a NaN or infinity of a report stored before they were kept
            a = np.asarray(numbers, dtype=float)
    except (ValueError, TypeError):  # ragged lists, or not numbers at all
        a = None
    if a is not None and a.dtype.kind in "iuf":
        if a.ndim == 0:
            return num(float(a)) if a.dtype.kind == "f" else str(a)
        return np.array2string(a, separator=", ", formatter={"float_kind": num}, threshold=10**6, max_line_width=100)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1)


def install_filters(env: jinja2.Environment) -> None:
    """Add the filters; refuse an environment that would not escape, since pages show student output."""
    if not (env.autoescape(None) if callable(env.autoescape) else env.autoescape):
        raise RuntimeError("the pages' Jinja environment must autoescape")
    env.filters.update(duration=duration, when=when, pts=pts, num=num, anchor=anchor, shape=shape, pretty=pretty)
    env.filters.update(status=problem_status, affected=affected)
