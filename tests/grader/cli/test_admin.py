"""`admin init`, `admin tokens`, `serve` and `worker` with a data folder, as commands: subprocesses and a real app."""

import csv
import re
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from grader.cases.generate import generate
from grader.cases.seeds import hidden_seed
from grader.cli import cli
from grader.config import SECRET_ENV
from grader.service.ops.client import pack
from grader.spec import default_spec
from tests.grader.service.live import EXAMPLES, free_port, make_data, running, serve_process

CLI = [sys.executable, "-m", "grader"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch):
    """The secret comes from the data folder here, never from the environment (subprocesses inherit this)."""
    monkeypatch.delenv(SECRET_ENV, raising=False)


def pa5(*args, timeout=120):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def sign_in():
    """sign_in(url, token): a browser's cookie jar signed in through the sign-in form, CSRF token and all; every
    one is closed at the end of the test."""
    opened: list[httpx.Client] = []

    def open_one(url: str, token: str) -> httpx.Client:
        opened.append(httpx.Client(base_url=url, timeout=30))
        return _signed_in(opened[-1], token)

    yield open_one
    for b in opened:
        b.close()


def _signed_in(b: httpx.Client, token: str) -> httpx.Client:
    csrf = CSRF.search(b.get("/signin").text).group(1)
    r = b.post("/signin", data={"token": token, "csrf_token": csrf})
    assert r.status_code == 303, r.text
    assert b.get("/me").status_code == 200
    return b


def hidden_shapes(secret: bytes, student: str) -> dict[str, dict[str, list[int]]]:
    """The shapes of a student's hidden cases as drawn with `secret`, straight from grader.cases."""
    spec = default_spec()
    seed = hidden_seed(secret=secret, assignment=spec.assignment, student_id=student)
    cases = generate(spec=spec, seed=seed, hidden=True)
    return {c.id: {k: list(v.shape) for k, v in c.inputs.items() if v.ndim} for c in cases}  # reports omit scalars


@pytest.mark.slow
def test_serve_grades_with_the_secret_init_recorded_and_revoking_a_token_ends_it(tmp_path):
    secret = tmp_path / "S"
    secret.write_bytes(b"the course's own secret\n")
    data = tmp_path / "data"
    r = pa5("admin", "init", "--data", data, "--secret-file", secret)
    assert r.returncode == 0, r.stderr
    instructor = r.stdout.strip().splitlines()[-1]
    assert (data / "secret").read_bytes() == secret.read_bytes()
    (tmp_path / "roster.csv").write_text("student_id\nalice\n")
    r = pa5("admin", "students", "--data", data, tmp_path / "roster.csv", "--out", tmp_path / "T.csv")
    assert r.returncode == 0, r.stderr
    with (tmp_path / "T.csv").open() as f:
        alice = next(csv.DictReader(f))["token"]

    with serve_process(data, "--workers", "1") as (_, url):  # no --secret-file, no $PA5_GRADER_SECRET
        as_alice = {"Authorization": f"Bearer {alice}"}
        name, body = pack(EXAMPLES / "correct")
        r = httpx.post(f"{url}/api/submissions", headers=as_alice, files={"file": (name, body)}, timeout=30)
        assert r.status_code == 202, r.text
        sid = r.json()["id"]
        for _ in range(20):  # each wait answers at a change of status, or after 30 s
            state = httpx.get(f"{url}/api/submissions/{sid}?wait=30", headers=as_alice, timeout=60).json()
            if state["status"] not in ("queued", "running"):
                break
        assert state["status"] == "done", state
        report = httpx.get(
            f"{url}/api/submissions/{sid}/report", headers={"Authorization": f"Bearer {instructor}"}, timeout=30
        ).json()
        graded = {c["id"]: c["shapes"] for p in report["problems"] for c in p["cases"] if c["hidden"]}
        expected = hidden_shapes(b"the course's own secret", "alice")
        assert graded == expected and expected != hidden_shapes(b"another secret", "alice")
        assert report["score"] == 100

        r = pa5("admin", "tokens", "--data", data, "--revoke", "alice")
        assert r.returncode == 0 and "revoked alice's token" in r.stdout, r.stderr
        assert httpx.get(f"{url}/api/submissions", headers=as_alice, timeout=30).status_code == 401


def test_serve_on_a_folder_without_a_secret_exits_2_naming_the_fix(tmp_path):
    svc = make_data(tmp_path, students=["a"])
    (svc.data / "secret").unlink()
    r = pa5("serve", "--data", svc.data, "--sandbox", "process", "--port", free_port(), timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"{svc.data} holds no grading secret" in r.stderr
    assert f"`pa5-grader admin init --data {svc.data} --secret-file FILE`" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_whose_sandbox_cannot_start_exits_2_with_the_worker_process_s_reason(tmp_path, monkeypatch):
    """The sandbox starts in serve's worker process; its refusal is still serve's message, before the port opens."""
    svc = make_data(tmp_path, students=["a"])
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    port = free_port()
    r = pa5("serve", "--data", svc.data, "--sandbox", "docker", "--port", port, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Docker is not reachable at unix:///nonexistent/docker.sock" in r.stderr
    assert "Traceback" not in r.stderr and f"service on http://127.0.0.1:{port}" not in r.stderr


def test_admin_tokens_as_a_subprocess(tmp_path):
    data = tmp_path / "d"
    r = pa5("admin", "init", "--data", data)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    again = pa5("admin", "init", "--data", data)
    assert again.returncode == 0 and again.stdout == "" and "--add-instructor-token" in again.stderr
    r = pa5("admin", "tokens", "--data", data, "--list")
    assert r.returncode == 0 and token[:8] in r.stdout and token not in r.stdout
    r = pa5("admin", "tokens", "--data", data, "--revoke-instructor", token[:6])
    assert r.returncode == 0 and f"admin init --data {data} --add-instructor-token" in r.stderr
    r = pa5("admin", "tokens", "--data", data, "--revoke", "nobody")
    assert r.returncode == 2 and "no student 'nobody'" in r.stderr and "Traceback" not in r.stderr


def test_a_revoked_token_gets_401_and_every_session_made_with_it_ends(tmp_path, sign_in):
    svc = make_data(tmp_path, students=["alice", "bob"])
    with running(svc) as s:
        alice_browser, teacher_browser = sign_in(s.url, s.tokens["alice"]), sign_in(s.url, s.instructor)
        bob_browser = sign_in(s.url, s.tokens["bob"])
        with s.client("alice") as c:
            assert c.get("/api/submissions").status_code == 200
        assert alice_browser.get("/api/submissions").status_code == 200

        assert run("admin", "tokens", "--data", s.data, "--revoke", "alice").exit_code == 0
        with s.client("alice") as c:
            assert c.get("/api/submissions").status_code == 401
        assert alice_browser.get("/api/submissions").status_code == 401
        r = alice_browser.get("/me")
        assert r.status_code == 303 and r.headers["location"].endswith("/signin")
        csrf = CSRF.search(alice_browser.get("/signin").text).group(1)
        assert alice_browser.post("/signin", data={"token": s.tokens["alice"], "csrf_token": csrf}).status_code == 401
        assert bob_browser.get("/me").status_code == 200  # others are untouched

        r = run("admin", "tokens", "--data", s.data, "--revoke-instructor", s.instructor[:8])
        assert r.exit_code == 0 and "--add-instructor-token" in r.stderr
        with s.client("instructor") as c:
            assert c.get("/api/class/summary").status_code == 401
        assert teacher_browser.get("/api/class/summary").status_code == 401

        r = run("admin", "students", "--data", s.data, tmp_path / "roster.csv", "--out", tmp_path / "TOKENS.csv")
        assert r.exit_code == 0 and "1 new token(s), 1 kept" in r.output
        with (tmp_path / "TOKENS.csv").open() as f:
            fresh = {row["student_id"]: row["token"] for row in csv.DictReader(f)}
        assert fresh["alice"] != s.tokens["alice"] and fresh["bob"] == s.tokens["bob"]
        assert sign_in(s.url, fresh["alice"]).get("/api/submissions").status_code == 200
        assert alice_browser.get("/api/submissions").status_code == 401  # the old session stays ended


def test_worker_takes_the_database_and_the_secret_from_the_data_folder(tmp_path, monkeypatch):
    from grader.service.queue.celery import worker

    seen = {}
    monkeypatch.setattr(worker, "run_worker", lambda **kw: seen.update(kw))
    secret = tmp_path / "S"
    secret.write_text("worker-secret\n")
    data = tmp_path / "data"
    assert run("admin", "init", "--data", data, "--secret-file", secret).exit_code == 0
    r = run("worker", "--data", data, "--broker", "redis://127.0.0.1:1/0", "--sandbox", "process")
    assert r.exit_code == 0, r.output
    assert seen["database_url"] == f"sqlite:///{(data / 'pa5.db').resolve()}"
    assert seen["secret"] == b"worker-secret"

    other = tmp_path / "other"
    other.write_text("not the one\n")
    r = run("worker", "--data", data, "--broker", "redis://127.0.0.1:1/0", "--secret-file", other)
    assert r.exit_code == 2 and "is not the grading secret" in r.output
    (data / "secret").unlink()
    r = run("worker", "--data", data, "--broker", "redis://127.0.0.1:1/0")
    assert r.exit_code == 2 and f"{data} holds no grading secret" in r.output
    r = run("worker", "--data", tmp_path / "nope", "--broker", "redis://127.0.0.1:1/0")
    assert r.exit_code == 2 and "admin init" in r.output
    r = run("worker", "--broker", "redis://127.0.0.1:1/0")
    assert r.exit_code == 2 and "--data DIR" in r.output
