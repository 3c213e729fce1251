"""Rounds of unscored calls: one harness process serves them all, and a crash in one costs only that call."""

import numpy as np

from grader.cases.model import Case
from grader.sandbox.runner import run_submission
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox.hostile import CORRECT

LIMITS = Limits(call_timeout=10, submission_timeout=60, feedback_seconds=30)

# Correct; says when it is imported, and dies on one input length no graded case has.
COUNTS_IMPORTS = (
    CORRECT.replace(
        "def fc_backward(x, W, dy):\n",
        "def fc_backward(x, W, dy):\n    if len(x) == 7:\n        import os\n        os._exit(3)\n",
    )
    + "\nprint('IMPORTED', flush=True)\n"
)


def fc_case(cid: str, n: int) -> Case:
    x, W, dy = np.arange(n, dtype=float), np.ones((2, n)), np.array([1.0, -1.0])
    return Case(cid, "fc", False, (), {"x": x, "W": W, "dy": dy}, {"fc.dx": W.T @ dy, "fc.dW": np.outer(dy, x)})


class Rounds:
    """A stand-in for the shrinker: asks for the given rounds one after the other, and records what it saw."""

    def __init__(self, *rounds: list[Case]):
        self.rounds, self.seen = list(rounds), []

    def __call__(self, results):
        self.seen.append(dict(results))
        return self.rounds.pop(0) if self.rounds else []


def run(backend, tmp_path, source, rounds):
    (tmp_path / "backprop.py").write_text(source)
    graded = [fc_case("fc-g1", 3), fc_case("fc-g2", 4)]
    return run_submission(
        submission=load_submission(tmp_path), cases=graded, backend=backend, limits=LIMITS, more=rounds
    )


def test_every_round_runs_in_the_one_harness_that_ran_the_graded_calls(backend, tmp_path):
    rounds = Rounds([fc_case("r1-a", 1), fc_case("r1-b", 2)], [fc_case("r2-a", 5)])
    result = run(backend, tmp_path, COUNTS_IMPORTS, rounds)
    assert len(rounds.seen) == 3, "asked after the graded calls and after each of the two rounds"
    assert {"r1-a", "r1-b"} <= set(rounds.seen[1]) and "r2-a" in rounds.seen[2]
    assert all(c.status == "ok" for c in result.calls.values()) and len(result.calls) == 5
    np.testing.assert_allclose(result.calls["r2-a"].outputs["fc.dW"], np.outer([1.0, -1.0], np.arange(5.0)))
    assert result.output.count("IMPORTED") == 1, result.output


def test_a_crash_in_a_round_costs_that_call_and_a_new_harness_runs_the_rest(backend, tmp_path):
    rounds = Rounds([fc_case("r1-a", 2), fc_case("r1-dies", 7), fc_case("r1-b", 3)], [fc_case("r2-a", 1)])
    result = run(backend, tmp_path, COUNTS_IMPORTS, rounds)
    assert result.calls["r1-dies"].status == "crashed"
    assert all(result.calls[c].status == "ok" for c in ("fc-g1", "fc-g2", "r1-a", "r1-b", "r2-a"))
    assert result.output.count("IMPORTED") == 2, "one restart after the crash, none after"


def test_what_the_last_round_printed_is_counted_when_the_harness_stops(backend, tmp_path):
    # 3 MiB: more than the harness passes on live (1 MiB); the rest is only counted when it ends normally.
    floods = CORRECT.replace(
        "def fc_backward(x, W, dy):\n",
        "def fc_backward(x, W, dy):\n    if len(x) == 1:\n        print('y' * (3 << 20))\n",
    )
    result = run(backend, tmp_path, floods, Rounds([fc_case("r1-flood", 1)]))
    assert result.calls["r1-flood"].status == "ok"
    assert result.output_bytes >= 3 << 20
