"""What a student may see of their own report: typed views listing those fields, for the API and the pages alike.

Each view is built from the report by its own field names (pydantic's from_attributes): a field the report gains or
renames is not in any view until someone adds it here, so nothing reaches a student by default.

Hidden cases, by the calendar's release and the spec's hidden_visibility:
- not released: not in the view at all (withhold.public_only): public cases, their score and a notice of when;
- released, spec "hidden": each hidden case's status and points, no details (WithheldCase);
- released otherwise: in full (they never carry expected values or the worst element).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.report.model import CallError, CaseReport, ProblemReport, Report, Status, passes
from grader.service.web.withhold import public_only
from grader.spec import Spec


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True, frozen=True)


class WorstView(_View):
    index: list[int] = Field(description="Index of the largest absolute difference.")
    got: float = Field(description="The student's value there.")
    expected: float = Field(description="The expected value there.")


class CaseView(_View):
    """A case in full: every public case, and hidden ones once their results are released."""

    id: str = Field(description="Case id.")
    hidden: bool = Field(description="Whether it is one of the student's hidden cases.")
    tags: list[str] = Field(description="What the case exercises.")
    shapes: dict[str, list[int]] = Field(description="Shape of each array input, by name.")
    status: Status = Field(description="How the case ended.")
    weight: float = Field(description="Weight in the problem's partial credit.")
    points: float = Field(description="Points this case earned.")
    max_points: float = Field(description="Points this case is worth.")
    relative_error: float | None = Field(description="The comparison metric, when values were compared.")
    message: str = Field(description="Why it did not pass.")
    notes: list[str] = Field(description="Things accepted with a remark.")
    mistake: str | None = Field(description="Id of the known mistake this answer matches.")
    worst: WorstView | None = Field(description="Largest difference (public cases only: hidden ones have none).")
    seconds: float | None = Field(description="Time of the call inside the sandbox.")


class WithheldCase(_View):
    """A hidden case before its results are released: that it exists, how it ended and its points, nothing else."""

    id: str = Field(description="Case id.")
    hidden: Literal[True] = Field(description="Only hidden cases are withheld.")
    status: Status = Field(description="How the case ended (the score implies it).")
    weight: float = Field(description="Weight in the problem's partial credit.")
    points: float = Field(description="Points this case earned.")
    max_points: float = Field(description="Points this case is worth.")
    withheld: Literal[True] = Field(True, description="Its details are not shown until hidden results are released.")


class DiagnosisView(_View):
    id: str = Field(description="Mistake id from the catalogue.")
    message: str = Field(description="What the student did, in words they can act on.")
    section: str = Field(description="Part of the assignment to reread.")
    explains: int = Field(description="How many of the problem's failing cases this mistake explains.")
    failing: int = Field(description="How many of the problem's cases fail with an answer.")
    raised: int = Field(description="Failing cases that returned no answer (errors, timeouts): never explained.")


class MinimalCaseView(_View):
    """Fresh inputs, never a graded case: safe to show in full."""

    call: str = Field(description="The student function.")
    inputs: dict[str, Any] = Field(description="Each argument.")
    shapes: dict[str, list[int]] = Field(description="Shape of each array argument.")
    got: Any = Field(description="What the function returned; null if nothing.")
    got_shape: list[int] | None = Field(description="Shape of what it returned.")
    expected: Any = Field(description="The right answer.")
    expected_shape: list[int] = Field(description="Shape of the right answer.")
    message: str = Field(description="Why it fails.")
    source: Literal["probe", "shrink", "explore"] = Field(description="Which unscored inputs it came from.")


class ProblemView(_View):
    id: str = Field(description="Problem id.")
    title: str = Field(description="One-line title.")
    section: str = Field(description="Part of the written assignment.")
    score: float = Field(description="Points earned.")
    max_score: float = Field(description="Points available.")
    tol: float = Field(description="Tolerance of the comparison metric.")
    cases: list[CaseView | WithheldCase] = Field(description="Every case, public first; hidden ones maybe withheld.")
    diagnosis: DiagnosisView | None = Field(description="The mistake behind the failures, when recognised.")
    minimal_case: MinimalCaseView | None = Field(description="The smallest failing input found.")


class ErrorView(_View):
    """One distinct error of the graded calls, told once; an error only hidden cases raised is withheld (its text
    could show their inputs) until their results are released."""

    function: str = Field(description="The student function whose calls it ended.")
    summary: str = Field(description="What and where, or that it is withheld.")
    traceback: str = Field(description="The submission's own frames; empty while withheld.")
    note: str = Field(description="What to do about it, when the grader knows.")
    cases: list[str] = Field(description="Ids of the graded cases whose call it ended.")
    of: int = Field(description="How many graded cases that function has.")
    problems: list[str] = Field(description="Problems whose cases it cost.")


WITHHELD_ERROR = "an error in hidden cases only: its details are withheld until results are released"


class SandboxView(_View):
    backend: Literal["process", "docker", "bwrap"] = Field(description="Where the code ran.")
    isolated: bool = Field(description="False for the process backend.")
    note: str = Field(description="What the isolation does and does not cover.")


class OutputView(_View):
    text: str = Field(description="The submission's stdout and stderr, head and tail kept.")
    truncated: bool = Field(description="Whether the middle was cut.")
    bytes: int = Field(description="Everything the submission printed.")


class ExploreProblemView(_View):
    id: str = Field(description="Problem id.")
    ran: int = Field(description="Random cases that ran.")
    failed: int = Field(description="How many of them did not pass.")


class ExploreView(_View):
    seed: int = Field(description="Seed of the random cases.")
    requested: int = Field(description="How many random cases were asked for.")
    problems: list[ExploreProblemView] = Field(description="Per problem, how many ran and failed.")


class TimingView(_View):
    started: str = Field(description="UTC start time, ISO 8601.")
    seconds: float = Field(description="Wall time of the whole grade.")


class StudentReport(_View):
    """A report as its student sees it: what the API answers a student, and what their pages render."""

    schema_version: int = Field(description="Version of the report layout it was built from.")
    grader_version: str = Field(description="pa5-grader version that wrote the report.")
    assignment: str = Field(description="Assignment id.")
    student_id: str | None = Field(description="Student id.")
    submission_sha256: str = Field(description="Digest of the submission's files.")
    submission_notes: list[str] = Field(description="How the submission was read (where backprop.py was found).")
    spec_sha256: str = Field(description="Digest of the spec it was graded under.")
    mode: Literal["check", "grade"] = Field(description="check: public cases only; grade: public and hidden.")
    sandbox: SandboxView
    score: float = Field(description="Sum of the problem scores shown, less the late penalty.")
    max_score: float = Field(description="Sum of the points shown.")
    raw_score: float | None = Field(description="The score shown before the late penalty.")
    penalty: float | None = Field(description="Points the late policy took from the score shown.")
    late: bool | None = Field(description="Whether it was accepted after the student's due date.")
    lateness_seconds: int | None = Field(description="Seconds after the due date; 0 on time.")
    withheld: str | None = Field(description="What is left out of this view and when it comes.")
    error: str | None = Field(description="A failure that cost the whole submission.")
    error_note: str = Field(description="What to do about `error`, when the grader knows.")
    errors: list[ErrorView] = Field(description="Each distinct error of the graded calls, once.")
    problems: list[ProblemView]
    output: OutputView
    explore: ExploreView | None = Field(description="Random gradient checks, if asked for.")
    timing: TimingView

    @property
    def passed(self) -> bool:
        return passes(self)


def details_allowed(spec: Spec) -> bool:
    """Whether, once released, hidden cases are shown in full (the spec's hidden_visibility is not "hidden")."""
    return spec.hidden_visibility != "hidden"


def _case(c: CaseReport, *, details: bool) -> CaseView | WithheldCase:
    return WithheldCase.model_validate(c) if c.hidden and not details else CaseView.model_validate(c)


def _problem(p: ProblemReport, *, details: bool) -> ProblemView:
    fields = {name: getattr(p, name) for name in ProblemView.model_fields if name != "cases"}
    return ProblemView.model_validate({**fields, "cases": [_case(c, details=details) for c in p.cases]})


def _error(e: CallError, *, public: set[str], details: bool) -> ErrorView:
    if details or public & set(e.cases):  # an error a public case raised is told in that case's words anyway
        return ErrorView.model_validate(e)
    return ErrorView.model_validate(e.model_copy(update={"summary": WITHHELD_ERROR, "traceback": "", "note": ""}))


def student_view(report: Report, *, released: bool, details: bool = True, when: str = "") -> StudentReport:
    """The report as its student sees it. `released`: the calendar has released hidden results to this student
    (else `when` says when they come); `details`: details_allowed(spec)."""
    if not released:
        report = public_only(report, when or "when the instructor releases them")
    skip = ("problems", "errors")
    fields = {name: getattr(report, name) for name in StudentReport.model_fields if name not in skip}
    problems = [_problem(p, details=details) for p in report.problems]
    public = {c.id for p in report.problems for c in p.cases if not c.hidden}
    errors = [_error(e, public=public, details=details) for e in report.errors]
    return StudentReport.model_validate({**fields, "problems": problems, "errors": errors})


def as_report(view: StudentReport) -> Report:
    """The view as a Report, for the renderers (text, JUnit, Gradescope): built from the view, so it holds nothing
    the view does not; a withheld case becomes a case with no details."""
    data = view.model_dump()
    for p in data["problems"]:
        p["cases"] = [
            {k: v for k, v in c.items() if k != "withheld"} | {"tags": []} if c.get("withheld") else c
            for c in p["cases"]
        ]
    return Report.model_validate(data)
