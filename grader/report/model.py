"""The versioned report: everything a grade says, in one validated model that every renderer reads."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

SCHEMA_VERSION = 4  # 2: per-case error renamed relative_error; minimal_case, explore, shapes, points
# 3: errors (each distinct error once), error_note, diagnosis.raised, submission_notes
# 4: the service's calendar: late, lateness_seconds, raw_score, penalty; withheld
Status = Literal["passed", "failed", "error", "timeout", "crashed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Worst(_Model):
    index: list[int] = Field(description="Index of the largest absolute difference.")
    got: float = Field(description="The student's value there.")
    expected: float = Field(description="The expected value there.")


class CaseReport(_Model):
    id: str = Field(description="Case id, e.g. conv-p03 (public) or conv-h07 (hidden).")
    hidden: bool = Field(description="Hidden cases never show expected values.")
    tags: list[str] = Field(description="What the case exercises, e.g. nonsquare, large-logits.")
    shapes: dict[str, list[int]] = Field(default_factory=dict, description="Shape of each array input, by name.")
    status: Status = Field(description="How the case ended.")
    weight: float = Field(description="Weight in the problem's partial credit.")
    points: float = Field(0.0, description="Points this case earned: max_points if it passed, else 0.")
    max_points: float = Field(0.0, description="Points this case is worth: the problem's points x its share of weight.")
    relative_error: float | None = Field(None, description="The comparison metric, when values were compared.")
    message: str = Field("", description="Why it did not pass, in plain words.")
    notes: list[str] = Field(default_factory=list, description="Things accepted with a remark.")
    mistake: str | None = Field(None, description="Id of the known mistake this answer matches.")
    worst: Worst | None = Field(None, description="Largest difference, for failing public cases only.")
    seconds: float | None = Field(None, description="Time of the call inside the sandbox.")


class Diagnosis(_Model):
    id: str = Field(description="Mistake id from the catalogue.")
    message: str = Field(description="What the student did, in words they can act on.")
    section: str = Field(description="Part of the assignment to reread.")
    explains: int = Field(0, description="How many of the problem's failing cases this mistake explains.")
    failing: int = Field(
        0, description="How many of the problem's cases fail with an answer; explains is more than half of it."
    )
    raised: int = Field(0, description="Failing cases that returned no answer (errors, timeouts): never explained.")


class MinimalCase(_Model):
    """The smallest fresh input found that fails, in full: never a graded case, so it reveals no hidden one."""

    call: str = Field(description="The student function, e.g. conv_backward(x, w, dy).")
    inputs: dict[str, Any] = Field(description="Each argument: nested lists of numbers, or an int.")
    shapes: dict[str, list[int]] = Field(description="Shape of each array argument.")
    got: Any = Field(None, description="What the function returned for this problem (nested lists); null if nothing.")
    got_shape: list[int] | None = Field(None, description="Shape of what it returned, when it returned an array.")
    expected: Any = Field(description="The right answer (nested lists).")
    expected_shape: list[int] = Field(description="Shape of the right answer.")
    message: str = Field(description="Why it fails, in plain words.")
    source: Literal["probe", "shrink", "explore"] = Field(description="Which unscored inputs it came from.")

    @field_serializer("inputs", "got", "expected", when_used="json")
    def _nonfinite_as_text(self, value: Any) -> Any:
        # JSON has no NaN or infinity (pydantic would write null, and a stored report would lose them): write the
        # spelling float() and JavaScript's Number() read back. A student's wrong answer often holds them.
        return _json_numbers(value)


def _json_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_numbers(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return value


class ProblemReport(_Model):
    id: str = Field(description="Problem id: conv.dx, conv.dw, fc.dx, fc.dW or softmax.ds.")
    title: str = Field(description="One-line title.")
    section: str = Field(description="Part of the written assignment.")
    score: float = Field(description="Points earned.")
    max_score: float = Field(description="Points available.")
    tol: float = Field(description="Tolerance of the comparison metric.")
    cases: list[CaseReport] = Field(description="Every case, public first.")
    diagnosis: Diagnosis | None = Field(None, description="The mistake behind the failures, when recognised.")
    minimal_case: MinimalCase | None = Field(None, description="The smallest failing input found, when it fails.")


class CallError(_Model):
    """One distinct error the graded calls raised (or a call that gave no answer), told once with what it cost."""

    function: str = Field(description="The student function whose calls it ended, e.g. fc_backward.")
    summary: str = Field(
        description="What and where, e.g. NameError in fc_backward, line 12: name 'xx' is not defined."
    )
    traceback: str = Field("", description="The submission's own frames, innermost last; empty if none.")
    note: str = Field("", description="What to do about it, when the grader knows (e.g. which modules there are).")
    cases: list[str] = Field(description="Ids of the graded cases whose call it ended.")
    of: int = Field(description="How many graded cases that function has.")
    problems: list[str] = Field(description="Problems whose cases it cost.")


class Sandbox(_Model):
    backend: Literal["process", "docker", "bwrap"] = Field(description="Where the student code ran.")
    isolated: bool = Field(description="False for the process backend: not for untrusted code.")
    note: str = Field(description="What the isolation does and does not cover.")


class Output(_Model):
    text: str = Field(description="The submission's stdout and stderr, head and tail kept.")
    truncated: bool = Field(description="Whether the middle was cut.")
    bytes: int = Field(0, description="Everything the submission printed, kept or not; output never costs points.")


class ExploreProblem(_Model):
    id: str = Field(description="Problem id.")
    ran: int = Field(description="Random cases of this problem that ran.")
    failed: int = Field(description="How many of them did not pass.")


class Explore(_Model):
    """check --explore: random cases of varied shapes, judged against the forward pass, never scored."""

    seed: int = Field(description="Seed of the random cases: the same seed and count give the same cases.")
    requested: int = Field(description="How many random cases were asked for.")
    problems: list[ExploreProblem] = Field(description="Per problem, how many ran and how many failed.")


class Timing(_Model):
    started: str = Field(description="UTC start time, ISO 8601.")
    seconds: float = Field(description="Wall time of the whole grade.")


class Report(_Model):
    schema_version: int = Field(SCHEMA_VERSION, description="Version of this report layout.")
    grader_version: str = Field(description="pa5-grader version that wrote the report.")
    assignment: str = Field(description="Assignment id from the spec.")
    student_id: str | None = Field(None, description="Student id (instructor grading) or null (self-test).")
    submission_sha256: str = Field(description="Digest of the submission's files.")
    submission_notes: list[str] = Field(
        default_factory=list, description="How the submission was read: where backprop.py was found, a notebook."
    )
    spec_sha256: str = Field(description="Digest of the spec it was graded under.")
    mode: Literal["check", "grade"] = Field(description="check: public cases only; grade: public and hidden.")
    sandbox: Sandbox
    score: float = Field(description="Sum of the problem scores, less the late penalty when one applies.")
    max_score: float = Field(description="Sum of the problems' points.")
    raw_score: float | None = Field(None, description="The score before the late penalty (service reports only).")
    penalty: float | None = Field(None, description="Points the late policy took (service reports only).")
    late: bool | None = Field(None, description="Whether it was accepted after the due date (service reports only).")
    lateness_seconds: int | None = Field(None, description="Seconds after the due date it was accepted; 0 on time.")
    withheld: str | None = Field(
        None, description="What this view of the report leaves out and when it comes (hidden results not yet out)."
    )
    error: str | None = Field(None, description="A failure that cost the whole submission, e.g. at import.")
    error_note: str = Field("", description="What to do about `error`, when the grader knows.")
    errors: list[CallError] = Field(
        default_factory=list, description="Each distinct error of the graded calls, once: their cases fail."
    )
    problems: list[ProblemReport]
    output: Output
    explore: Explore | None = Field(None, description="Random gradient checks (check --explore), if asked for.")
    timing: Timing

    @property
    def passed(self) -> bool:
        return passes(self)


def passes(report) -> bool:
    """The pass rule of a report, or of a view of one: no error, every case and every random check passed."""
    explored = report.explore is None or all(p.failed == 0 for p in report.explore.problems)
    return report.error is None and explored and all(c.status == "passed" for p in report.problems for c in p.cases)
