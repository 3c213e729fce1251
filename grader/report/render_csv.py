"""CSV for batches: one row per student."""

from __future__ import annotations

import csv
import io

from grader.contract import PROBLEM_IDS
from grader.report.model import Report


def csv_header() -> list[str]:
    return ["student_id", "score", "max_score", *PROBLEM_IDS, "diagnoses", "error", "submission_sha256"]


def csv_row(report: Report) -> list[str]:
    by_id = {p.id: f"{p.score:g}" for p in report.problems}
    diagnoses = ";".join(f"{p.id}={p.diagnosis.id}" for p in report.problems if p.diagnosis)
    return [
        report.student_id or "",
        f"{report.score:g}",
        f"{report.max_score:g}",
        *(by_id.get(pid, "") for pid in PROBLEM_IDS),
        diagnoses,
        report.error or "",
        report.submission_sha256,
    ]


def render_csv(reports: list[Report]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header())
    for r in reports:
        w.writerow(csv_row(r))
    return buf.getvalue()
