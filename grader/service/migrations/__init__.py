"""Schema migrations with Alembic: bring a database to the code's head revision, or say that it is behind.

A database made before migrations existed (by `create_all`: it has the tables but no alembic_version) is
taken to be at the baseline revision, which is that schema, and upgraded from there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from grader.errors import GraderError

HERE = Path(__file__).resolve().parent
BASELINE = "0001"


class SchemaBehind(GraderError):
    """The database's schema is older than the code's; `pa5-grader admin upgrade` brings it up."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The revision this code's schema is at."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The database's revision: None when it is empty, BASELINE when create_all made it before migrations."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and inspect(conn).has_table("submissions"):
            return BASELINE
        return revision


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to the head revision (making the schema in an empty database); returns (from, to)."""
    before = current(engine)
    with engine.begin() as conn:
        cfg = _config(conn)
        if before == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
            command.stamp(cfg, BASELINE)  # made by create_all: it is the baseline's schema
        command.upgrade(cfg, "head")
    return before, head()


def require_head(engine: Engine, *, fix: str) -> None:
    """SchemaBehind, naming `fix`, unless the database is at this code's head revision."""
    now, wanted = current(engine), head()
    if now == wanted:
        return
    if now is None:
        raise SchemaBehind(f"the database has no tables yet: {fix}")
    if now not in {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}:
        raise GraderError(f"the database is at schema revision {now}, newer than this grader knows: upgrade pa5-grader")
    raise SchemaBehind(f"the database is at schema revision {now}, this grader needs {wanted}: {fix}")
