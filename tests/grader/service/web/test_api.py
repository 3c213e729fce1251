"""The JSON API over real HTTP against a real SQLite file (no workers: jobs stay queued unless completed here)."""

import csv
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from grader.report.render_json import render_json
from grader.service.access.auth import CSRF_COOKIE, SESSION_COOKIE
from grader.service.web import api as api_module
from grader.service.web.app import ACCEPTING
from tests.grader.service.live import EXAMPLES
from tests.grader.service.sample import make_report

GOOD = (EXAMPLES / "correct" / "backprop.py").read_bytes()


def submit(client: httpx.Client, data: bytes = GOOD, name: str = "backprop.py", **form) -> httpx.Response:
    return client.post("/api/submissions", files={"file": (name, data)}, data=form or None)


def finish(api, submission_id: int, report) -> None:
    """Complete the queued job of a submission as a worker would."""
    claim = api.store.leases.claim_next("test-worker", 60)
    assert claim.submission_id == submission_id
    assert api.store.leases.complete_job(claim.job_id, "test-worker", report)


def test_submit_answers_202_with_queue_position_and_the_submission_reads_back(api):
    with api.client("alice") as c:
        r = submit(c)
        assert r.status_code == 202
        body = r.json()
        assert body["status"] == "queued" and body["queue_position"] == 1
        got = c.get(f"/api/submissions/{body['id']}").json()
    assert {k: got[k] for k in ("id", "student_id", "status", "queue_position", "report")} == {
        "id": body["id"],
        "student_id": "alice",
        "status": "queued",
        "queue_position": 1,
        "report": None,
    }
    assert got["submitted_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/class/summary"),
        ("GET", "/api/class/summary.csv"),
        ("POST", "/api/submissions/1/regrade"),
        ("POST", "/api/regrade"),
        ("GET", "/api/queue"),
    ],
)
def test_student_token_gets_403_on_instructor_endpoints(api, method, path):
    with api.client("alice") as c:
        submit(c)
        r = c.request(method, path)
    assert r.status_code == 403
    assert r.json() == {"detail": "this needs an instructor token"}
    with api.client("instructor") as c:
        assert c.request(method, path).status_code in (200, 202)


def test_a_student_never_reads_another_students_submission(api):
    with api.client("alice") as c:
        sid = submit(c).json()["id"]
    finish(api, sid, make_report("alice", total=50))
    with api.client("bob") as c:
        for path in (
            f"/api/submissions/{sid}",
            f"/api/submissions/{sid}/report",
            f"/api/submissions/{sid}/report?format=text",
        ):
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.json() == {"detail": f"no submission {sid} of yours"}  # the same as a missing one
        assert c.get("/api/submissions/999").json() == {"detail": "no submission 999 of yours"}
        assert c.get("/api/submissions").json() == {"submissions": []}
        assert c.get("/api/submissions", params={"student_id": "alice"}).status_code == 403
        assert submit(c, student_id="alice").status_code == 403
    with api.client("instructor") as c:
        rows = c.get("/api/submissions", params={"student_id": "alice"}).json()["submissions"]
        assert [r["id"] for r in rows] == [sid]
        assert c.get(f"/api/submissions/{sid}").json()["report"]["score"] == 50


@pytest.mark.parametrize("auth", [None, "Bearer not-a-token", "Basic YWxpY2U6eA==", "Bearer"])
def test_missing_or_wrong_token_is_401(api, auth):
    headers = {"Authorization": auth} if auth else {}
    with httpx.Client(base_url=api.url, headers=headers) as c:
        r = c.get("/api/submissions")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in r.json()["detail"]


def test_tokens_are_stored_hashed(api):
    with api.client("alice") as c:
        assert submit(c).status_code == 202
    raw = b"".join(p.read_bytes() for p in api.data.glob("pa5.db*"))  # the database and its WAL
    assert raw  # the search below means something
    for token in [api.instructor, *api.tokens.values()]:
        assert token.encode() not in raw
    import hashlib

    assert hashlib.sha256(api.tokens["alice"].encode()).hexdigest().encode() in raw


def test_rate_limit_answers_429_with_retry_after(api):
    with api.client("alice") as c:
        assert submit(c).status_code == 202
        r = submit(c)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 10
    assert "at most 1 per 10 s" in r.json()["detail"]
    with api.client("bob") as c:
        assert submit(c).status_code == 202


def test_upload_over_the_cap_is_413_and_bad_uploads_are_4xx(api):
    with api.client("alice") as c:
        r = submit(c, b"#" * ((1 << 20) + 100))
        assert r.status_code == 413 and "1048576" in r.json()["detail"]
        r = c.post(
            "/api/submissions",
            content=b"x" * (3 << 20),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert r.status_code == 413

        def chunks():  # a well-formed file part without Content-Length: counted as it arrives
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="backprop.py"\r\n\r\n'
            for _ in range(48):
                yield b"#" * (64 << 10)

        r = c.post("/api/submissions", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
    with api.client("bob") as c:  # alice's refused uploads count towards her rate limit (test_bad_requests.py)
        r = submit(c, b"def f(:\n")
        assert r.status_code == 422 and "not valid Python" in r.json()["detail"]
        r = c.post("/api/submissions")
        assert r.status_code == 422 and "file" in r.json()["detail"]
    assert api.store.list_submissions() == []
    assert list((api.data / "tmp").iterdir()) == []


def test_hidden_cases_reach_the_student_only_once_released(api):
    with api.client("alice") as c:
        sid = submit(c).json()["id"]
    report = make_report("alice", total=50)
    hidden = report.problems[0].cases[1]
    report.problems[0].cases[1] = hidden.model_copy(update={"message": "secret detail", "mistake": "conv.dx.x"})
    finish(api, sid, report)
    with api.client("alice") as c:
        body = c.get(f"/api/submissions/{sid}").json()
        text = c.get(f"/api/submissions/{sid}/report", params={"format": "text"}).text
    mine = body["report"]
    assert [c["id"] for c in mine["problems"][0]["cases"]] == ["conv-p01"]
    assert (mine["score"], mine["max_score"], body["score"], body["max_score"]) == (25, 50, 25, 50)  # public only
    assert "secret detail" not in text and "h01" not in text and "Hidden cases: their results come" in text
    with api.client("instructor") as c:
        theirs = c.get(f"/api/submissions/{sid}").json()["report"]
        assert theirs["problems"][0]["cases"][1]["message"] == "secret detail"
        assert c.put("/api/assignment", json={"release": "immediately"}).status_code == 200
    with api.client("alice") as c:
        body = c.get(f"/api/submissions/{sid}").json()
    case = body["report"]["problems"][0]["cases"][1]
    assert case["id"] == "conv-h01" and case["message"] == "secret detail" and body["score"] == 50


@pytest.mark.parametrize(
    ("fmt", "media", "check"),
    [
        ("json", "application/json", lambda t, r: json.loads(t)["score"] == 25 and "h01" not in t),
        ("junit", "application/xml", lambda t, r: t.startswith("<?xml") and "<testsuite " in t),
        ("text", "text/plain", lambda t, r: "grade of alice" in t),
        ("gradescope", "application/json", lambda t, r: json.loads(t)["score"] == 25 and "h01" not in t),
    ],
)
def test_report_formats(api, fmt, media, check):
    with api.client("alice") as c:
        sid = submit(c).json()["id"]
        assert c.get(f"/api/submissions/{sid}/report").status_code == 404  # not graded yet
        report = make_report("alice", total=50)
        finish(api, sid, report)
        r = c.get(f"/api/submissions/{sid}/report", params={"format": fmt})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert check(r.text, report)
        assert c.get(f"/api/submissions/{sid}/report", params={"format": "pdf"}).status_code == 422
    if fmt == "json":  # an instructor's is the report itself, on time (no calendar: no due date)
        on_time = report.model_copy(update={"late": False, "lateness_seconds": 0, "raw_score": 50.0, "penalty": 0.0})
        with api.client("instructor") as c:
            assert c.get(f"/api/submissions/{sid}/report", params={"format": fmt}).text == render_json(on_time)


def test_class_summary_and_csv_count_each_students_latest_report(api):
    ids = {}
    for student, score in (("alice", 40), ("bob", 90)):
        with api.client(student) as c:
            ids[student] = submit(c).json()["id"]
        finish(api, ids[student], make_report(student, total=score))
    with api.client("instructor") as c:
        summary = c.get("/api/class/summary").json()
        rows = list(csv.DictReader(io.StringIO(c.get("/api/class/summary.csv").text)))
    assert summary["students"] == 2
    assert summary["score"]["mean"] == 65
    assert {r["student_id"]: float(r["score"]) for r in rows} == {"alice": 40, "bob": 90}


def test_regrades_queue_behind_new_submissions(api):
    with api.client("alice") as c:
        old = submit(c).json()["id"]
    finish(api, old, make_report("alice", total=40))
    with api.client("instructor") as c:
        r = c.post(f"/api/submissions/{old}/regrade")
        assert r.status_code == 202 and r.json()["status"] == "queued"
        assert c.post("/api/submissions/999/regrade").status_code == 404
        with api.client("bob") as b:
            new = submit(b).json()["id"]
        queue = c.get("/api/queue").json()
        assert [(j["submission_id"], j["kind"]) for j in queue["jobs"]] == [(new, "new"), (old, "regrade")]
        assert queue["counts"]["queued"] == 2
        assert c.post("/api/regrade").json() == {"queued": 0}  # both latest submissions are already queued
        assert c.get(f"/api/submissions/{old}").json()["queue_position"] == 2


def test_instructor_submits_for_a_named_student(api):
    with api.client("instructor") as c:
        assert submit(c).status_code == 422
        r = submit(c, student_id="carol")
        assert r.status_code == 202
        assert c.get(f"/api/submissions/{r.json()['id']}").json()["student_id"] == "carol"


def test_security_headers_and_health(api):
    with httpx.Client(base_url=api.url) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"  # the pages' one static script; nothing inline, no other origin
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_a_session_cookie_needs_the_csrf_header_to_post(api):
    from grader.service.access.auth import hash_token, lookup, session_value

    key = (api.data / "session.key").read_text().strip()
    principal = lookup(api.store, api.tokens["alice"])
    cookie = session_value(bytes.fromhex(key), principal, hash_token(api.tokens["alice"]))
    with httpx.Client(base_url=api.url, cookies={SESSION_COOKIE: cookie}) as c:
        assert c.get("/api/submissions").status_code == 200  # reading needs no CSRF token
        r = submit(c)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        assert CSRF_COOKIE in c.cookies
    with httpx.Client(base_url=api.url, cookies={SESSION_COOKIE: cookie + "0"}) as c:
        assert c.get("/api/submissions").status_code == 401  # a tampered cookie is nobody


def test_long_poll_answers_when_the_status_changes(api):
    import threading

    with api.client("alice") as c:
        sid = submit(c).json()["id"]
    report = make_report("alice", total=70)
    done = threading.Timer(0.5, finish, args=(api, sid, report))
    done.start()
    with api.client("alice", timeout=20) as c:  # far below the 60 s asked for: only a change can answer in time
        r = c.get(f"/api/submissions/{sid}", params={"wait": 60})
        first = r.json()["status"]
        if first == "running":  # queued -> running is a change too; ask again for the end
            first = c.get(f"/api/submissions/{sid}", params={"wait": 60}).json()["status"]
        assert c.get(f"/api/submissions/{sid}", params={"wait": 61}).status_code == 422
    done.join()
    assert first == "done"


def test_a_burst_of_uploads_is_checked_two_at_a_time_and_all_are_answered(api, monkeypatch):
    """Four students upload at once; each check is held 0.3 s. Two run side by side (ACCEPTING), never more, and
    every upload is answered 202 with a place of its own."""
    real, lock, now, peak = api_module.check_upload, threading.Lock(), [0], [0]

    def slow_check(**kw):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.3)
        with lock:
            now[0] -= 1
        return real(**kw)

    monkeypatch.setattr(api_module, "check_upload", slow_check)

    def one(student):
        with api.client(student) as c:
            return submit(c)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, ["alice", "bob", "carol", "dave"]))
    assert [r.status_code for r in answers] == [202] * 4
    assert sorted(r.json()["queue_position"] for r in answers) == [1, 2, 3, 4]
    assert ACCEPTING == 2 and peak[0] == ACCEPTING
