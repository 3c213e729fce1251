"""The Celery task and sweeper against a real SQLite store, with the broker replaced by a list of sent messages."""

import datetime as dt

import pytest

pytest.importorskip("celery")

from grader.service.access.uploads import pack_files
from grader.service.queue.celery import dispatch as celery_dispatch
from grader.service.queue.celery import worker as celery_worker
from grader.service.queue.celery.dispatch import CeleryDispatcher
from grader.service.queue.store import Store
from tests.grader.service.live import EXAMPLES
from tests.grader.service.sample import make_report

CORRECT = pack_files({"backprop.py": (EXAMPLES / "correct" / "backprop.py").read_bytes()})
OLD = dt.datetime(2026, 1, 1)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'pa5.db'}")
    s.upgrade_schema()
    yield s
    s.engine.dispose()


@pytest.fixture
def sent(monkeypatch):
    """(job id, priority) of every message "published"."""
    out = []

    def publish(app, job_id, priority):
        out.append((job_id, priority))
        return True

    monkeypatch.setattr(celery_dispatch, "publish", publish)
    monkeypatch.setattr("grader.service.queue.celery.app.publish", publish)
    return out


def add(store, student, now=None):
    return store.add_submission(student_id=student, filename="backprop.py", files_zip=CORRECT, sha256="0" * 64, now=now)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_the_sweeper_sends_each_queued_job_once_then_backs_off(store, sent, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(celery_dispatch.time, "monotonic", clock)
    d = CeleryDispatcher(store=store, app=None, stale_seconds=10)
    a, b = add(store, "alice"), add(store, "bob")
    assert d.sweep(force=True) == 2 and sent == [(a.job_id, 0), (b.job_id, 0)]
    assert d.sweep() == 0  # just sent: a lost message is only assumed after stale_seconds
    clock.t += 10
    assert d.sweep() == 2  # unclaimed for 10 s: perhaps the broker lost them
    clock.t += 10
    assert d.sweep() == 0  # the next resend waits twice as long
    clock.t += 10
    assert d.sweep() == 2
    c = store.leases.claim_next("w", 60)
    assert store.leases.complete_job(c.job_id, "w", make_report("alice"))
    clock.t += 100
    assert d.sweep() == 1 and sent[-1] == (b.job_id, 0)  # a finished job is never sent again


def test_no_resend_while_the_broker_holds_a_message_per_queued_job(store, sent, monkeypatch):
    clock, waiting = Clock(), [2]
    monkeypatch.setattr(celery_dispatch.time, "monotonic", clock)
    monkeypatch.setattr(celery_dispatch, "backlog", lambda app: waiting[0])
    d = CeleryDispatcher(store=store, app=None, stale_seconds=10)
    add(store, "alice"), add(store, "bob")
    assert d.sweep(force=True) == 2
    clock.t += 10
    assert d.sweep() == 0  # a long queue, not a lost message
    waiting[0] = 1  # one message is missing (or the broker restarted): resend
    assert d.sweep() == 2 and len(sent) == 4


def test_a_job_back_from_a_dead_worker_is_sent_at_once(store, sent):
    d = CeleryDispatcher(store=store, app=None, stale_seconds=3600)
    a = add(store, "alice")
    d.sweep(force=True)
    store.leases.claim_next("dead-worker", -1)  # its lease has already run out
    assert store.leases.requeue_expired() == 1
    assert d.sweep() == 1 and sent == [(a.job_id, 0), (a.job_id, 0)]


def test_jobs_queued_elsewhere_are_sent_only_once_they_are_stale(store, sent):
    d = CeleryDispatcher(store=store, app=None, stale_seconds=60)
    young = add(store, "alice")
    old = add(store, "bob", now=OLD)
    assert d.sweep() == 1 and sent == [(old.job_id, 0)]  # the young one's own serve has just sent it
    d.notify(young.job_id)  # what the API does after its commit: sent now
    assert d.sweep(only=young.job_id, force=True) == 1


@pytest.fixture
def worker(store, tmp_path, monkeypatch):
    """This process as a configured pool process, grading in the process sandbox."""
    celery_worker.configure(
        celery_worker.WorkerConfig(store.url, "process", None, b"secret", lease_seconds=30, tmp_dir=tmp_path / "w")
    )
    yield
    celery_worker.process_shutdown()


class Task:
    app = None


def test_a_message_for_a_job_no_longer_queued_does_nothing(store, sent, worker):
    a, b = add(store, "alice"), add(store, "bob")
    c = store.leases.claim_next("w", 60)
    assert store.leases.complete_job(c.job_id, "w", make_report("alice"))
    assert "is done: nothing to do" in celery_worker.grade_task(Task(), a.job_id)
    assert store.get_submission(b.id).status == "queued" and sent == []  # b waits for its own message


def test_a_message_grades_the_first_queued_job_and_resends_its_own(store, sent, worker):
    first, second = add(store, "alice", now=OLD), add(store, "bob")
    out = celery_worker.grade_task(Task(), second.job_id)
    assert out == f"job {first.job_id}: done, score 100"  # the database's order, as the embedded pool
    assert sent == [(second.job_id, 0)] and store.get_submission(second.id).status == "queued"
    assert celery_worker.grade_task(Task(), second.job_id) == f"job {second.job_id}: done, score 100"
    assert store.get_submission(first.id).score == store.get_submission(second.id).score == 100


@pytest.fixture
def short_worker(store, tmp_path):
    """A pool process whose grades have a budget of 1.5 s (submission_timeout 1 s, margin 0.5 s)."""
    spec = tmp_path / "spec.toml"
    spec.write_text("[limits]\nsubmission_timeout = 1.0\n")
    celery_worker.configure(
        celery_worker.WorkerConfig(store.url, "process", spec, b"secret", 30, tmp_path / "w", margin=0.5)
    )
    yield
    celery_worker.process_shutdown()


def test_a_task_past_its_budget_is_failed_by_the_keeper_and_not_sent_again(store, sent, short_worker, monkeypatch):
    from grader.sandbox.calls import Cancelled

    def hangs_until_cancelled(*, cancel, **kw):
        assert cancel.wait(60), "the keeper never cancelled the grade"
        raise Cancelled()

    monkeypatch.setattr("grader.service.queue.lifecycle.run_job", hangs_until_cancelled)
    a = add(store, "alice")
    out = celery_worker.grade_task(Task(), a.job_id)
    view = store.get_submission(a.id)
    assert view.status == "failed" and "stopped after 1.5 s, its budget" in view.last_error
    assert "its budget" in out and sent == []


def test_the_soft_time_limit_applies_the_same_rule(store, sent, short_worker, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def soft_limit(**kw):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("grader.service.queue.lifecycle.run_job", soft_limit)
    a = add(store, "alice")
    celery_worker.grade_task(Task(), a.job_id)
    view = store.get_submission(a.id)
    assert view.status == "failed" and view.attempts == 1 and "its budget" in view.last_error
    assert sent == []  # failed, not retried: a grade that outlived its budget would hold a worker again


def test_the_task_time_limits_follow_the_budget():
    from grader.service.queue.celery.app import time_limits
    from grader.spec import default_spec

    assert time_limits(default_spec()) == (155.0, 160.0)  # 120 s + 30 s margin + 5 s grace; hard 5 s later
    spec = default_spec()
    short = spec.model_copy(update={"limits": spec.limits.model_copy(update={"submission_timeout": 10.0})})
    assert time_limits(short, 2.0) == (14.0, 19.0)
