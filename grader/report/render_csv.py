"""CSV of a class summary: one row per student; its text cells are printable and never read as formulas."""

from __future__ import annotations

import csv
import io

from grader.contract import PROBLEM_IDS
from grader.printable import printable
from grader.report.model import Report
from grader.report.summary import ClassSummary, StudentRow, summarize


def csv_header() -> list[str]:
    return ["student_id", "score", "max_score", *PROBLEM_IDS, "diagnoses", "error", "submission_sha256"]


def csv_row(row: StudentRow) -> list[str]:
    return [
        text_cell(row.student_id),
        f"{row.score:g}",
        f"{row.max_score:g}",
        *(f"{row.problems[pid]:g}" if pid in row.problems else "" for pid in PROBLEM_IDS),
        ";".join(f"{pid}={mid}" for pid, mid in row.diagnoses.items()),
        text_cell(row.error or ""),
        row.submission_sha256,
    ]


def text_cell(cell: str) -> str:
    """A cell a spreadsheet shows as text: escapes for control characters, and a leading ' before what a spreadsheet
    would evaluate (=, +, -, @), the usual defence against formula injection."""
    cell = printable(cell)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def render_summary_csv(summary: ClassSummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header())
    w.writerows(csv_row(row) for row in summary.rows)
    return buf.getvalue()


def render_csv(reports: list[Report]) -> str:
    return render_summary_csv(summarize(reports))
