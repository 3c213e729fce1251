import csv
import hashlib
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.service.access.auth import lookup
from grader.service.queue.store import Store

RELEASED = Path(__file__).resolve().parents[1] / "fixtures" / "released-5b0075a.sqlite"


def tokens(path):
    with path.open() as f:
        return {r["student_id"]: r["token"] for r in csv.DictReader(f)}


def run(*args):
    return CliRunner().invoke(cli, list(args))


def dump(db: Path) -> list[str]:
    """Every row and table of a SQLite file, read with sqlite3 alone (its write-ahead log included)."""
    with sqlite3.connect(db) as c:
        return list(c.iterdump())


def token_rows(data: Path) -> list[tuple]:
    with sqlite3.connect(data / "pa5.db") as c:
        return c.execute("SELECT role, student_id, token_sha256, prefix, revoked_at FROM tokens ORDER BY id").fetchall()


def listed(data: Path) -> list[list[str]]:
    """`admin tokens --list`, split into columns (times are two words: 'YYYY-MM-DD HH:MM:SS UTC')."""
    r = run("admin", "tokens", "--data", str(data), "--list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["role", "student", "token", "created", "revoked"]
    return [line.split() for line in lines[1:]]


@pytest.fixture
def served(tmp_path):
    """A data folder made by `admin init`, with alice and bob on the roster: (data, instructor token, tokens)."""
    data = tmp_path / "d"
    r = run("admin", "init", "--data", str(data))
    assert r.exit_code == 0, r.output
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id\nalice\nbob\n")
    assert run("admin", "students", "--data", str(data), str(roster), "--out", str(tmp_path / "T.csv")).exit_code == 0
    return data, r.stdout.strip().splitlines()[-1], tokens(tmp_path / "T.csv")


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
    assert f"names it {token[:8]}" in r.stderr


def test_a_second_init_says_so_and_changes_nothing(served):
    data, instructor, _ = served
    secret, before = (data / "secret").read_bytes(), dump(data / "pa5.db")
    again = run("admin", "init", "--data", str(data))
    assert again.exit_code == 0, again.output
    assert again.stdout == ""  # no token
    assert "already holds a service" in again.stderr and "--add-instructor-token" in again.stderr
    assert (data / "secret").read_bytes() == secret
    assert dump(data / "pa5.db") == before
    assert lookup(Store(f"sqlite:///{data / 'pa5.db'}"), instructor).role == "instructor"


def test_add_instructor_token_issues_one_more_and_both_work(served):
    data, first, _ = served
    r = run("admin", "init", "--data", str(data), "--add-instructor-token")
    assert r.exit_code == 0, r.output
    second = r.stdout.strip()
    assert len(second.splitlines()) == 1 and second != first
    store = Store(f"sqlite:///{data / 'pa5.db'}")
    assert lookup(store, first).role == lookup(store, second).role == "instructor"
    instructors = [row for row in listed(data) if row[0] == "instructor"]
    assert [row[2] for row in instructors] == [first[:8], second[:8]]


def test_init_records_the_given_secret_byte_for_byte_and_never_replaces_it(tmp_path):
    given = tmp_path / "s.txt"
    given.write_bytes(b"abc-the-course-secret\n")
    data = tmp_path / "d"
    r = run("admin", "init", "--data", str(data), "--secret-file", str(given))
    assert r.exit_code == 0, r.output
    assert (data / "secret").read_bytes() == given.read_bytes()
    assert stat.S_IMODE((data / "secret").stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir() if p.name.endswith(".tmp")] == []
    same = tmp_path / "same.txt"
    same.write_bytes(b"  abc-the-course-secret")  # the same secret as read_secret reads it
    assert run("admin", "init", "--data", str(data), "--secret-file", str(same)).exit_code == 0
    other = tmp_path / "other.txt"
    other.write_text("another secret\n")
    r = run("admin", "init", "--data", str(data), "--secret-file", str(other), "--add-instructor-token")
    assert r.exit_code == 2 and "different grading secret" in r.output and "never replaced" in r.output
    assert "Traceback" not in r.output and r.stdout == ""  # refused before any token was issued
    assert (data / "secret").read_bytes() == b"abc-the-course-secret\n"
    assert [row[0] for row in listed(data)] == ["instructor"]


def test_a_fresh_folder_refuses_a_secret_file_that_is_empty_or_missing(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    r = run("admin", "init", "--data", str(tmp_path / "e"), "--secret-file", str(empty))
    assert r.exit_code == 2 and "empty" in r.output
    r = run("admin", "init", "--data", str(tmp_path / "m"), "--secret-file", str(tmp_path / "nope"))
    assert r.exit_code == 2 and "cannot read the secret file" in r.output
    assert not (tmp_path / "e" / "secret").exists() and not (tmp_path / "m" / "secret").exists()


def test_an_existing_service_without_a_recorded_secret_gets_none_made_but_records_a_given_one(served, tmp_path):
    """A folder from before init recorded secrets (made with --secret-file S): a new secret would change every
    hidden case, so init makes none; given S, it records it and still issues no token."""
    data, instructor, _ = served
    (data / "secret").unlink()
    before = dump(data / "pa5.db")
    r = run("admin", "init", "--data", str(data))
    assert r.exit_code == 0 and not (data / "secret").exists()
    assert "records no grading secret" in r.stderr and "--secret-file FILE" in r.stderr
    given = tmp_path / "S"
    given.write_text("the-old-secret\n")
    r = run("admin", "init", "--data", str(data), "--secret-file", str(given))
    assert r.exit_code == 0 and r.stdout.startswith("grading secret from")
    assert "already holds a service" in r.stderr and instructor not in r.output
    assert (data / "secret").read_bytes() == b"the-old-secret\n"
    assert dump(data / "pa5.db") == before


def test_init_on_a_database_behind_the_code_leaves_it_and_will_not_add_a_token(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(RELEASED, data / "pa5.db")
    before = dump(data / "pa5.db")
    r = run("admin", "init", "--data", str(data))
    assert r.exit_code == 0 and "already holds a service (schema revision 0001)" in r.stderr
    r = run("admin", "init", "--data", str(data), "--add-instructor-token")
    assert r.exit_code == 2 and "admin upgrade --data" in r.output
    assert dump(data / "pa5.db") == before


def test_list_names_every_token_by_prefix_without_revealing_it(served):
    data, instructor, issued = served
    rows = listed(data)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("instructor", "-", instructor[:8]),
        ("student", "alice", issued["alice"][:8]),
        ("student", "bob", issued["bob"][:8]),
    ]
    assert all(r[5] == "UTC" and r[6] == "-" for r in rows)  # created ... UTC, not revoked
    out = run("admin", "tokens", "--data", str(data), "--list").stdout
    assert all(t not in out for t in [instructor, *issued.values()])
    assert [r[3] for r in token_rows(data)] == [instructor[:8], issued["alice"][:8], issued["bob"][:8]]


def test_revoking_a_student_keeps_them_on_the_roster_and_admin_students_brings_them_back(served, tmp_path):
    data, _, issued = served
    r = run("admin", "tokens", "--data", str(data), "--revoke", "alice")
    assert r.exit_code == 0, r.output
    assert f"revoked alice's token {issued['alice'][:8]}" in r.stdout
    store = Store(f"sqlite:///{data / 'pa5.db'}")
    assert lookup(store, issued["alice"]) is None and lookup(store, issued["bob"]).student_id == "bob"
    assert store.is_student("alice")  # still on the roster
    (role, sid, sha, prefix, revoked_at) = token_rows(data)[1]
    assert (role, sid, prefix) == ("student", "alice", issued["alice"][:8]) and revoked_at is not None
    assert sha != hashlib.sha256(issued["alice"].encode()).hexdigest() and "-" in sha  # no sha256 hex has a '-'
    assert listed(data)[1][6] != "-"
    again = run("admin", "tokens", "--data", str(data), "--revoke", "alice")
    assert again.exit_code == 0 and "already revoked" in again.stdout
    # re-running admin students: bob's token is kept, alice gets a new one and is back
    out, roster = tmp_path / "T.csv", tmp_path / "roster.csv"
    r = run("admin", "students", "--data", str(data), str(roster), "--out", str(out))
    assert r.exit_code == 0 and "1 new token(s), 1 kept" in r.output and "alice" in r.stderr
    fresh = tokens(out)
    assert fresh["bob"] == issued["bob"] and fresh["alice"] != issued["alice"]
    assert lookup(store, fresh["alice"]).student_id == "alice"
    assert token_rows(data)[1][3:] == (fresh["alice"][:8], None)


def test_rotate_also_brings_a_revoked_student_back(served, tmp_path):
    data, _, issued = served
    assert run("admin", "tokens", "--data", str(data), "--revoke", "bob").exit_code == 0
    out = tmp_path / "T.csv"
    r = run("admin", "students", "--data", str(data), str(tmp_path / "roster.csv"), "--out", str(out), "--rotate")
    assert r.exit_code == 0 and "2 new token(s)" in r.output
    assert tokens(out)["bob"] != issued["bob"]
    assert lookup(Store(f"sqlite:///{data / 'pa5.db'}"), tokens(out)["bob"]).student_id == "bob"
    assert [row[4] for row in token_rows(data)] == [None, None, None]


def test_revoking_an_unknown_student_is_an_error(served):
    data, _, _ = served
    r = run("admin", "tokens", "--data", str(data), "--revoke", "zoe")
    assert r.exit_code == 2 and "no student 'zoe' on the roster" in r.output


def test_revoking_the_last_instructor_token_says_how_to_make_a_new_one(served):
    data, instructor, _ = served
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", instructor[:5])
    assert r.exit_code == 0, r.output
    assert f"revoked instructor token {instructor[:8]}" in r.stdout
    assert f"admin init --data {data} --add-instructor-token" in r.stderr
    assert lookup(Store(f"sqlite:///{data / 'pa5.db'}"), instructor) is None
    r = run("admin", "init", "--data", str(data), "--add-instructor-token")
    assert r.exit_code == 0 and lookup(Store(f"sqlite:///{data / 'pa5.db'}"), r.stdout.strip()).role == "instructor"
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", instructor[:8])
    assert r.exit_code == 0 and "already revoked" in r.stdout and "no instructor token works" not in r.stderr


def test_revoke_instructor_needs_a_unique_prefix_of_four_characters(served):
    data, _, _ = served
    store = Store(f"sqlite:///{data / 'pa5.db'}")
    store.tokens.add_instructor("a" * 64, "abcd1111")
    store.tokens.add_instructor("b" * 64, "abcd2222")
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", "abc")
    assert r.exit_code == 2 and "at least 4 characters" in r.output
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", "abcd")
    assert r.exit_code == 2 and "names 2 instructor tokens" in r.output
    assert "abcd1111 (created" in r.output and "abcd2222 (created" in r.output
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", "zzzz9")
    assert r.exit_code == 2 and "no instructor token starts with 'zzzz9'" in r.output and "abcd1111" in r.output
    assert [row[4] for row in token_rows(data)] == [None] * 5  # nothing revoked
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", "abcd2")
    assert r.exit_code == 0 and "no instructor token works" not in r.stderr
    assert [row[3] for row in token_rows(data) if row[4] is not None] == ["abcd2222"]


def test_tokens_made_before_prefixes_are_named_by_their_hash_and_revocable_by_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(RELEASED, data / "pa5.db")
    assert run("admin", "upgrade", "--data", str(data)).exit_code == 0
    old = token_rows(data)
    rows = listed(data)
    assert [r[2] for r in rows] == ["sha256:" + sha[:8] for _, _, sha, _, _ in old]
    instructor_sha = next(sha for role, _, sha, _, _ in old if role == "instructor")
    r = run("admin", "tokens", "--data", str(data), "--revoke-instructor", "sha256:" + instructor_sha[:6])
    assert r.exit_code == 0, r.output
    after = listed(data)
    assert after[0][2] == "sha256:" + instructor_sha[:8] and after[0][6] != "-"  # still named once its hash is gone
    assert token_rows(data)[0][2] != instructor_sha


@pytest.mark.parametrize(
    "args",
    [[], ["--list", "--revoke", "alice"], ["--revoke", "alice", "--revoke-instructor", "abcd"]],
)
def test_tokens_takes_exactly_one_action(served, args):
    data, _, _ = served
    r = run("admin", "tokens", "--data", str(data), *args)
    assert r.exit_code == 2 and "give one of --list" in r.output


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


@pytest.mark.parametrize("command", [["students", "r.csv", "--out", "T.csv"], ["tokens", "--list"]])
def test_admin_commands_before_init_say_what_to_run(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text("student_id\na\n")
    r = run("admin", command[0], "--data", str(tmp_path / "nope"), *command[1:])
    assert r.exit_code == 2 and "admin init" in r.output
