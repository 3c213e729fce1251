"""The embedded pool with real grading in the process sandbox: retries, lease recovery, clean shutdown."""

import time

from sqlalchemy import select

from grader.service.db import Job
from grader.service.dispatch import EmbeddedDispatcher
from grader.spec import default_spec
from tests.grader.service.live import EXAMPLES, running

GOOD = (EXAMPLES / "correct" / "backprop.py").read_bytes()
SLOW = b"import time\ntime.sleep(60)\n"


def post(service, student, data=GOOD):
    with service.client(student) as c:
        r = c.post("/api/submissions", files={"file": ("backprop.py", data)})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def job_of(service, submission_id):
    with service.store.session() as s:
        return s.scalars(select(Job).where(Job.submission_id == submission_id)).one()


def test_a_grader_crash_is_retried_then_failed_with_its_reason(service_data, process_backend, monkeypatch):
    calls = []

    def broken(**kw):
        calls.append(kw["student_id"])
        raise RuntimeError("the grader broke")

    monkeypatch.setattr("grader.service.dispatch.run_job", broken)
    with running(service_data, workers=1, backend=process_backend) as s:
        sid = post(s, "alice")
        state = s.wait_done(sid)
    assert state["status"] == "failed"
    assert state["error"] == "failed after 3 attempts; last: RuntimeError: the grader broke"
    assert calls == ["alice"] * 3
    assert state["report"] is None


def test_a_job_left_by_a_dead_worker_is_graded_after_its_lease(service_data, process_backend):
    with running(service_data, workers=0, lease_seconds=1, recovery_seconds=0.2) as s:
        sid = post(s, "alice")
        assert s.store.claim_next("dead-worker", 1).submission_id == sid  # and it never reports back
    with running(service_data, workers=1, backend=process_backend, lease_seconds=1, recovery_seconds=0.2) as s:
        state = s.wait_done(sid)
        job = job_of(s, sid)
    assert state["status"] == "done" and state["score"] == 100
    assert (job.status, job.attempts) == ("done", 2)


def test_stopping_hands_running_jobs_back_without_counting_an_attempt(service_data, process_backend):
    with running(service_data, workers=1, backend=process_backend) as s:
        sid = post(s, "alice", SLOW)
        deadline = time.monotonic() + 30
        while job_of(s, sid).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    job = job_of(s, sid)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)


def test_notify_wakes_an_idle_worker(service_data, process_backend):
    # A poll interval far longer than the test: only notify() can start the job in time.
    with running(service_data, workers=0) as s:
        d = EmbeddedDispatcher(
            store=s.store,
            backend=process_backend,
            spec=default_spec(),
            secret=s.secret,
            tmp_dir=s.settings.tmp_dir,
            workers=1,
            lease_seconds=60,
            poll_seconds=3600,
        )
        d.start()
        try:
            time.sleep(0.3)  # the worker has found the queue empty and sleeps
            sid = post(s, "alice")
            d.notify(0)
            state = s.wait_done(sid, timeout=60)
        finally:
            d.stop()
    assert state["status"] == "done"
