"""The gradebook's rows as the API's JSON and as CSV (`GET /api/class/gradebook[.csv]`, `admin gradebook`)."""

from __future__ import annotations

import csv
import io

from grader.report.numbers import points
from grader.report.render_csv import text_cell
from grader.service.course.calendar import shown
from grader.service.course.standing import GradebookRow

COLUMNS = (
    "student_id",
    "submission_id",
    "submitted_at",
    "late",
    "lateness_seconds",
    "raw_score",
    "penalty",
    "score",
    "max_score",
    "submissions",
    "status",
    "extended_due",
)


def row_json(r: GradebookRow, timezone: str) -> dict:
    return {
        "student_id": r.student_id,
        "submission_id": r.submission_id,
        "submitted_at": shown(r.submitted_at, timezone),
        "late": r.late,
        "lateness_seconds": r.lateness_seconds,
        "raw_score": r.raw_score,
        "penalty": r.penalty,
        "score": r.score,
        "max_score": r.max_score,
        "submissions": r.submissions,
        "status": r.status,
        "extended_due": shown(r.extended_due, timezone),
    }


def select(rows: list[GradebookRow], *, status: str | None = None, search: str | None = None) -> list[GradebookRow]:
    """The rows with this status, whose student id contains `search` (case-insensitive)."""
    needle = (search or "").strip().lower()
    return [r for r in rows if (not status or r.status == status) and needle in r.student_id.lower()]


def render_csv(rows: list[GradebookRow], timezone: str) -> str:
    """One line per student; scores as every human-readable output rounds them, empty where there is none."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        d = row_json(r, timezone)
        for k in ("raw_score", "penalty", "score", "max_score"):
            d[k] = "" if d[k] is None else points(d[k])
        d["late"] = "" if d["late"] is None else ("yes" if d["late"] else "no")
        d["student_id"] = text_cell(d["student_id"])
        w.writerow(["" if d[k] is None else d[k] for k in COLUMNS])
    return buf.getvalue()
