import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from grader.service.access.uploads import pack_files
from grader.service.queue import db
from grader.service.queue.db import Job, Submission, Upload
from grader.service.queue.ratelimit import RateLimit, RateLimited
from grader.service.queue.records import QueueFull
from grader.service.queue.store import Store
from tests.grader.service.sample import make_report

FILES = pack_files({"backprop.py": b"x = 1\n"})
T0 = dt.datetime(2026, 11, 26, 12, 0, 0)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'pa5.db'}", max_attempts=3)
    s.upgrade_schema()
    yield s
    s.engine.dispose()


def add(store, student, **kw):
    return store.add_submission(student_id=student, filename="backprop.py", files_zip=FILES, sha256="0" * 64, **kw)


def jobs_of(store, submission_id):
    with store.session() as s:
        return list(s.scalars(select(Job).where(Job.submission_id == submission_id).order_by(Job.id)))


def report_rows(store, submission_id):
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(db.Report).where(db.Report.submission_id == submission_id))


def test_a_new_submission_supersedes_only_the_same_students_queued_one(store):
    running = add(store, "carol")
    a1, b1 = add(store, "alice"), add(store, "bob")
    assert store.leases.claim_next("w", 60).submission_id == running.id
    a2, c2 = add(store, "alice"), add(store, "carol")
    assert store.get_submission(a1.id).status == "superseded"
    assert jobs_of(store, a1.id)[0].status == "superseded"
    assert store.get_submission(a2.id).status == "queued"
    assert store.get_submission(b1.id).status != "superseded"
    assert store.get_submission(running.id).status == "running"  # only queued jobs are superseded
    assert store.get_submission(c2.id).status == "queued"


def test_new_submissions_run_before_regrades_oldest_first(store):
    old = [add(store, s) for s in ("alice", "bob")]
    for _ in old:
        c = store.leases.claim_next("w", 60)
        assert store.leases.complete_job(c.job_id, "w", make_report(c.student_id))
    store.regrade(old[1].id)
    store.regrade(old[0].id)
    new = [add(store, s) for s in ("carol", "dave")]
    order = []
    while c := store.leases.claim_next("w", 60):
        order.append((c.kind, c.submission_id))
    assert order == [("new", new[0].id), ("new", new[1].id), ("regrade", old[1].id), ("regrade", old[0].id)]


def test_queue_position_follows_claim_order(store):
    a = add(store, "alice")
    b = add(store, "bob")
    assert (store.get_submission(a.id).queue_position, store.get_submission(b.id).queue_position) == (1, 2)
    store.leases.claim_next("w", 60)
    assert store.get_submission(a.id).queue_position is None
    assert store.get_submission(b.id).queue_position == 1


def test_a_place_counted_alone_is_its_place_in_the_claim_order(store):
    """Regrades (run later) and new uploads stamped at one instant (ties broken by id): each place counted for one
    job, what the upload answers and what a view shows, equals its rank in a literal sort of the queued rows."""
    done = [add(store, s) for s in ("r0", "r1", "r2")]
    for _ in done:
        c = store.leases.claim_next("w", 60)
        assert store.leases.complete_job(c.job_id, "w", make_report(c.student_id))
    for sub in reversed(done):
        store.regrade(sub.id)
    answered = {v.job_id: v.queue_position for v in (add(store, f"s{i}", now=T0) for i in range(4))}
    answered[add(store, "late", now=T0 + dt.timedelta(seconds=1)).job_id] = 5
    store.leases.claim_next("w", 60)  # the first new one leaves the queue
    with store.session() as s:
        rows = s.execute(select(Job.id, Job.priority, Job.created_at).where(Job.status == "queued")).all()
        ids = s.execute(select(Job.id, Job.submission_id)).all()
        latest = dict(s.execute(select(Job.submission_id, func.max(Job.id)).group_by(Job.submission_id)).all())
    rank = {jid: n for n, (jid, *_) in enumerate(sorted(rows, key=lambda r: (r[1], r[2], r[0])), 1)}
    assert len(rank) == 7
    for jid, _ in ids:
        assert store.queue_position(jid) == rank.get(jid)
    for sid, jid in latest.items():  # a view shows its submission's latest job
        assert store.get_submission(sid).queue_position == rank.get(jid)
    everyone = {v.id: v.queue_position for v in store.list_submissions()}  # more than FEW: read in one go
    assert everyone == {sid: rank.get(jid) for sid, jid in latest.items()}
    assert list(answered.values()) == [1, 2, 3, 4, 5]  # each upload's answer, before the claim


def test_an_upload_stored_after_a_later_arrival_queues_behind_it_and_keeps_its_arrival(store):
    """Two uploads checked side by side: alice's arrived first, bob's was stored first. Places follow the order
    they were stored in (each answered its own), and lateness still sees alice's arrival."""
    bob = add(store, "bob", submitted_at=T0 + dt.timedelta(seconds=2))
    alice = add(store, "alice", submitted_at=T0)
    assert (bob.queue_position, alice.queue_position) == (1, 2)
    assert store.get_submission(alice.id).submitted_at == T0
    assert store.get_submission(bob.id).submitted_at == T0 + dt.timedelta(seconds=2)
    assert store.leases.claim_next("w", 60).submission_id == bob.id


def test_two_workers_never_hold_one_job(tmp_path, store):
    subs = [add(store, f"s{i}") for i in range(30)]
    stores = [Store(store.url) for _ in range(6)]  # one engine each, as separate processes would have
    claimed: list[list[int]] = [[] for _ in stores]

    def work(n):
        while c := stores[n].leases.claim_next(f"w{n}", 60):
            claimed[n].append(c.job_id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [j for c in claimed for j in c]
    assert len(everything) == len(set(everything)) == len(subs)
    for s in stores:
        s.engine.dispose()


def test_an_expired_lease_runs_again_and_fails_after_three_attempts(store):
    sub = add(store, "alice")
    for attempt in (1, 2, 3):
        c = store.leases.claim_next(f"w{attempt}", -1)  # a lease that has already expired: the worker "died"
        assert c.attempt == attempt
        assert store.leases.requeue_expired() == 1
    job = jobs_of(store, sub.id)[0]
    assert job.status == "failed" and job.attempts == 3
    assert "after 3 attempts" in job.last_error and "stopped answering" in job.last_error
    view = store.get_submission(sub.id)
    assert view.status == "failed" and view.last_error == job.last_error
    assert store.leases.claim_next("w", 60) is None


def test_a_failing_job_retries_then_fails_with_its_reason(store):
    sub = add(store, "alice")
    outcomes = []
    for _ in range(3):
        c = store.leases.claim_next("w", 60)
        assert store.leases.fail_or_retry(c.job_id, "someone-else", "nope") is None  # only the holder decides
        outcomes.append(store.leases.fail_or_retry(c.job_id, "w", "SandboxUnavailable: Docker is not reachable"))
    assert outcomes == ["queued", "queued", "failed"]
    view = store.get_submission(sub.id)
    assert view.status == "failed"
    assert view.last_error == "failed after 3 attempts; last: SandboxUnavailable: Docker is not reachable"


def test_exactly_one_report_whoever_completes(store):
    sub = add(store, "alice")
    stale = store.leases.claim_next("w1", -1)
    store.leases.requeue_expired()
    fresh = store.leases.claim_next("w2", 60)
    assert fresh.job_id == stale.job_id and fresh.attempt == 2
    assert not store.leases.complete_job(stale.job_id, "w1", make_report("alice", total=10))  # lost its lease
    assert store.leases.complete_job(fresh.job_id, "w2", make_report("alice", total=90))
    assert not store.leases.complete_job(fresh.job_id, "w2", make_report("alice", total=50))  # a redelivery
    assert report_rows(store, sub.id) == 1
    assert store.get_submission(sub.id).score == 90
    store.regrade(sub.id)
    view, queued = store.regrade(sub.id)
    assert view.status == "queued" and not queued  # regrading twice queues one job
    assert len(jobs_of(store, sub.id)) == 2
    c = store.leases.claim_next("w3", 60)
    assert store.leases.complete_job(c.job_id, "w3", make_report("alice", total=70))
    assert not store.leases.complete_job(c.job_id, "w3", make_report("alice", total=20))  # a redelivery
    assert report_rows(store, sub.id) == 2  # the regrade added a version; the first one is kept
    assert store.get_submission(sub.id).score == 70
    assert store.get_submission(sub.id).report.score == 70


def test_release_gives_the_job_back_without_counting_the_attempt(store):
    sub = add(store, "alice")
    c = store.leases.claim_next("w", 60)
    assert store.leases.release_job(c.job_id, "w")
    assert store.get_submission(sub.id).status == "queued"
    assert store.leases.claim_next("w", 60).attempt == 1


def test_rate_limits_count_every_admitted_upload(store):
    limits = (RateLimit(count=1, seconds=10), RateLimit(count=3, seconds=3600))

    def admit(student, seconds):
        store.admit_upload(student_id=student, limits=limits, now=T0 + dt.timedelta(seconds=seconds))

    admit("alice", 0)  # counted whether or not the upload is then accepted: no submission is stored here
    with pytest.raises(RateLimited) as e:
        admit("alice", 4)
    assert e.value.retry_after == 6
    admit("bob", 4)  # per student
    admit("alice", 10)  # the refused one at 4 s did not count
    admit("alice", 100)
    with pytest.raises(RateLimited) as e:
        admit("alice", 200)
    assert e.value.retry_after == 3600 - 200  # the first of the three leaves the hour window
    assert "3 per hour" in str(e.value)
    admit("alice", 3601)  # and with it, the rows older than every window are gone
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Upload).where(Upload.student_id == "alice")) == 3


def test_the_queue_cap_refuses_new_submissions(store):
    store.queue_cap = 2
    add(store, "alice")
    add(store, "bob")
    with pytest.raises(QueueFull):
        add(store, "carol")
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 2


def test_regrade_all_takes_each_students_latest_and_the_summary_counts_those(store):
    first = add(store, "alice")
    c = store.leases.claim_next("w", 60)
    store.leases.complete_job(c.job_id, "w", make_report("alice", total=40))
    latest = add(store, "alice")
    bob = add(store, "bob")
    for _ in range(2):
        c = store.leases.claim_next("w", 60)
        store.leases.complete_job(c.job_id, "w", make_report(c.student_id, total=80 if c.student_id == "alice" else 60))
    assert sorted(r.score for r in store.latest_reports()) == [60, 80]
    assert store.regrade_all() == 2
    queued = {j["submission_id"] for j in store.queue()["jobs"]}
    assert queued == {latest.id, bob.id} and first.id not in queued
