"""What a student may see of their own report: the rules the renderers apply, for the API and the pages alike."""

from __future__ import annotations

from grader.report.model import Report


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
    return report.model_copy(update={"problems": problems})
