"""Output never costs points: a correct submission that floods its output still gets full marks, with a note."""

from grader.report.render import render
from grader.submission import load_submission
from grader.workflows.grade import evaluate
from tests.grader.sandbox.hostile import CORRECT

# About 200 MiB at import, as a debug print left in a loop would, then the correct functions.
FLOOD_AT_IMPORT = (
    "import sys\nline = 'debug ' * 170 + '\\n'\nfor _ in range(200_000):\n    sys.stdout.write(line)\n"
    "sys.stdout.flush()\n" + CORRECT
)
# A print in every call of every function.
FLOOD_IN_CALLS = CORRECT.replace("    return dx, dw", "    print(dx.tolist() * 50)\n    return dx, dw")


def grade(backend, tmp_path, source, cases, spec):
    (tmp_path / "backprop.py").write_text(source)
    return evaluate(
        submission=load_submission(tmp_path), cases=cases, spec=spec, backend=backend, student_id=None, mode="check"
    )


def test_a_200_mib_flood_at_import_costs_nothing(backend, tmp_path, public_cases, spec):
    report = grade(backend, tmp_path, FLOOD_AT_IMPORT, public_cases, spec)
    assert report.error is None and report.score == report.max_score and report.passed
    assert report.output.truncated and report.output.bytes >= 200_000 * 1021
    assert len(report.output.text) < (spec.limits.output_kb << 10) + 200
    assert "output never costs points" in render(report, "text")
    assert "output never costs points" in render(report, "gradescope")


def test_prints_in_every_call_cost_nothing(backend, tmp_path, public_cases, spec):
    report = grade(backend, tmp_path, FLOOD_IN_CALLS, public_cases, spec)
    assert report.score == report.max_score and report.output.bytes > 0
