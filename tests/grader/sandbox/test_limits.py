"""Limits come from the spec and are enforced from outside the student's process."""

from grader.sandbox.runner import run_submission
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox import hostile


def _run(backend, tmp_path, source, cases, limits):
    (tmp_path / "backprop.py").write_text(source)
    return run_submission(
        submission=load_submission(tmp_path / "backprop.py"), cases=cases, backend=backend, limits=limits
    )


def test_submission_deadline_stops_everything_left(backend, tmp_path, public_cases):
    slow = hostile.correct_except(conv_backward="import time\ntime.sleep(0.8)\nraise ValueError('slow')")
    conv = [c for c in public_cases if c.layer == "conv"]
    run = _run(backend, tmp_path, slow, conv, Limits(call_timeout=5, submission_timeout=2.5))
    statuses = [c.status for c in run.calls.values()]
    assert statuses.count("error") >= 1 and statuses[-1] == "timeout"
    assert "limit was reached" in list(run.calls.values())[-1].message


def test_file_size_limit(backend, tmp_path, public_cases):
    big = hostile.correct_except(
        fc_backward="with open('big.bin', 'wb') as f:\n    f.write(b'0' * (4 << 20))\nreturn None"
    )
    fc = [c for c in public_cases if c.layer == "fc"][:1]
    run = _run(backend, tmp_path, big, fc, Limits(file_size_mb=1))
    call = next(iter(run.calls.values()))
    assert call.status in ("crashed", "error")
    assert "file size" in call.message or "File too large" in call.message
