"""Points as every human-readable output writes them: one rounding, so text, web, JUnit and Gradescope agree."""

from __future__ import annotations


def points(x: float) -> str:
    """At most two decimals, no trailing zeros: 20, 2.22, 82.86 (the JSON report keeps full precision)."""
    text = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration(seconds: int) -> str:
    """A lateness in words: 45 s, 12 min, 2 d 3 h 4 min."""
    if seconds < 60:
        return f"{seconds} s"
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    return " ".join([f"{d} d"] * bool(d) + [f"{h} h"] * bool(h) + [f"{m} min"] * bool(m))
