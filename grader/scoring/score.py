"""From raw sandbox results to a report: the pass rule, partial credit and the diagnoses.

Rules, all here:
- a case passes when its call ended normally, the output reads as an array of the expected shape
  (singleton dimensions aside) with finite values, and rel_error <= the problem's tol (compare.py);
- a problem scores points x (weight of passed cases / weight of all its cases), so a case is worth
  points x its weight / the weight of all the problem's cases, earned only when it passes;
- the total is the sum over problems.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from grader import __version__
from grader.cases.model import Case
from grader.contract import layer_of
from grader.report.model import (
    CaseReport,
    Diagnosis,
    Explore,
    ExploreProblem,
    Output,
    ProblemReport,
    Report,
    Sandbox,
    Timing,
    Worst,
)
from grader.results import CallResult, RunResult
from grader.scoring.catalogue import describe
from grader.scoring.compare import read_output, rel_error, worst_element
from grader.scoring.crashes import call_errors, missing_module_note
from grader.scoring.diagnose import diagnose_all
from grader.scoring.explain import Outcome, name_mistake
from grader.scoring.minimal import minimal_case
from grader.spec import Problem, Spec


def judge(problem: Problem, case: Case, call: CallResult, *, diagnose: bool = True) -> Outcome:
    """One case of one problem: its report, whether the output held NaN or inf, and the mistakes it matches
    (unless `diagnose` is False: unscored cases that only look for a minimal failure skip that work)."""
    args = layer_of(problem.id).arguments
    shapes = {a: list(np.shape(v)) for a in args if (v := case.inputs.get(a)) is not None and np.ndim(v)}
    base = dict(
        id=case.id, hidden=case.hidden, tags=list(case.tags), shapes=shapes, weight=case.weight, seconds=call.seconds
    )
    if call.status != "ok":
        return Outcome(case, CaseReport(status=call.status, message=call.message, **base))
    name = f"{problem.id.split('.')[1]} (returned by {layer_of(problem.id).function})"
    why = call.unreadable.get(problem.id)
    if why:
        return Outcome(case, CaseReport(status="error", message=f"{name}: {why}", **base))
    value = call.outputs.get(problem.id)
    R = case.expected[problem.id]
    reading = read_output(value, R, name)
    notes = list(reading.notes)
    if call.modified_inputs:
        notes.append(
            f"the function modified its input(s) {', '.join(call.modified_inputs)}; graded on what it returned"
        )
    e = None if reading.failure else rel_error(reading.array, R, problem.tau)
    if e is not None and e <= problem.tol:
        return Outcome(case, CaseReport(status="passed", relative_error=e, notes=notes, **base), got=reading.array)
    # Only a failing answer is compared with the known mistakes.
    found, values = diagnose_all(problem.id, case, reading.array, problem.tol, problem.tau) if diagnose else ([], {})
    mistake = found[0] if found else None
    if reading.failure:
        nonfinite = reading.array is not None and reading.array.shape == R.shape
        report = CaseReport(status="failed", message=reading.failure, notes=notes, mistake=mistake, **base)
        return Outcome(case, report, nonfinite, tuple(found), values, reading.array)
    worst = None
    if not case.hidden:
        worst = Worst(**dict(zip(("index", "got", "expected"), worst_element(reading.array, R), strict=True)))
    message = f"relative error {e:.3g} is above the tolerance {problem.tol:g}"
    report = CaseReport(
        status="failed", relative_error=e, message=message, notes=notes, mistake=mistake, worst=worst, **base
    )
    return Outcome(case, report, False, tuple(found), values, reading.array)


def score_problem(
    problem: Problem,
    cases: list[Case],
    run: RunResult,
    probes: Sequence[Case] = (),
    fresh: Sequence[Case] = (),
    explored: Sequence[Outcome] = (),
) -> ProblemReport:
    """Score a problem on `cases`; `probes` help name its mistake. When a graded or `explored` case fails, the
    smallest failing probe, `fresh` input or explored case is its minimal case."""
    outcomes = [judge(problem, case, run.calls[case.id]) for case in cases]
    probed = _judged(problem, probes, run)
    total = sum(c.weight for c in cases)
    earned = sum(o.case.weight for o in outcomes if not o.failed)
    score = round(problem.points * earned / total, 6) if total else 0.0
    finding = None if run.import_error else name_mistake(problem.id, outcomes, probed)
    diagnosis = None
    if finding:
        values = next((o.values for o in [*outcomes, *probed] if finding.mistake in o.matches and o.values), {})
        message, section = describe(finding.mistake, **values)
        diagnosis = Diagnosis(
            id=finding.mistake,
            message=message,
            section=section or problem.section,
            explains=finding.explains,
            failing=finding.failing,
            raised=finding.raised,
        )
    reports = []
    for o in outcomes:
        named = {"mistake": diagnosis.id} if diagnosis and diagnosis.id in o.matches else {}  # of those it matches
        reports.append(_with_points(o.report, problem.points * o.case.weight / total if total else 0.0, named))
    # A problem whose calls all raised has no answer to show beside the expected one: the error says it all.
    answered = any(o.answered_wrong for o in [*outcomes, *explored])
    smallest = None
    if answered:
        pool = [*probed, *_judged(problem, fresh, run, False), *explored]
        smallest = minimal_case(problem, pool, diagnosis.id if diagnosis else None)
    return ProblemReport(
        id=problem.id,
        title=problem.title,
        section=problem.section,
        score=score,
        max_score=problem.points,
        tol=problem.tol,
        cases=reports,
        diagnosis=diagnosis,
        minimal_case=None if run.import_error else smallest,
    )


def _judged(problem: Problem, cases: Sequence[Case], run: RunResult, diagnose: bool = True) -> list[Outcome]:
    """The unscored cases of this problem that ran."""
    ran = [c for c in cases if c.id in run.calls and problem.id in c.expected]
    return [judge(problem, c, run.calls[c.id], diagnose=diagnose) for c in ran]


def _with_points(report: CaseReport, worth: float, update: dict | None = None) -> CaseReport:
    worth = round(worth, 6)
    points = {"max_points": worth, "points": worth if report.status == "passed" else 0.0}
    return report.model_copy(update={**(update or {}), **points})


def build_report(
    *,
    spec: Spec,
    cases: list[Case],
    run: RunResult,
    submission_sha256: str,
    student_id: str | None,
    mode: str,
    started: dt.datetime,
    probes: Sequence[Case] = (),
    fresh: Sequence[Case] = (),
    explore: Sequence[Case] = (),
    explore_seed: int | None = None,
    submission_notes: Sequence[str] = (),
) -> Report:
    """The report of a run: `cases` are scored; the unscored `probes` help name mistakes, and they, the
    `fresh` inputs (shrink candidates) and the `explore` cases are where minimal failing cases come from.
    Explore cases (check --explore, drawn from `explore_seed`) are counted per problem, never scored."""

    def of(layer: str, some: Sequence[Case]) -> list[Case]:
        return [c for c in some if c.layer == layer]

    explored = {p.id: _judged(p, of(p.layer, explore), run, False) for p in spec.problems}
    problems = [
        score_problem(p, of(p.layer, cases), run, of(p.layer, probes), of(p.layer, fresh), explored[p.id])
        for p in spec.problems
    ]
    summary = None
    if explore_seed is not None:
        counts = [ExploreProblem(id=k, ran=len(v), failed=sum(o.failed for o in v)) for k, v in explored.items()]
        summary = Explore(seed=explore_seed, requested=len(explore), problems=counts)
    return Report(
        grader_version=__version__,
        assignment=spec.assignment,
        student_id=student_id,
        submission_sha256=submission_sha256,
        submission_notes=list(submission_notes),
        spec_sha256=spec.sha256,
        mode=mode,
        sandbox=Sandbox(backend=run.backend, isolated=run.isolated, note=run.note),
        score=round(sum(p.score for p in problems), 6),
        max_score=sum(p.max_score for p in problems),
        error=run.import_error,
        error_note=missing_module_note(run.import_error),
        errors=[] if run.import_error else call_errors(problems),
        problems=problems,
        output=Output(text=run.output, truncated=run.output_truncated, bytes=run.output_bytes),
        explore=summary,
        timing=Timing(started=started.isoformat(timespec="seconds"), seconds=round(run.seconds, 3)),
    )
