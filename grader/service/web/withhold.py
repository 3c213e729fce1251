"""A report before its hidden results are released: the public cases only, rescored, with nothing computed from a
hidden case left in it (no count, status, metric, mistake, shape, error, output or total of theirs)."""

from __future__ import annotations

from grader.contract import layer_of
from grader.report.model import CallError, Diagnosis, Output, ProblemReport, Report

NO_ANSWER = ("error", "timeout", "crashed")
OUTPUT_WITHHELD = "your code's output is withheld with them, since it includes what it printed on hidden cases"


def public_only(report: Report, when: str) -> Report:
    """The report as if it had only its public cases; `when` says when the hidden results come."""
    if not any(c.hidden for p in report.problems for c in p.cases):
        return report
    problems = [_problem(p) for p in report.problems]
    raw = sum(p.score for p in problems)
    fraction = (report.penalty or 0) / report.raw_score if report.raw_score else 0.0
    penalty = raw * fraction if report.late is not None else None
    public_ids = {c.id for p in problems for c in p.cases}
    output = Output(text="", truncated=False, bytes=0)
    notice = f"Hidden cases: their results come {when}; this report counts the public cases only ({OUTPUT_WITHHELD})."
    return report.model_copy(
        update={
            "problems": problems,
            "score": raw - (penalty or 0),
            "max_score": sum(p.max_score for p in problems),
            "raw_score": raw if report.late is not None else None,
            "penalty": penalty,
            "errors": [e for e in (_error(e, public_ids, problems) for e in report.errors) if e is not None],
            "output": output,
            "withheld": notice,
            "timing": report.timing.model_copy(
                update={"seconds": sum(c.seconds or 0 for p in problems for c in p.cases)}
            ),
        }
    )


def _problem(p: ProblemReport) -> ProblemReport:
    cases = [c for c in p.cases if not c.hidden]
    failing = [c for c in cases if c.status != "passed"]
    return p.model_copy(
        update={
            "cases": cases,
            "score": sum(c.points for c in cases),
            "max_score": sum(c.max_points for c in cases),
            "diagnosis": _diagnosis(p.diagnosis, cases),
            "minimal_case": p.minimal_case if failing else None,  # found because a case failed: a public one
        }
    )


def _diagnosis(d: Diagnosis | None, cases) -> Diagnosis | None:
    """The diagnosis counted on the public cases, kept only if they alone bear it out (more than half of them)."""
    if d is None:
        return None
    explains = sum(c.mistake == d.id for c in cases)
    failing = sum(c.status == "failed" for c in cases)
    if explains == 0 or 2 * explains <= failing:
        return None
    raised = sum(c.status in NO_ANSWER for c in cases)
    return d.model_copy(update={"explains": explains, "failing": failing, "raised": raised})


def _error(e: CallError, public_ids: set[str], problems: list[ProblemReport]) -> CallError | None:
    """An error as the public cases saw it; None if only hidden cases raised it."""
    cases = [c for c in e.cases if c in public_ids]
    if not cases:
        return None
    mine = [p for p in problems if p.id in e.problems]
    kept = [p.id for p in mine if any(c.id in cases for c in p.cases)]
    layers = {layer_of(pid).name for pid in e.problems}
    of = {c.id for p in problems if layer_of(p.id).name in layers for c in p.cases}
    return e.model_copy(update={"cases": cases, "of": len(of), "problems": kept})
