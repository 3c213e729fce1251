"""The store's own tests, run again on a real PostgreSQL: no SQLite-only SQL, and row locks hold across engines."""

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
