"""Golden files for every renderer (rewrite with --update-golden), the schema file, and real parsers."""

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.report.model import Report
from grader.report.render import render
from grader.report.render_csv import render_csv

GOLDEN = Path(__file__).parent / "golden"
SCHEMA = Path(__file__).resolve().parents[3] / "grader" / "report" / "schema.json"


def check_golden(request, name, text):
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.write_text(text)
    assert path.exists(), f"no golden file {name}: run pytest --update-golden"
    assert text == path.read_text()


@pytest.mark.parametrize(
    "name,fmt,kwargs",
    [
        ("report.json", "json", {}),
        ("report.txt", "text", {}),
        ("report-color.txt", "text", {"color": True}),
        ("gradescope.json", "gradescope", {}),
        ("junit.xml", "junit", {}),
    ],
)
def test_golden(request, fixed_report, name, fmt, kwargs):
    check_golden(request, name, render(fixed_report, fmt, **kwargs))


def test_golden_gradescope_per_case(request, fixed_report):
    from grader.report.render_gradescope import render_gradescope

    check_golden(request, "gradescope-per-case.json", render_gradescope(fixed_report, per="case"))


def test_golden_csv(request, fixed_report):
    check_golden(request, "summary.csv", render_csv([fixed_report, fixed_report]))


def test_schema_file_matches_the_model(request):
    schema = json.dumps(Report.model_json_schema(), indent=2) + "\n"
    if request.config.getoption("--update-golden"):
        SCHEMA.write_text(schema)
    assert SCHEMA.read_text() == schema, "grader/report/schema.json is stale: run pytest --update-golden"


def test_json_round_trips(fixed_report):
    assert Report.model_validate_json(render(fixed_report, "json")) == fixed_report


def test_gradescope_follows_the_spec(fixed_report):
    data = json.loads(render(fixed_report, "gradescope"))
    assert set(data) == {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(100)
    for t in data["tests"]:
        assert set(t) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed")
        hidden = "(hidden cases)" in t["name"]
        assert t["visibility"] == ("after_due_date" if hidden else "visible")
        if hidden:
            assert "expected" not in t["output"]


def test_junit_parses_with_a_real_consumer(fixed_report, tmp_path):
    from junitparser import Error, Failure, JUnitXml

    path = tmp_path / "r.xml"
    path.write_text(render(fixed_report, "junit"))
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert [s.name for s in suites] == [p.id for p in fixed_report.problems]
    conv_dx = suites[0]
    assert conv_dx.tests == len(fixed_report.problems[0].cases)
    failures = [c for c in conv_dx if any(isinstance(r, Failure) for r in c.result)]
    assert failures and "flipping" in failures[0].result[0].message
    fc = next(s for s in suites if s.name == "fc.dx")
    assert any(isinstance(r, Error) for c in fc for r in c.result)
    props = {p.name: p.value for p in conv_dx.properties()}
    assert props["max_score"] == "20" and "diagnosis" in props


def test_csv_has_one_row_per_student(fixed_report):
    rows = list(csv.reader(io.StringIO(render_csv([fixed_report]))))
    assert rows[0][:3] == ["student_id", "score", "max_score"] and rows[1][0] == "alice"


def test_hidden_cases_never_show_expected_values(fixed_report):
    hidden = [c for p in fixed_report.problems for c in p.cases if c.hidden]
    assert hidden and all(c.worst is None for c in hidden)
    text = render(fixed_report, "text")
    for line in text.splitlines():
        if "(hidden" in line:
            assert "expected" not in line


def test_color_only_when_asked(fixed_report):
    assert "\033[" not in render(fixed_report, "text")
    assert "\033[" in render(fixed_report, "text", color=True)


def test_random_checks_show_their_seed_and_replay_in_every_renderer(fixed_report):
    from grader.report.model import Explore, ExploreProblem

    explore = Explore(
        seed=4242,
        requested=30,
        problems=[ExploreProblem(id=p.id, ran=6, failed=2 if p.id == "conv.dw" else 0) for p in fixed_report.problems],
    )
    report = fixed_report.model_copy(update={"explore": explore})
    assert not report.passed
    text = render(report, "text")
    assert (
        "random checks: 30 cases, seed 4242: failures in conv.dw 2 of 6; replay them with --explore 30 --seed 4242"
        in text
    )
    assert "FAIL  conv.dw" in text and "random checks: 2 failed" in text
    assert "seed 4242" in json.loads(render(report, "gradescope"))["output"]
    assert 'name="random_checks" value="2 of 6 failed (seed 4242)"' in render(report, "junit")
    assert Report.model_validate_json(render(report, "json")).explore == explore


def test_text_caps_each_output_line_and_the_output_shown(fixed_report):
    from grader.report.model import Output

    flood = "x" * (1 << 20) + "\n" + "".join(f"line {i}\n" for i in range(1000))
    report = fixed_report.model_copy(update={"output": Output(text=flood, truncated=True, bytes=50 << 20)})
    text = render(report, "text")
    shown = [line for line in text.splitlines() if line.startswith("  | ")]
    assert max(len(line) for line in shown) < 260 and len(shown) <= 41
    assert f"[... {(1 << 20) - 200} more characters]" in shown[0]
    assert "more line(s) not shown" in shown[-1]
    assert "printed 50.0 MiB" in text and "output never costs points" in text
    assert len(text) < len(render(fixed_report, "text")) + 10_000


def test_cases_carry_relative_error_and_the_schema_says_version_4(fixed_report):
    data = json.loads(render(fixed_report, "json"))
    assert data["schema_version"] == 4
    case = data["problems"][0]["cases"][0]
    assert "relative_error" in case and "error" not in case
    assert data["error"] is None  # the report's error is a message, and keeps its name


def test_points_are_rounded_one_way_in_every_human_readable_output_and_kept_whole_in_json(fixed_report):
    from grader.service.web.page_format import pts

    assert fixed_report.score == 55.555556
    assert "score 55.56 / 100" in render(fixed_report, "text")
    assert json.loads(render(fixed_report, "gradescope"))["output"].startswith("Score: 55.56 / 100")
    dx = ET.fromstring(render(fixed_report, "junit")).find("testsuite[@name='conv.dx']/properties")
    assert {p.get("name"): p.get("value") for p in dx}["score"] == "2.22"
    assert pts(fixed_report.score) == "55.56" and pts(20.0) == "20"
    assert json.loads(render(fixed_report, "json"))["score"] == 55.555556


def test_lateness_and_withholding_reach_every_format(fixed_report):
    """The service's calendar fields, written by hand here: 1 d 1 h 1 min 1 s late, 10 of 50 points taken."""
    late = fixed_report.model_copy(
        update={
            "score": 40.0,
            "raw_score": 50.0,
            "penalty": 10.0,
            "late": True,
            "lateness_seconds": 90061,
            "withheld": "Hidden cases: results come after your due date",
        }
    )
    text = render(late, "text")
    assert "Accepted 1 d 1 h 1 min after the due date: late penalty 10 of the raw score 50" in text
    assert "Hidden cases: results come after your due date" in text and "score 40 / 100" in text
    props = {p.get("name"): p.get("value") for p in ET.fromstring(render(late, "junit")).iter("property")}
    assert (props["late"], props["lateness_seconds"], props["raw_score"], props["penalty"]) == (
        "true",
        "90061",
        "50",
        "10",
    )
    gs = json.loads(render(late, "gradescope"))
    assert gs["score"] == 40.0 and "late penalty 10" in gs["output"] and "Hidden cases" in gs["output"]
    on_time = fixed_report.model_copy(
        update={"late": False, "lateness_seconds": 0, "raw_score": 55.555556, "penalty": 0.0}
    )
    assert "Accepted on time" in render(on_time, "text")
    assert "Accepted" not in render(fixed_report, "text")  # a CLI grade has no calendar
