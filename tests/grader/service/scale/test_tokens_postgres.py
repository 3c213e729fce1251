"""The store's token tests, run again on a real PostgreSQL."""

import pytest

from grader.service.queue.store import Store
from tests.grader.service.queue import test_tokens as on_sqlite

globals().update({name: fn for name, fn in vars(on_sqlite).items() if name.startswith("test_")})


@pytest.fixture
def store(database):
    s = Store(database)
    s.upgrade_schema()
    yield s
    s.engine.dispose()
