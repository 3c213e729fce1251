"""JSON: the report model itself."""

from grader.report.model import Report


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"
