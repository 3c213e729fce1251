"""Schema migrations: the revisions build exactly the models' schema, a database made by the released code
upgrades keeping every row, and a database behind the code is refused with the command that upgrades it."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text

from grader.cli import cli
from grader.errors import GraderError
from grader.report.model import Report
from grader.service import migrations, tables
from grader.service.ops.settings import DB_FILE
from grader.service.queue import db
from grader.service.queue.store import Store

RELEASED = Path(__file__).parent / "fixtures" / "released-5b0075a.sqlite"


def schema_differences(url: str) -> list:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), tables.metadata)
    finally:
        engine.dispose()


def test_the_revisions_build_exactly_the_models_schema(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert store.upgrade_schema() == (None, migrations.head())
    assert migrations.current(store.engine) == migrations.head()
    store.engine.dispose()
    assert schema_differences(f"sqlite:///{tmp_path / 'new.db'}") == []


@pytest.fixture
def released(tmp_path):
    """A data folder holding a copy of a database that the released code (before migrations) made."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(RELEASED, data / DB_FILE)
    return data


def _rows(path: Path, sql: str) -> list[tuple]:
    """Read the fixture with sqlite3 alone: an oracle that shares no code with the store."""
    with sqlite3.connect(path) as c:
        return c.execute(sql).fetchall()


def test_a_database_of_the_released_code_upgrades_and_reads_back_whole(released):
    before_subs = _rows(RELEASED, "SELECT id, student_id, filename, sha256, status, files_zip FROM submissions")
    before_reports = _rows(RELEASED, "SELECT submission_id, score, report_json FROM reports")
    before_tokens = _rows(RELEASED, "SELECT role, student_id, token_sha256 FROM tokens")
    assert len(before_subs) == 4 and len(before_reports) == 3  # the fixture is what its commit says

    r = CliRunner().invoke(cli, ["admin", "upgrade", "--data", str(released)])
    assert r.exit_code == 0, r.output
    assert "schema revision" in r.output
    assert schema_differences(f"sqlite:///{released / DB_FILE}") == []

    store = Store(f"sqlite:///{released / DB_FILE}")
    try:
        views = {v.id: v for v in store.list_submissions()}
        assert sorted(views) == [row[0] for row in before_subs]
        for sid, student, filename, sha, status, files_zip in before_subs:
            v = store.get_submission(sid)
            assert (v.student_id, v.filename, v.sha256, v.status) == (student, filename, sha, status)
            with store.session() as s:
                assert s.get(db.Submission, sid).files_zip == files_zip
        for submission_id, score, report_json in before_reports:
            report = store.get_submission(submission_id).report
            assert report == Report.model_validate_json(report_json) and report.score == score
        assert sorted(_rows(released / DB_FILE, "SELECT role, student_id, token_sha256 FROM tokens")) == sorted(
            before_tokens
        )
        store.admit_upload(student_id="alice", limits=())  # the uploads table came with revision 0002
    finally:
        store.engine.dispose()
    again = CliRunner().invoke(cli, ["admin", "upgrade", "--data", str(released)])
    assert again.exit_code == 0 and "already at schema revision" in again.output


def test_serve_refuses_a_database_behind_the_code_and_names_the_upgrade(released):
    assert migrations.current(db.make_engine(f"sqlite:///{released / DB_FILE}")) == migrations.BASELINE
    assert migrations.head() != migrations.BASELINE  # the code has revisions the released database lacks
    roster = released / "roster.csv"
    roster.write_text("student_id\nalice\n")
    for args in (
        ["serve", "--data", str(released), "--port", "0"],
        ["admin", "students", "--data", str(released), str(roster), "--out", str(released / "tokens.csv")],
    ):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 2, r.output
        assert f"this grader needs {migrations.head()}" in r.output, r.output
        assert f"pa5-grader admin upgrade --data {released}" in r.output, r.output
        assert "Traceback" not in r.output


def test_a_database_newer_than_the_code_is_refused_too(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'pa5.db'}")
    store.upgrade_schema()
    with store.sessions.begin() as s:
        s.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(GraderError, match="newer than this grader knows"):
        store.require_schema(fix="unused")
    store.engine.dispose()


def test_reports_become_version_one_with_their_public_score(released):
    """0003 turns each report into version 1 of its submission's history and records its public score, summed
    here from the stored JSON by hand; a regrade afterwards adds version 2 and keeps version 1."""
    before = _rows(RELEASED, "SELECT submission_id, score, report_json FROM reports")
    Store(f"sqlite:///{released / DB_FILE}").upgrade_schema()
    after = _rows(
        released / DB_FILE,
        "SELECT submission_id, version, reason, score, public_score, public_max_score, report_json FROM reports",
    )
    assert len(after) == len(before)
    for (sid, score, body), (sid2, version, reason, score2, public, public_max, body2) in zip(
        sorted(before), sorted(after), strict=True
    ):
        assert (sid, score, body) == (sid2, score2, body2) and (version, reason) == (1, "submitted")
        cases = [c for p in json.loads(body)["problems"] for c in p["cases"] if not c["hidden"]]
        assert public == pytest.approx(sum(c["points"] for c in cases))
        assert public_max == pytest.approx(sum(c["max_points"] for c in cases))
