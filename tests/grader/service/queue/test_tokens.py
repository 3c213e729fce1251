"""The store's tokens: named by their prefix, revoked in place (the row stays, the hash goes)."""

import datetime as dt
import hashlib

import pytest

from grader.service.queue.db import utcnow
from grader.service.queue.store import Store

NOW = dt.datetime(2026, 11, 26, 9, 30, 0)


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'pa5.db'}")
    s.upgrade_schema()
    yield s
    s.engine.dispose()


def test_all_lists_instructors_first_each_in_the_order_issued(store):
    store.tokens.set_student("zoe", sha("z"), "zzzzzzzz")
    store.tokens.add_instructor(sha("i1"), "iiii1111")
    store.tokens.set_student("amy", sha("a"), "aaaaaaaa")
    store.tokens.add_instructor(sha("i2"), None)  # issued before prefixes were kept
    rows = store.tokens.all()
    assert [(t.role, t.student_id, t.name) for t in rows] == [
        ("instructor", None, "iiii1111"),
        ("instructor", None, "sha256:" + sha("i2")[:8]),
        ("student", "zoe", "zzzzzzzz"),
        ("student", "amy", "aaaaaaaa"),
    ]
    assert all(t.created_at is not None and t.revoked_at is None for t in rows)


def test_revoke_replaces_the_hash_keeps_the_row_and_happens_once(store):
    store.tokens.set_student("amy", sha("a"), "aaaaaaaa")
    row = store.tokens.by_hash(sha("a"))
    done = store.tokens.revoke(row.id, now=NOW)
    assert done.revoked_at == NOW and done.prefix == "aaaaaaaa" and done.student_id == "amy"
    assert store.tokens.by_hash(sha("a")) is None
    assert done.token_sha256.startswith("revoked-") and len(done.token_sha256) <= 64  # no sha256 hex has a '-'
    assert store.tokens.by_id(row.id) == done
    assert store.tokens.revoke(row.id, now=NOW + dt.timedelta(days=1)) is None  # already revoked: unchanged
    assert store.tokens.by_id(row.id).revoked_at == NOW
    assert store.tokens.revoke(999) is None


def test_revoked_hashes_differ_from_each_other(store):
    for sid in ("a", "b"):
        store.tokens.set_student(sid, sha(sid), sid * 8)
    for t in store.tokens.all():
        store.tokens.revoke(t.id)
    hashes = [t.token_sha256 for t in store.tokens.all()]
    assert len(set(hashes)) == 2  # the column is unique: each revoked token gets its own


def test_a_token_issued_before_prefixes_keeps_its_name_once_revoked(store):
    store.tokens.add_instructor(sha("old"), None)
    row = store.tokens.all()[0]
    store.tokens.revoke(row.id, now=NOW)
    assert store.tokens.all()[0].name == "sha256:" + sha("old")[:8]


def test_issuing_a_revoked_student_a_token_brings_them_back(store):
    store.tokens.set_student("amy", sha("a"), "aaaaaaaa")
    row = store.tokens.by_hash(sha("a"))
    store.tokens.revoke(row.id, now=NOW)
    before = utcnow()
    store.tokens.set_student("amy", sha("a2"), "bbbbbbbb")
    back = store.tokens.by_hash(sha("a2"))
    assert (back.id, back.prefix, back.revoked_at) == (row.id, "bbbbbbbb", None)
    assert back.created_at >= before  # created: when this token was issued
