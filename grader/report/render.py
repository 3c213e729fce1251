"""One entry point to every renderer, and an atomic write."""

from __future__ import annotations

import os
from pathlib import Path

from grader.report.model import Report


def render(report: Report, fmt: str, *, color: bool = False, hidden_visibility: str = "after_due_date") -> str:
    if fmt == "json":
        from grader.report.render_json import render_json

        return render_json(report)
    if fmt == "junit":
        from grader.report.render_junit import render_junit

        return render_junit(report)
    if fmt == "gradescope":
        from grader.report.render_gradescope import render_gradescope

        return render_gradescope(report, hidden_visibility=hidden_visibility)
    from grader.report.render_text import render_text

    return render_text(report, color=color)


def write(path: Path, text: str) -> None:
    """Write via a temporary file, so a failed write never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
