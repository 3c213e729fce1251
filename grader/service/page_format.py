"""Jinja filters of the pages: times, points, numbers and arrays as text; every one returns plain text to be escaped."""

from __future__ import annotations

import datetime as dt
import json
import re

import jinja2
import numpy as np
from pydantic import BaseModel


def when(iso: str | dt.datetime | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (the API's times are UTC)."""
    if iso is None:
        return ""
    t = iso if isinstance(iso, dt.datetime) else dt.datetime.fromisoformat(iso)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def pts(x: float | None) -> str:
    """Points with at most two decimals and no trailing zeros: 20, 2.22, 55.56."""
    return "" if x is None else f"{round(x, 2):g}"


def num(x: float | None) -> str:
    return "" if x is None else f"{x:.6g}"


def anchor(problem_id: str) -> str:
    """An id attribute for a problem: conv.dx -> p-conv-dx."""
    return "p-" + re.sub(r"[^A-Za-z0-9_-]", "-", problem_id)


def dump(value) -> dict:
    """A model (or dict) as a dict, for showing every field of a block such as `minimal_case`."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return dict(value) if isinstance(value, dict) else {"value": value}


def pretty(value) -> str:
    """Numbers and nested lists of them as numpy prints them; anything else as text or indented JSON."""
    try:
        a = np.asarray(value)
    except ValueError:  # ragged lists
        a = None
    if a is not None and a.dtype.kind in "iuf":
        if a.ndim == 0:
            return num(float(a)) if a.dtype.kind == "f" else str(a)
        return np.array2string(a, precision=5, suppress_small=True, max_line_width=100, threshold=400)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1)


def install_filters(env: jinja2.Environment) -> None:
    """Add the filters; refuse an environment that would not escape, since pages show student output."""
    if not (env.autoescape(None) if callable(env.autoescape) else env.autoescape):
        raise RuntimeError("the pages' Jinja environment must autoescape")
    env.filters.update(when=when, pts=pts, num=num, anchor=anchor, dump=dump, pretty=pretty)
