"""One entry point to every renderer, and an atomic write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GraderError

if TYPE_CHECKING:  # the command line reads FORMATS before it needs pydantic
    from grader.report.model import Report

FORMATS = ("text", "json", "junit", "gradescope")


def render(report: Report, fmt: str, *, color: bool = False, hidden_visibility: str | None = None) -> str:
    """The report in `fmt`. `hidden_visibility` (the spec's) is for Gradescope; None keeps its renderer's default."""
    if fmt == "json":
        from grader.report.render_json import render_json

        return render_json(report)
    if fmt == "junit":
        from grader.report.render_junit import render_junit

        return render_junit(report)
    if fmt == "gradescope":
        from grader.report.render_gradescope import render_gradescope

        extra = {"hidden_visibility": hidden_visibility} if hidden_visibility else {}
        return render_gradescope(report, **extra)
    if fmt == "text":
        from grader.report.render_text import render_text

        return render_text(report, color=color)
    raise GraderError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")


def write(path: Path, text: str) -> None:
    """Write via a temporary file, so a failed write never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
