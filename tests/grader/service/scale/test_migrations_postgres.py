"""The migrations on a real PostgreSQL: they build exactly the models' schema there too."""

from grader.service import migrations
from grader.service.queue.store import Store
from tests.grader.service.test_migrations import schema_differences


def test_the_revisions_build_exactly_the_models_schema_on_postgresql(database):
    store = Store(database)
    try:
        assert store.upgrade_schema() == (None, migrations.head())
        store.require_schema(fix="unused")  # at head: nothing to say
    finally:
        store.engine.dispose()
    assert schema_differences(database) == []
