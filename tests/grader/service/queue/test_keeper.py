"""The lease keeper with an injected clock against a real SQLite store: renewals, the budget rule, the grace."""

import pytest
from sqlalchemy import select

from grader.service.access.uploads import pack_files
from grader.service.queue.db import Job
from grader.service.queue.keeper import LeaseKeeper, end_over_budget, grade_budget
from grader.service.queue.store import Store
from grader.spec import Limits
from tests.grader.service.sample import make_report

FILES = pack_files({"backprop.py": b"x = 1\n"})


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'pa5.db'}")
    s.upgrade_schema()
    yield s
    s.engine.dispose()


class Spy:
    """The store's job transitions, counting the keeper's calls."""

    def __init__(self, store):
        self.store, self.renewed, self.failed = store, [], []

    def renew_lease(self, job_id, worker_id, lease):
        self.renewed.append(job_id)
        return self.store.leases.renew_lease(job_id, worker_id, lease)

    def fail_overdue(self, *args):
        self.failed.append(args[0])
        return self.store.leases.fail_overdue(*args)


def job(store, claim):
    with store.session() as s:
        return s.get(Job, claim.job_id)


def claimed(store, student="alice", worker="w1"):
    store.add_submission(student_id=student, filename="backprop.py", files_zip=FILES, sha256="0" * 64)
    return store.leases.claim_next(worker, 60)


def keeper(store, clock, stuck=None, budget=10.0):
    return LeaseKeeper(Spy(store), lease_seconds=60, budget=budget, grace=2, clock=clock, on_stuck=stuck)


def test_the_budget_is_the_submission_timeout_plus_the_margin():
    assert grade_budget(Limits(submission_timeout=120), 30) == 150
    assert grade_budget(Limits(submission_timeout=4), 0.5) == 4.5


def test_leases_are_renewed_every_third_of_a_lease_and_the_next_tick_says_when(store):
    clock = Clock()
    k = keeper(store, clock, budget=1000)
    g = k.hold(claimed(store), "w1")
    assert k.tick() == 20 and k.leases.renewed == []
    clock.t += 19.9
    k.tick()
    assert k.leases.renewed == []
    clock.t += 0.1
    assert k.tick() == 20 and k.leases.renewed == [g.claim.job_id]
    k.drop(g)
    clock.t += 100
    k.tick()
    assert k.leases.renewed == [g.claim.job_id]  # a dropped grading is nobody's business


def test_a_grade_past_its_budget_fails_once_stops_renewing_and_is_cancelled(store):
    clock, stuck = Clock(), []
    k = keeper(store, clock, stuck=stuck.append)
    g = k.hold(claimed(store), "w1")
    clock.t += 9.9
    assert abs(k.tick() - 0.1) < 1e-6  # the nearest deadline is the budget's
    assert not g.cancel.is_set()
    clock.t += 0.1
    k.tick()
    row = job(store, g.claim)
    assert g.cancel.is_set() and (row.status, row.lease_owner, row.attempts) == ("failed", None, 1)
    assert "stopped after 10 s, its budget" in row.last_error
    assert store.get_submission(g.claim.submission_id).status == "failed"
    for _ in range(3):
        clock.t += 30
        k.tick()
    assert k.leases.failed == [g.claim.job_id] and k.leases.renewed == []  # once, and never renewed again
    assert not store.leases.complete_job(g.claim.job_id, "w1", make_report("alice"))  # a late result is discarded


def test_a_thread_not_back_within_the_grace_is_reported_stuck_once(store):
    clock, stuck = Clock(), []
    k = keeper(store, clock, stuck=stuck.append)
    late, back = k.hold(claimed(store, "alice", "w1"), "w1"), k.hold(claimed(store, "bob", "w2"), "w2")
    clock.t += 10
    k.tick()
    k.drop(back)  # its thread returned as soon as it was cancelled
    clock.t += 1.9
    k.tick()
    assert stuck == []
    clock.t += 0.1
    k.tick()
    clock.t += 5
    k.tick()
    assert stuck == [late]


def test_the_rule_applies_at_most_once_per_attempt(store):
    clock = Clock()
    k = keeper(store, clock)
    first = k.hold(claimed(store), "w1")
    with store.sessions.begin() as s:  # the lease ran out after all, and another worker took the job again
        s.get(Job, first.claim.job_id).lease_expires = None
        s.get(Job, first.claim.job_id).status, s.get(Job, first.claim.job_id).lease_owner = "queued", None
    second = store.leases.claim_next("w2", 60)
    assert second.job_id == first.claim.job_id and second.attempt == 2
    assert end_over_budget(k.leases, first, budget=10, now=clock()) is False  # not the attempt w1 holds
    assert job(store, second).status == "running"
    g2 = k.hold(second, "w2")
    assert end_over_budget(k.leases, g2, budget=10, now=clock()) is True
    assert end_over_budget(k.leases, g2, budget=10, now=clock()) is False
    assert job(store, second).status == "failed"


def test_a_lost_lease_cancels_the_grade(store):
    clock = Clock()
    k = keeper(store, clock, budget=1000)
    g = k.hold(claimed(store), "w1")
    with store.sessions.begin() as s:
        s.execute(select(Job).where(Job.id == g.claim.job_id)).scalar_one().lease_owner = "someone-else"
    clock.t += 20
    k.tick()
    assert g.cancel.is_set() and job(store, g.claim).status == "running"
