"""CSV of a class summary: one row per student."""

from __future__ import annotations

import csv
import io

from grader.contract import PROBLEM_IDS
from grader.report.model import Report
from grader.report.summary import ClassSummary, StudentRow, summarize


def csv_header() -> list[str]:
    return ["student_id", "score", "max_score", *PROBLEM_IDS, "diagnoses", "error", "submission_sha256"]


def csv_row(row: StudentRow) -> list[str]:
    return [
        row.student_id,
        f"{row.score:g}",
        f"{row.max_score:g}",
        *(f"{row.problems[pid]:g}" if pid in row.problems else "" for pid in PROBLEM_IDS),
        ";".join(f"{pid}={mid}" for pid, mid in row.diagnoses.items()),
        row.error or "",
        row.submission_sha256,
    ]


def render_summary_csv(summary: ClassSummary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header())
    w.writerows(csv_row(row) for row in summary.rows)
    return buf.getvalue()


def render_csv(reports: list[Report]) -> str:
    return render_summary_csv(summarize(reports))
