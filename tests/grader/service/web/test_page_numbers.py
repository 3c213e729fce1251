"""NaN and infinities, which a wrong answer often holds, show on the pages as nan, inf and -inf, never as null."""

import json
import math
import re

from grader.report.model import MinimalCase, Worst
from grader.service.web.page_format import num, pretty, pts
from tests.grader.service.sample import make_report
from tests.grader.service.web import test_pages
from tests.grader.service.web.test_pages import finish, upload

site, browser = test_pages.site, test_pages.browser  # the fixtures
NAN, INF = math.nan, math.inf


def with_nonfinite(report, *, worst: bool):
    """conv.dx's minimal case returned NaN, inf and -inf; with `worst`, its public case's worst element is NaN."""
    mc = MinimalCase(
        call="conv_backward(x, w, dy)",
        inputs={"x": [[1.0, -2.0]], "w": [[3.0]], "dy": [[0.5, 1.5]]},
        shapes={"x": [1, 2], "w": [1, 1], "dy": [1, 2]},
        got=[[NAN, INF, -INF, 0.25]],
        got_shape=[1, 4],
        expected=[[1.0, 2.0, 3.0, 4.0]],
        expected_shape=[1, 4],
        message="dx has NaN at index [0, 0] (1 non-finite values in all)",
        source="shrink",
    )
    bad = Worst(index=[0, 1], got=NAN, expected=-INF)
    problems = []
    for p in report.problems:
        if p.id == "conv.dx":
            cases = [c.model_copy(update={"worst": bad}) if worst and not c.hidden else c for c in p.cases]
            p = p.model_copy(update={"minimal_case": mc, "cases": cases})
        problems.append(p)
    return report.model_copy(update={"problems": problems})


def test_the_filters_write_nan_and_the_infinities():
    assert [num(x) for x in (NAN, INF, -INF, 1.5)] == ["nan", "inf", "-inf", "1.5"]
    assert [pts(x) for x in (NAN, INF, -INF)] == ["nan", "inf", "-inf"]
    assert pretty([[NAN, INF], [-INF, 2.0]]) == "[[nan, inf],\n [-inf, 2]]"
    assert pretty([["NaN", "Infinity"], ["-Infinity", 2.0]]) == "[[nan, inf],\n [-inf, 2]]"  # as stored
    assert pretty([None, 1.0]) == "[nan, 1]"  # a report stored before they were kept: the null was one of them


def test_a_stored_report_with_nan_and_infinities_shows_them(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    sid = finish(site, with_nonfinite(make_report("alice", scores={"conv.dx": 0.0}), worst=False))
    page = b.get(f"/submissions/{sid}").text
    got = re.search(r'<div class="mc-field got">.*?<pre>(.*?)</pre>', page, re.S).group(1)
    assert got == "[[nan, inf, -inf, 0.25]]"
    assert "null" not in page
    twin = b.get(f"/api/submissions/{sid}")
    mc = next(p for p in json.loads(twin.text)["report"]["problems"] if p["id"] == "conv.dx")["minimal_case"]
    assert mc["got"] == [["NaN", "Infinity", "-Infinity", 0.25]]  # valid JSON, and float() reads each back
    text = b.get(f"/api/submissions/{sid}/report", params={"format": "text"}).text
    assert "[[nan, inf, -inf, 0.25]]" in text


def test_a_worst_element_that_is_nan_shows_as_nan():
    from grader.service.web.pages import templates
    from tests.grader.service.web.test_pages import _Request

    report = with_nonfinite(make_report("alice", scores={"conv.dx": 0.0}), worst=True)
    sub = {"id": 1, "student_id": "alice", "status": "done", "submitted_at": "2026-11-26T12:00:00+00:00"}
    html = templates.get_template("report.html").render(
        request=_Request(), principal=None, csrf_token="t", refresh=None, sub=sub, report=report, max_failures=3
    )
    assert "got <code>nan</code>, expected <code>-inf</code>" in html
    assert "null" not in html
