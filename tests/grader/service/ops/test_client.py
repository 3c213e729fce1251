"""`pa5-grader submit` against a real service grading in the process sandbox: exit codes as `check`."""

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from grader.cli import cli
from tests.grader.service.live import EXAMPLES, release_hidden


def submit(service, student, path, *args, token=None):
    token = token or service.tokens[student]
    return CliRunner().invoke(
        cli, ["submit", str(path), "--server", service.url, "--token", token, *args], catch_exceptions=False
    )


def test_wait_exits_0_when_everything_passes(grading):
    r = submit(grading, "alice", EXAMPLES / "correct", "--wait")
    assert r.exit_code == 0, r.output
    assert "5 of 5 problems pass" in r.stdout
    # No calendar yet: hidden results are not released, so the score is the public cases' and says so.
    assert "on the public cases (hidden results are not released yet)" in r.stderr
    release_hidden(grading)
    r = submit(grading, "bob", EXAMPLES / "correct", "--wait")
    assert r.exit_code == 0 and "graded: 100 / 100\n" in r.stderr, r.output


def test_wait_exits_1_on_a_failing_submission_and_writes_junit(grading, tmp_path):
    out = tmp_path / "results.xml"
    r = submit(grading, "bob", EXAMPLES / "unflipped_kernel", "--wait", "--format", "junit", "--output", str(out))
    assert r.exit_code == 1, r.output
    assert out.read_text().startswith("<?xml") and "<failure" in out.read_text()


def test_a_single_py_file_and_json_to_stdout(grading):
    r = submit(grading, "carol", EXAMPLES / "naive_softmax" / "backprop.py", "--wait", "--format", "json")
    report = json.loads(r.stdout)
    assert report["student_id"] == "carol" and report["mode"] == "grade"
    assert r.exit_code == (0 if report["score"] == report["max_score"] else 1)


def test_errors_exit_2(grading, tmp_path):
    r = submit(grading, "alice", EXAMPLES / "correct", token="wrong")
    assert r.exit_code == 2 and "401" in r.output
    r = submit(grading, "alice", tmp_path / "missing")
    assert r.exit_code == 2 and "does not exist" in r.output
    assert submit(grading, "dave", EXAMPLES / "correct").exit_code == 0  # no --wait: queued is success
    r = submit(grading, "dave", EXAMPLES / "correct")
    assert r.exit_code == 2 and "429" in r.output and "Retry-After" in r.output


def test_wait_gives_up_with_2_when_nobody_grades(api):
    r = submit(api, "alice", EXAMPLES / "correct", "--wait", "--timeout", "1")
    assert r.exit_code == 2 and "not graded within 1 s" in r.output


def test_server_unreachable_exits_2(api):
    api.url = "http://127.0.0.1:9"  # discard port: nothing listens
    r = submit(api, "alice", EXAMPLES / "correct")
    assert r.exit_code == 2 and "cannot reach the service" in r.output


def test_output_file_gets_the_format_and_the_terminal_the_text_report_as_check_does(grading, tmp_path):
    release_hidden(grading)  # hidden cases are in the report once released
    out = tmp_path / "results.xml"
    r = submit(grading, "bob", EXAMPLES / "unflipped_kernel", "--wait", "--format", "junit", "-o", str(out))
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("PA5 grade of bob") and "likely mistake:" in r.stdout
    assert "junit report written to" in r.stderr
    root = ET.fromstring(out.read_text())
    failures = [f for f in root.iter("failure")]
    hidden = [c for c in root.iter("testcase") if c.find("failure") is not None and "-h" in c.get("name")]
    assert hidden and all(f.get("message") for f in failures), "a failing hidden case still says why"


def test_a_timeout_while_running_says_running(api):
    from grader.errors import GraderError
    from grader.service.ops.client import submit as run_submit

    def claim(state):  # a worker takes the job as soon as it is queued, and never finishes
        if state["status"] == "queued":
            api.store.leases.claim_next("slow-worker", 600)

    with pytest.raises(GraderError) as e:
        run_submit(
            path=EXAMPLES / "correct", server=api.url, token=api.tokens["alice"], wait=True, timeout=1, on_status=claim
        )
    assert "not graded within 1 s" in str(e.value) and "running now: it is being graded" in str(e.value)
