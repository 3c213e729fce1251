"""The store's own tests, run again on a real PostgreSQL: no SQLite-only SQL, and row locks hold across engines."""

import threading

import pytest

from grader.service.queue.store import Store
from tests.grader.service.queue import test_store as on_sqlite

# Every test of the SQLite suite, collected again here where `store` below is a PostgreSQL one.
globals().update({name: fn for name, fn in vars(on_sqlite).items() if name.startswith("test_")})


@pytest.fixture
def store(database):
    s = Store(database, max_attempts=3)
    s.upgrade_schema()
    yield s
    s.engine.dispose()


def test_uploads_stored_at_once_are_each_answered_a_place_of_their_own(store):
    """Here transactions run side by side (SQLite's BEGIN IMMEDIATE makes them take turns)."""
    n, start, places = 8, threading.Barrier(8), []

    def one(i):
        start.wait()
        places.append(on_sqlite.add(store, f"s{i}").queue_position)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(places) == list(range(1, n + 1))
