"""The embedded pool with real grading in the process sandbox: retries, lease recovery, clean shutdown, budgets."""

import threading
import time

from sqlalchemy import select

from grader.service.queue.db import Job, Report
from grader.service.queue.embedded import EmbeddedDispatcher
from grader.spec import default_spec
from tests.grader.service.hang import MARK, HangingBackend
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

    monkeypatch.setattr("grader.service.queue.lifecycle.run_job", broken)
    with running(service_data, workers=1, backend=process_backend) as s:
        sid = post(s, "alice")
        state = s.wait_done(sid)
    assert state["status"] == "failed"
    assert state["error"] == "failed after 3 attempts; last: RuntimeError: the grader broke"
    assert calls == ["alice"] * 3
    assert state["report"] is None


def test_a_grader_bug_in_grading_fails_the_job_with_the_graders_zero_report_but_never_replaces_a_report(
    service_data, process_backend, monkeypatch
):
    """The one failure policy in the service: a bug inside grading is retried, then the job fails, and a new
    submission keeps the same zero report batch would write, saying the grader failed; a regrade that meets the
    same bug leaves the student's report as it was."""
    from grader.workflows import outcome

    with running(service_data, workers=1, backend=process_backend) as s:
        graded = post(s, "bob")
        assert s.wait_done(graded)["score"] == 100
        real, calls = outcome.grade, []

        def broken(**kw):
            calls.append(kw["student_id"])
            raise RuntimeError("a bug inside grading")

        monkeypatch.setattr(outcome, "grade", broken)
        sid = post(s, "alice")
        state = s.wait_done(sid)
        with s.client("instructor") as c:
            assert c.post(f"/api/submissions/{graded}/regrade").status_code == 202
        deadline = time.monotonic() + 60
        while job_of_latest(s, graded).status not in ("done", "failed"):
            assert time.monotonic() < deadline, "the regrade never ended"
            time.sleep(0.05)
        bob = s.wait_done(graded)
        monkeypatch.setattr(outcome, "grade", real)
    assert calls == ["alice"] * 3 + ["bob"] * 3
    assert state["status"] == "failed" and state["error"].endswith("RuntimeError: a bug inside grading")
    assert state["report"]["score"] == 0 and state["report"]["error"] == outcome.GRADER_FAILED
    assert job_of_latest(s, graded).status == "failed" and bob["score"] == 100  # the regrade kept bob's report


def job_of_latest(service, submission_id):
    with service.store.session() as s:
        return s.scalars(select(Job).where(Job.submission_id == submission_id).order_by(Job.id.desc())).first()


def test_a_job_left_by_a_dead_worker_is_graded_after_its_lease(service_data, process_backend):
    with running(service_data, workers=0, lease_seconds=1, recovery_seconds=0.2) as s:
        sid = post(s, "alice")
        assert s.store.leases.claim_next("dead-worker", 1).submission_id == sid  # and it never reports back
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


def short_spec(timeout: float):
    spec = default_spec()
    return spec.model_copy(update={"limits": spec.limits.model_copy(update={"submission_timeout": timeout})})


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return time.monotonic()


def test_two_grades_stuck_past_their_budget_free_their_workers_for_an_honest_upload(service_data, process_backend):
    """Two workers, two grades that hang where cancel cannot reach, one honest upload behind them: the honest one
    starts within one submission_timeout of the hung ones' own (the issue's bound), and is graded in full."""
    timeout, margin = 5.0, 1.0
    release = threading.Event()
    backend = HangingBackend(process_backend, release)
    hung = GOOD + f"\n{MARK}\n".encode()
    with running(service_data, workers=2, backend=backend, spec=short_spec(timeout), grade_margin=margin) as s:
        bad = [post(s, "alice", hung), post(s, "bob", hung)]
        wait_for(lambda: len(backend.hung) == 2, 60, "both workers should be in the hanging grades")
        t0 = time.monotonic()
        honest = post(s, "carol")
        started = wait_for(lambda: job_of(s, honest).status != "queued", 4 * timeout, "the honest upload never started")
        assert started - t0 <= 2 * timeout  # the hung ones' submission_timeout, then at most one more
        state = s.wait_done(honest, timeout=120)
        assert state["status"] == "done" and state["score"] == 100
        for sid in bad:
            state = s.wait_done(sid, timeout=30)
            job = job_of(s, sid)
            assert state["status"] == "failed" and "its budget" in state["error"] and state["report"] is None
            assert (job.status, job.attempts, job.lease_owner) == ("failed", 1, None)
        stuck = [s.dispatcher._workers[w] for w in s.dispatcher._retired]
        assert len(stuck) == 2 and all(t.is_alive() for t in stuck)
        release.set()  # the stuck threads come back: their results are discarded and they end
        for t in stuck:
            t.join(timeout=60)
            assert not t.is_alive()
        assert all(s.wait_done(sid)["status"] == "failed" for sid in bad)
        with s.store.session() as db:
            assert db.scalars(select(Report.submission_id)).all() == [honest]
        assert s.wait_done(post(s, "dave"), timeout=120)["score"] == 100  # and two workers still grade
