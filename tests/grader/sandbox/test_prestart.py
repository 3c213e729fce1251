"""The prestarted sandbox interpreter (self-tests): same outcomes and limits as a cold start."""

import datetime as dt

import pytest

from grader.sandbox.process import ProcessBackend
from grader.sandbox.runner import run_submission
from grader.scoring.score import build_report
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox import hostile


@pytest.fixture
def warm():
    with ProcessBackend(throwaway_uid=False) as b:
        b.prestart()
        assert b._warm is not None
        yield b
    assert b._warm is None or b._warm.proc.poll() is not None


def run(backend, tmp_path, source, cases, limits):
    (tmp_path / "backprop.py").write_text(source)
    return run_submission(
        submission=load_submission(tmp_path / "backprop.py"), cases=cases, backend=backend, limits=limits
    )


def test_warm_start_grades_like_a_cold_one(warm, tmp_path, public_cases, spec):
    r = run(warm, tmp_path, hostile.CORRECT, public_cases, spec.limits)
    assert warm._warm is None, "the prestarted interpreter was used"
    report = build_report(
        spec=spec,
        cases=public_cases,
        run=r,
        submission_sha256="",
        student_id=None,
        mode="check",
        started=dt.datetime.now(dt.timezone.utc),
    )
    assert report.score == 100


def test_limits_reach_the_prestarted_interpreter(warm, tmp_path, public_cases):
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    r = run(
        warm,
        tmp_path,
        hostile.correct_except(fc_backward="while True:\n    pass"),
        fc,
        Limits(cpu_seconds=1, call_timeout=20),
    )
    call = next(iter(r.calls.values()))
    assert call.status == "crashed" and "CPU time limit" in call.message


def test_memory_limit_and_isolation_hold_when_warm(warm, tmp_path, public_cases):
    first = {}
    for c in public_cases:
        first.setdefault(c.layer, c)
    r = run(
        warm,
        tmp_path,
        hostile.MEMORY_BOMB.replace("def conv_backward(*args):", "def _unused(*args):")
        + "\nimport importlib.util\nassert importlib.util.find_spec('reference') is None\n",
        list(first.values()),
        Limits(memory_mb=512),
    )
    fc = next(c for cid, c in r.calls.items() if cid.startswith("fc"))
    assert fc.status == "crashed" and "memory" in fc.message
    assert r.import_error is None


def test_an_unused_prestart_is_cleaned_up():
    with ProcessBackend(throwaway_uid=False) as b:
        b.prestart()
        proc, job = b._warm.proc, b._warm.job
    assert proc.poll() is not None and not job.exists()
