"""The runner's watchdog: a hang anywhere on the trusted side still ends at the submission's limit, as a result."""

import threading

import pytest

from grader.sandbox import runner
from grader.sandbox.runner import run_submission
from grader.sandbox.storage import new_job_dir
from grader.spec import Limits
from grader.submission import load_submission
from tests.grader.sandbox import hostile

LIMITS = Limits(call_timeout=10, submission_timeout=1)


class _Attempt:
    """Waits in poll() for `release`, however long it is told to wait: a backend call that hangs."""

    def __init__(self, release: threading.Event, killed_releases: bool):
        self.release, self.killed_releases = release, killed_releases

    def poll(self, timeout, *, progress=False):
        self.release.wait()
        return -9

    def kill(self):
        if self.killed_releases:
            self.release.set()

    def describe_exit(self, code):
        return "killed"


class _Backend:
    name, isolated, note = "hanging", False, "a stand-in whose calls hang"

    def __init__(self, killed_releases: bool):
        self.release, self.killed_releases, self.jobs = threading.Event(), killed_releases, []

    def new_job(self, limits):
        self.jobs.append(new_job_dir(limits))
        return self.jobs[-1]

    def open(self, job):
        backend = self

        class Session:
            def start(self, calls, capture, limits):
                return _Attempt(backend.release, backend.killed_releases)

            def finish(self, attempt):
                pass

            def close(self):
                pass

        return Session()


@pytest.fixture
def sub(tmp_path):
    (tmp_path / "backprop.py").write_text(hostile.CORRECT)
    return load_submission(tmp_path / "backprop.py")


def _run(backend, sub, cases):
    out = []
    t = threading.Thread(
        target=lambda: out.append(run_submission(submission=sub, cases=cases, backend=backend, limits=LIMITS)),
        daemon=True,
    )
    t.start()
    t.join(30)  # a hang detector: the bound is the limit and two watchdog margins, far below this
    assert not t.is_alive(), "run_submission did not come back"
    return out[0]


@pytest.mark.parametrize("killed_releases", [True, False], ids=["a kill ends the hang", "nothing ends it"])
def test_a_hang_on_the_trusted_side_becomes_a_result_at_the_limit(monkeypatch, sub, public_cases, killed_releases):
    monkeypatch.setattr(runner, "WATCHDOG_SECONDS", 0.5)
    backend = _Backend(killed_releases)
    cases = public_cases[:3]
    try:
        run = _run(backend, sub, cases)
        assert [c.status for c in run.calls.values()] == ["timeout"] * 3
        assert all(c.message == "the grader stopped this submission at its 1 s limit" for c in run.calls.values())
        if killed_releases:  # the worker got to finish: it cleaned up as always
            assert not backend.jobs[0].exists()
    finally:
        backend.release.set()  # let an abandoned worker end
