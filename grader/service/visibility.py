"""What a student may see of their own report: the rules the renderers apply, for the API and the pages alike."""

from __future__ import annotations

from grader.report.model import CallError, Report

WITHHELD = "an error in hidden cases only: its details are withheld until results are released"


def student_view(report: Report, *, hidden_visibility: str) -> Report:
    """The report as its student sees it.

    Hidden cases never carry expected values (the report has none for them). Unless the spec makes hidden
    results "visible", a student also does not see their details (message, metric, mistake, notes), only
    their status, which the score already implies: the service has no due date or publish step to wait for.
    """
    if hidden_visibility == "visible":
        return report
    problems = []
    for p in report.problems:
        cases = [
            c.model_copy(update={"message": "", "error": None, "mistake": None, "notes": [], "worst": None})
            if c.hidden
            else c
            for c in p.cases
        ]
        problems.append(p.model_copy(update={"cases": cases}))
    public = {c.id for p in report.problems for c in p.cases if not c.hidden}
    # An error some public case raised is told in that case's words (crashes.call_errors sees to it).
    errors = [
        e
        if public & set(e.cases)
        else CallError(**{**e.model_dump(), "summary": WITHHELD, "traceback": "", "note": ""})
        for e in report.errors
    ]
    return report.model_copy(update={"problems": problems, "errors": errors})
