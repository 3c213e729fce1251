"""The class summary: one typed model built from the students' reports, read by the CSV renderer and the service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from pydantic import BaseModel, ConfigDict, Field

from grader.report.model import Report

BINS = 10
TOP_MISTAKES = 10


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Distribution(_Model):
    max_score: float = Field(description="Points available.")
    mean: float | None = Field(description="Mean score, rounded to 3 places; null when nobody was graded.")
    median: float | None = Field(description="Median score, rounded to 3 places; null when nobody was graded.")
    full: int = Field(description="Students with every point.")
    partial: int = Field(description="Students with some but not all points.")
    zero: int = Field(description="Students with no point.")
    histogram: list[int] = Field(
        description=f"Students per score bin: {BINS} equal bins of max_score, the last one closed (includes full)."
    )


class Mistake(_Model):
    problem: str = Field(description="Problem id, e.g. conv.dx.")
    mistake: str = Field(description="Mistake id from the catalogue.")
    students: int = Field(description="Students whose diagnosis for this problem is this mistake.")
    message: str = Field(description="The mistake in words, from the catalogue.")


class StudentRow(_Model):
    student_id: str = Field(description="Student id; empty for a self-test report.")
    score: float = Field(description="Total score.")
    max_score: float = Field(description="Total points available.")
    problems: dict[str, float] = Field(description="Score per problem id.")
    diagnoses: dict[str, str] = Field(description="Mistake id per problem id, where one was recognised.")
    error: str | None = Field(description="A failure that cost the whole submission, e.g. at import.")
    submission_sha256: str = Field(description="Digest of the submission's files.")


class ClassSummary(_Model):
    students: int = Field(description="Number of reports summarised.")
    could_not_run: int = Field(description="Reports whose whole submission failed (error set).")
    score: Distribution = Field(description="Distribution of the total score.")
    problems: dict[str, Distribution] = Field(description="Distribution of each problem's score, in problem order.")
    common_mistakes: list[Mistake] = Field(description=f"The {TOP_MISTAKES} most common diagnoses, most common first.")
    rows: list[StudentRow] = Field(description="One row per report, in the order given.")


def summarize(
    reports: Iterable[Report],
    *,
    points: dict[str, float] | None = None,
    words: Callable[[str], str | None] = lambda mistake_id: None,
) -> ClassSummary:
    """Summarise reports (one per student). `points` (problem id -> points, e.g. from the spec) fixes the
    problems and their order even when no report lists them; without it they come from the reports. `words`
    gives a mistake's wording without one student's values (scoring.catalogue.generic_words); without it, or
    for a mistake it does not know, the first report's words are used."""
    points = dict(points or {})
    rows: list[StudentRow] = []
    could_not_run = 0
    mistakes: Counter[tuple[str, str]] = Counter()
    messages: dict[str, str] = {}
    for r in reports:  # one pass, one report at a time: a class of 1,000 never sits in memory at once
        rows.append(_row(r))
        could_not_run += r.error is not None
        for p in r.problems:
            points.setdefault(p.id, p.max_score)
            if p.diagnosis:
                mistakes[(p.id, p.diagnosis.id)] += 1
                messages.setdefault(p.diagnosis.id, words(p.diagnosis.id) or p.diagnosis.message)
    return ClassSummary(
        students=len(rows),
        could_not_run=could_not_run,
        score=_distribution([row.score for row in rows], sum(points.values())),
        problems={
            pid: _distribution([row.problems[pid] for row in rows if pid in row.problems], pts)
            for pid, pts in points.items()
        },
        common_mistakes=[
            Mistake(problem=pid, mistake=mid, students=k, message=messages[mid])
            for (pid, mid), k in mistakes.most_common(TOP_MISTAKES)
        ],
        rows=rows,
    )


def _row(r: Report) -> StudentRow:
    return StudentRow(
        student_id=r.student_id or "",
        score=r.score,
        max_score=r.max_score,
        problems={p.id: p.score for p in r.problems},
        diagnoses={p.id: p.diagnosis.id for p in r.problems if p.diagnosis},
        error=r.error,
        submission_sha256=r.submission_sha256,
    )


def _distribution(values: list[float], points: float) -> Distribution:
    histogram = [0] * BINS
    for v in values:
        # the last bin is closed so a full score lands in it; scores outside [0, points] are clamped
        i = int(v / points * BINS) if points > 0 else 0
        histogram[min(max(i, 0), BINS - 1)] += 1
    if not values:
        return Distribution(max_score=points, mean=None, median=None, full=0, partial=0, zero=0, histogram=histogram)
    s = sorted(values)
    mid = len(s) // 2
    median = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    return Distribution(
        max_score=points,
        mean=round(sum(s) / len(s), 3),
        median=round(median, 3),
        full=sum(v >= points for v in s),
        partial=sum(0 < v < points for v in s),
        zero=sum(v <= 0 for v in s),
        histogram=histogram,
    )
