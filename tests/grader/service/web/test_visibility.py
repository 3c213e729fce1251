"""Hidden results stay hidden: a hidden case with every field of the case model filled reaches its student only as
the few fields a student may see, in the API's JSON, every report format and the page."""

import itertools
import json
import types
import typing

import pytest
from pydantic import BaseModel

from grader.report.model import CaseReport
from grader.service.web.visibility import as_report, details_allowed, student_view
from grader.spec import default_spec
from tests.grader.service.sample import make_report
from tests.grader.service.web.test_pages import browser, finish, site, upload  # noqa: F401 - fixtures

# What a student may see of a hidden case before its results are released, written out by hand.
ALLOWED = {"id", "hidden", "status", "weight", "points", "max_points"}
_numbers = itertools.count(86531)


def filled(model: type[BaseModel], name: str = "") -> BaseModel:
    """An instance of `model` with every field set to a value of its own that no page would print by chance."""
    return model(**{f: _value(info.annotation, f"{name}{f}") for f, info in model.model_fields.items()})


def _value(tp, name: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in args if a is not type(None)), name)
    if origin is typing.Literal:
        return next((a for a in args if a != "passed"), args[0])
    if origin is list:
        return [_value(args[0], name)]
    if origin is dict:
        return {_value(args[0], name + "key"): _value(args[1], name)}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return filled(tp, name)
    if tp is bool:
        return True
    if tp is int:
        return next(_numbers)
    if tp is float:
        return next(_numbers) + 0.5  # printed the same way by every renderer and page filter
    return f"LEAK{name}"  # str and Any


def markers(value) -> set[str]:
    """The leaf values of a filled field, as they would appear in any text."""
    if isinstance(value, BaseModel):
        return set().union(*(markers(getattr(value, f)) for f in type(value).model_fields))
    if isinstance(value, dict):
        return set().union(*(markers(k) | markers(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(markers(v) for v in value))
    return set() if isinstance(value, bool) else {str(value)}


@pytest.fixture
def secret_case() -> CaseReport:
    case = filled(CaseReport)
    return case.model_copy(update={"id": "conv-h07", "hidden": True, "status": "failed"})


def report_with(case: CaseReport):
    report = make_report("alice", total=0)
    report.problems[0].cases.append(case)
    return report


def withheld_markers(case: CaseReport) -> dict[str, set[str]]:
    hidden = {f: markers(getattr(case, f)) for f in CaseReport.model_fields if f not in ALLOWED}
    assert all(hidden.values()), "every withheld field must carry a value a test can look for"
    return hidden


def all_markers(case: CaseReport) -> dict[str, set[str]]:
    """Every field's values, the id, status and points included: before release none may reach the student."""
    values = {f: markers(getattr(case, f)) for f in CaseReport.model_fields if f not in ("hidden", "weight")}
    values["status"] = {case.status}
    return values


def test_before_release_a_hidden_case_is_not_in_the_student_view_at_all(secret_case):
    report = report_with(secret_case)
    view = student_view(report, released=False, when="after your due date, 2026-12-10T23:59:00+00:00")
    text = view.model_dump_json()
    assert [c.id for p in view.problems for c in p.cases] == [
        c.id for p in report.problems for c in p.cases if not c.hidden
    ]
    for field, values in all_markers(secret_case).items():
        assert not any(v in text for v in values if v not in ("failed",)), field
    public = sum(c.max_points for p in report.problems for c in p.cases if not c.hidden)
    assert view.max_score == public and view.score == 0  # no total that includes the hidden case
    assert "after your due date, 2026-12-10" in view.withheld
    assert view.output.text == "" and view.output.bytes == 0  # what the code printed includes its hidden calls


def test_released_under_a_hidden_spec_a_hidden_case_shows_only_status_and_points(secret_case):
    view = student_view(report_with(secret_case), released=True, details=False)
    data = view.model_dump(mode="json")
    case = next(c for c in data["problems"][0]["cases"] if c["id"] == "conv-h07")
    assert set(case) - {"withheld"} <= ALLOWED and case["withheld"] is True
    text = json.dumps(data)
    for field, values in withheld_markers(secret_case).items():
        assert not any(v in text for v in values), field
    assert view.passed is False and view.score == 0


def test_released_hidden_results_are_shown_in_full_and_public_cases_always(secret_case):
    report = report_with(secret_case)
    assert as_report(student_view(report, released=True)) == report
    public = student_view(report, released=False).problems[0].cases[0]
    assert public.model_dump() == report.problems[0].cases[0].model_dump()


def test_details_follow_the_spec_once_released():
    for visibility, allowed in [("visible", True), ("after_due_date", True), ("hidden", False)]:
        spec = default_spec().model_copy(update={"hidden_visibility": visibility})
        assert details_allowed(spec) is allowed


def test_no_hidden_case_reaches_the_student_before_release_through_the_api_or_the_page(
    site,  # noqa: F811
    browser,  # noqa: F811
    secret_case,
):
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    sid = finish(site, report_with(secret_case))
    api = b.get(f"/api/submissions/{sid}")
    assert "conv-h07" not in api.text and api.json()["report"]["withheld"]
    shown = {"api": api.text, "list": b.get("/api/submissions").text, "page": b.get(f"/submissions/{sid}").text}
    shown["history"] = b.get(f"/api/submissions/{sid}/reports").text
    for fmt in ("json", "text", "junit", "gradescope"):
        shown[fmt] = b.get(f"/api/submissions/{sid}/report", params={"format": fmt}).text
    for field, values in all_markers(secret_case).items():
        for where, text in shown.items():
            assert not any(v in text for v in values if v != "failed"), f"{field} reached the student in {where}"
    instructor = browser()
    instructor.sign_in(site.instructor)
    full = instructor.get(f"/api/submissions/{sid}").text
    assert all(any(v in full for v in values) for values in withheld_markers(secret_case).values())
