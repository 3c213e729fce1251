import csv
import stat

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.service.access.auth import lookup
from grader.service.queue.store import Store


def tokens(path):
    with path.open() as f:
        return {r["student_id"]: r["token"] for r in csv.DictReader(f)}


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_init_makes_the_folder_a_private_secret_and_prints_the_token_once(tmp_path):
    data = tmp_path / "srv"
    r = run("admin", "init", "--data", str(data))
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    secret = data / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) == 64
    store = Store(f"sqlite:///{data / 'pa5.db'}")
    assert lookup(store, token).role == "instructor"
    before = secret.read_text()
    again = run("admin", "init", "--data", str(data))
    assert again.exit_code == 0
    assert secret.read_text() == before  # the secret fixes hidden cases: never replaced
    assert again.stdout.strip().splitlines()[-1] != token  # a second instructor token, the first still valid
    assert lookup(store, token) is not None


def test_init_with_a_given_secret_file_writes_none(tmp_path):
    given = tmp_path / "s.txt"
    given.write_text("abc\n")
    r = run("admin", "init", "--data", str(tmp_path / "d"), "--secret-file", str(given))
    assert r.exit_code == 0 and not (tmp_path / "d" / "secret").exists()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = run("admin", "init", "--data", str(tmp_path / "e"), "--secret-file", str(empty))
    assert r.exit_code == 2 and "empty" in r.output


def test_students_keeps_tokens_adds_new_ones_and_rotates_on_request(tmp_path):
    data = tmp_path / "d"
    assert run("admin", "init", "--data", str(data)).exit_code == 0
    roster, out = tmp_path / "roster.csv", tmp_path / "TOKENS.csv"
    roster.write_text("name,student_id\nAlice,alice\nBob,bob\n,\n")
    r = run("admin", "students", "--data", str(data), str(roster), "--out", str(out))
    assert r.exit_code == 0 and "2 new token(s), 0 kept" in r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    first = tokens(out)
    assert set(first) == {"alice", "bob"}
    roster.write_text("student_id\nalice\nbob\ncarol\n")
    r = run("admin", "students", "--data", str(data), str(roster), "--out", str(out))
    assert "1 new token(s), 2 kept" in r.output
    second = tokens(out)
    assert {k: second[k] for k in first} == first
    store = Store(f"sqlite:///{data / 'pa5.db'}")
    assert lookup(store, second["carol"]).student_id == "carol"
    r = run("admin", "students", "--data", str(data), str(roster), "--out", str(out), "--rotate")
    third = tokens(out)
    assert "3 new token(s)" in r.output and all(third[k] != second[k] for k in third)
    assert lookup(store, second["alice"]) is None and lookup(store, third["alice"]).student_id == "alice"


def test_students_refuses_to_lose_tokens_it_cannot_show(tmp_path):
    data = tmp_path / "d"
    run("admin", "init", "--data", str(data))
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nalice\n")
    run("admin", "students", "--data", str(data), str(roster), "--out", str(tmp_path / "T.csv"))
    r = run("admin", "students", "--data", str(data), str(roster), "--out", str(tmp_path / "other.csv"))
    assert r.exit_code == 2 and "--rotate" in r.output and "alice" in r.output
    assert not (tmp_path / "other.csv").exists()


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ("name\nalice\n", "no student_id column"),
        ("student_id\n\n", "lists no student"),
        ("student_id\na/b\n", "usable"),
    ],
)
def test_bad_rosters(tmp_path, roster, message):
    data = tmp_path / "d"
    run("admin", "init", "--data", str(data))
    (tmp_path / "r.csv").write_text(roster)
    r = run("admin", "students", "--data", str(data), str(tmp_path / "r.csv"), "--out", str(tmp_path / "T.csv"))
    assert r.exit_code == 2 and message in r.output


def test_admin_students_before_init_says_what_to_run(tmp_path):
    (tmp_path / "r.csv").write_text("student_id\na\n")
    r = run("admin", "students", "--data", str(tmp_path / "nope"), str(tmp_path / "r.csv"), "--out", "T.csv")
    assert r.exit_code == 2 and "admin init" in r.output
