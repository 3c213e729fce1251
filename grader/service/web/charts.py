"""Server-side SVG charts for the dashboard: pure functions from counts to escaped markup, no script or style."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

# Presentation attributes (fill=, stroke=) rather than style= so a strict Content-Security-Policy allows them.
BAR = "#3b6ea8"
AXIS = "#555"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def bin_edges(max_score: float, bins: int) -> list[float]:
    """The `bins` + 1 edges of equal bins over [0, max_score], as the class summary counts them."""
    return [max_score * i / bins for i in range(bins + 1)]


def histogram_svg(
    counts: Sequence[int],
    *,
    max_score: float,
    title: str,
    width: int = 480,
    height: int = 200,
    unit: str = "students",
    caption: bool = True,
) -> Markup:
    """An SVG bar chart of `counts` over equal score bins of [0, max_score].

    Usage: ``histogram_svg(summary.score.histogram, max_score=summary.score.max_score, title="Total score")``.
    Every bar is a ``<rect class="bar">`` with ``data-count`` and a ``<title>`` tooltip; its height is
    proportional to its count, the tallest bar filling the plot. All text is XML-escaped. Without `caption` the
    title is only the tooltip, for small charts whose row already names them.
    """
    left, right, top, bottom = 34, 16, 30 if caption else 14, 30
    pw, ph = width - left - right, height - top - bottom
    n = len(counts)
    tallest = max(counts, default=0)
    edges = bin_edges(max_score, n)
    bw = pw / n if n else pw
    t = escape(title)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{t}">',
        f"<title>{t}</title>",
    ]
    if caption:
        parts.append(f'<text x="{left}" y="14" font-size="12" font-weight="bold" fill="#222">{t}</text>')
    for i, c in enumerate(counts):
        h = round(ph * c / tallest, 2) if tallest else 0.0
        x = round(left + i * bw + 1, 2)
        y = round(top + ph - h, 2)
        closing = "]" if i == n - 1 else ")"
        tip = escape(f"{c} {unit} in [{_fmt(edges[i])}, {_fmt(edges[i + 1])}{closing}")
        parts.append(
            f'<rect class="bar" data-count="{c}" x="{x}" y="{y}" width="{round(max(bw - 2, 1), 2)}" '
            f'height="{h}" fill="{BAR}"><title>{tip}</title></rect>'
        )
        if c:
            parts.append(
                f'<text x="{round(x + bw / 2 - 1, 2)}" y="{round(y - 3, 2)}" font-size="10" '
                f'text-anchor="middle" fill="#222">{c}</text>'
            )
    base = top + ph
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + pw}" y2="{base}" stroke="{AXIS}"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="{AXIS}"/>')
    for label, y in ((tallest, top), (0, base)):
        parts.append(f'<text x="{left - 4}" y="{y + 4}" font-size="10" text-anchor="end" fill="{AXIS}">{label}</text>')
    # label every edge when there is room, else every other one
    step = 1 if bw >= 30 else 2
    for i in range(0, n + 1, step):
        parts.append(
            f'<text x="{round(left + i * bw, 2)}" y="{base + 14}" font-size="10" text-anchor="middle" '
            f'fill="{AXIS}">{_fmt(edges[i])}</text>'
        )
    if not tallest:
        parts.append(
            f'<text x="{left + pw / 2}" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
            f'fill="{AXIS}">no {escape(unit)} yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def split_bar_svg(full: int, partial: int, zero: int, *, title: str, width: int = 220, height: int = 18) -> Markup:
    """A horizontal bar split into full / partial / zero score counts, for one problem's table row."""
    total = full + partial + zero
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="split" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    x = 0.0
    for name, k, colour in (("full", full, "#2e7d32"), ("partial", partial, "#f9a825"), ("zero", zero, "#c62828")):
        w = round(width * k / total, 2) if total else 0.0
        parts.append(
            f'<rect class="seg {name}" data-count="{k}" x="{round(x, 2)}" y="0" width="{w}" height="{height}" '
            f'fill="{colour}"><title>{k} {name}</title></rect>'
        )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))
