"""The class summary from hand-made reports, with expected numbers worked out by hand."""

import csv
import io

import pytest
from pydantic import ValidationError

from grader.report.model import Diagnosis, Output, ProblemReport, Report, Sandbox, Timing
from grader.report.render_csv import render_summary_csv
from grader.report.summary import ClassSummary, summarize
from grader.scoring.catalogue import generic_words

POINTS = {"conv.dx": 20.0, "fc.dx": 10.0}


def report(student, scores, diagnoses=None, error=None):
    diagnoses = diagnoses or {}
    problems = [
        ProblemReport(
            id=pid,
            title=pid,
            section="A.1",
            score=scores[pid],
            max_score=POINTS[pid],
            tol=1e-6,
            cases=[],
            diagnosis=Diagnosis(id=diagnoses[pid], message=f"{student}'s own words", section="A.1")
            if pid in diagnoses
            else None,
        )
        for pid in POINTS
    ]
    return Report(
        grader_version="0",
        assignment="pa5",
        student_id=student,
        submission_sha256=student * 4,
        spec_sha256="s",
        mode="grade",
        sandbox=Sandbox(backend="process", isolated=False, note=""),
        score=sum(scores.values()),
        max_score=30,
        error=error,
        problems=problems,
        output=Output(text="", truncated=False),
        timing=Timing(started="2026-01-01T00:00:00Z", seconds=1),
    )


@pytest.fixture
def klass():
    return [
        report("ann", {"conv.dx": 20, "fc.dx": 10}),
        report("bo", {"conv.dx": 5, "fc.dx": 10}, {"conv.dx": "conv.dx.unflipped"}),
        report("cy", {"conv.dx": 0, "fc.dx": 0}, {"conv.dx": "conv.dx.unflipped", "fc.dx": "fc.dx.no_transpose"}),
        report("di", {"conv.dx": 0, "fc.dx": 0}, error="importing backprop.py timed out after 2 s"),
    ]


def test_distributions_counts_and_rows(klass):
    s = summarize(klass)
    assert s.students == 4 and s.could_not_run == 1
    # totals 30, 15, 0, 0 of 30
    assert (s.score.max_score, s.score.mean, s.score.median) == (30, 11.25, 7.5)
    assert (s.score.full, s.score.partial, s.score.zero) == (1, 1, 2)
    assert s.score.histogram == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]  # 15/30 lands in bin 5; a full score in the last
    conv = s.problems["conv.dx"]  # 20, 5, 0, 0 of 20
    assert (conv.mean, conv.median, conv.full, conv.partial, conv.zero) == (6.25, 2.5, 1, 1, 2)
    assert conv.histogram == [2, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert list(s.problems) == ["conv.dx", "fc.dx"]
    assert [r.student_id for r in s.rows] == ["ann", "bo", "cy", "di"]
    assert s.rows[2].problems == {"conv.dx": 0, "fc.dx": 0}
    assert s.rows[2].diagnoses == {"conv.dx": "conv.dx.unflipped", "fc.dx": "fc.dx.no_transpose"}
    assert s.rows[3].error.startswith("importing")


def test_common_mistakes_most_common_first_in_catalogue_words(klass):
    mistakes = summarize(klass, words=generic_words).common_mistakes
    assert [(m.problem, m.mistake, m.students) for m in mistakes] == [
        ("conv.dx", "conv.dx.unflipped", 2),
        ("fc.dx", "fc.dx.no_transpose", 1),
    ]
    assert "without flipping" in mistakes[0].message and "own words" not in mistakes[0].message


def test_without_words_a_mistake_keeps_the_first_reports_message(klass):
    mistakes = summarize(klass).common_mistakes
    assert "own words" in mistakes[0].message


def test_empty_class_keeps_the_problems_it_is_told():
    s = summarize([], points=POINTS)
    assert s.students == 0 and s.score.mean is None and s.score.max_score == 30
    assert list(s.problems) == ["conv.dx", "fc.dx"] and s.problems["fc.dx"].histogram == [0] * 10
    assert s.rows == [] and s.common_mistakes == []


def test_round_trips_through_json_and_forbids_unknown_fields(klass):
    s = summarize(klass)
    assert ClassSummary.model_validate_json(s.model_dump_json()) == s
    with pytest.raises(ValidationError):
        ClassSummary.model_validate({**s.model_dump(), "surprise": 1})


def test_csv_renders_the_rows(klass):
    rows = list(csv.reader(io.StringIO(render_summary_csv(summarize(klass)))))
    assert len(rows) == 5
    header = rows[0]
    bo = dict(zip(header, rows[2], strict=True))
    assert (bo["student_id"], bo["score"], bo["max_score"], bo["conv.dx"], bo["fc.dx"]) == ("bo", "15", "30", "5", "10")
    assert bo["conv.dw"] == "" and bo["diagnoses"] == "conv.dx=conv.dx.unflipped"
    assert dict(zip(header, rows[3], strict=True))["diagnoses"] == "conv.dx=conv.dx.unflipped;fc.dx=fc.dx.no_transpose"
