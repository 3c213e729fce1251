"""The report page tells each error once, as the text report does; a student never sees a hidden case's error text."""

import datetime as dt

from grader.report.render import render
from grader.results import CallResult, RunResult
from grader.scoring.score import build_report
from grader.service.web.visibility import WITHHELD_ERROR as WITHHELD
from grader.service.web.visibility import as_report, student_view
from grader.workflows.grade import check
from tests.grader.report.test_errors_told_once import FRAME, NAME_ERROR, TORCH
from tests.grader.service.web.test_pages import Tags, browser, finish, site, upload

__all__ = ["browser", "site"]  # the pages' fixtures, used here too


def _report(tmp_path, spec, backend, source):
    (tmp_path / "backprop.py").write_text(source)
    return check(submission=tmp_path, spec=spec, backend=backend)


def test_the_page_shows_an_error_once_and_nothing_to_diagnose(site, browser, tmp_path, spec, process_backend):
    report = _report(tmp_path, spec, process_backend, NAME_ERROR)
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    page = b.get(f"/submissions/{finish(site, report)}").text
    assert page.count(FRAME) == 1 == render(report, "text").count(FRAME)
    assert page.count("NameError in fc_backward") == 1 and "every fc case (6)" in page
    for words in ("No known mistake", "Smallest failing input", "Likely mistake"):
        assert words not in page
    assert page.count("No answer to judge") == 2  # fc.dx and fc.dW, once each


def test_an_import_error_is_told_once_not_under_a_green_done(site, browser, tmp_path, spec, process_backend):
    report = _report(tmp_path, spec, process_backend, TORCH)
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    page = b.get(f"/submissions/{finish(site, report)}").text
    assert page.count("import torch") == 1 and page.count("No module named") == 1
    assert "numpy, scipy and the Python standard library" in page
    badges = [dict(a).get("class", "") for t, a in Tags(page).tags if t == "span"]
    assert "badge done" not in badges and "badge error" in badges


def test_a_student_does_not_see_an_error_only_hidden_cases_raised(spec):
    cases = [c for c in _cases(spec)]
    calls = {}
    for c in cases:
        if c.layer == "fc" and c.hidden:
            calls[c.id] = CallResult(
                c.id, "error", 'ValueError: secret 4.2\n  File "backprop.py", line 3, in fc_backward\n'
            )
        else:
            outputs = dict(c.expected)
            calls[c.id] = CallResult(c.id, "ok", outputs=outputs)
    run = RunResult(calls, None, "", False, "process", False, "test", 0.0)
    report = build_report(
        spec=spec, cases=cases, run=run, submission_sha256="0" * 64, student_id="s", mode="grade",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    )  # fmt: skip
    (e,) = report.errors
    assert "secret 4.2" in e.summary
    before = student_view(report, released=False)  # not even that there was an error
    assert before.errors == [] and "secret" not in before.model_dump_json()
    seen = student_view(report, released=True, details=False)
    assert seen.errors[0].summary == WITHHELD and not seen.errors[0].traceback
    assert "secret" not in render(as_report(seen), "text") and "secret" not in seen.model_dump_json()
    released = student_view(report, released=True)
    assert [e.model_dump() for e in released.errors] == [e.model_dump() for e in report.errors]


def _cases(spec):
    from grader.workflows.grade import grading_cases

    return grading_cases(spec=spec, secret=b"s", student_id="s")
