import itertools
import os
import shutil

import pytest

from tests.grader.service.scale.servers import Postgres, Redis, missing, server_folder

REQUIRE = os.environ.get("PA5_REQUIRE_SCALE") == "1"
_names = itertools.count()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/scale/" in str(item.fspath):
            item.add_marker(pytest.mark.scale)


@pytest.fixture(scope="session")
def scale_ready():
    why = missing()
    if why and REQUIRE:
        pytest.fail(f"the scale tests are required here (PA5_REQUIRE_SCALE=1) but cannot run: {why}")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def postgres(scale_ready):
    """One PostgreSQL cluster for the session; each test takes a database of its own from it."""
    folder = server_folder("pg")
    pg = Postgres(folder)
    try:
        yield pg.start()
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(postgres):
    """A fresh, empty database: postgresql://postgres:PASSWORD@127.0.0.1:PORT/testN."""
    return postgres.create_database(f"test{next(_names)}")


@pytest.fixture
def redis_server(scale_ready):
    """A redis-server of this test's own, so a restart in one test touches no other."""
    folder = server_folder("redis")
    r = Redis(folder)
    try:
        yield r.start()
    finally:
        r.stop()
        shutil.rmtree(folder, ignore_errors=True)
