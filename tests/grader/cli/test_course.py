"""The course calendar end to end, as an instructor runs a term: `admin assignment`, `extend`, `release` and
`gradebook` as subprocesses against a real `serve` (HTTP, SQLite, real grading) whose clock is a file the test
rewrites ($PA5_CLOCK_FILE): never a sleep until a deadline. Every expected time and penalty is worked out by hand
from the calendar below; raw scores come from the instructor's report of the same submission."""

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import contextmanager

import httpx
import pytest

from grader.config import SECRET_ENV
from grader.service.ops.client import pack
from tests.grader.service.live import EXAMPLES, make_data, serve_process

UTC = dt.timezone.utc
OPENS = dt.datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 2026-12-01T00:00 in New York (UTC-5)
DUE = dt.datetime(2026, 12, 11, 4, 59, tzinfo=UTC)  # 2026-12-10T23:59 New York
LATE_DUE = dt.datetime(2026, 12, 13, 4, 59, tzinfo=UTC)  # 2026-12-12T23:59 New York
BOB_DUE = dt.datetime(2026, 12, 15, 4, 59, tzinfo=UTC)  # his extension, 2026-12-14T23:59 New York
S = dt.timedelta(seconds=1)
DAY = 86400
HIDDEN_ID = re.compile(r"\b[a-z]+-h\d\d\b")  # conv-h01, ...: hidden cases' ids; public ones are conv-p01
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


class Term:
    """A data folder, its clock file, a running serve and the commands an instructor types."""

    def __init__(self, svc, clock_file, url):
        self.svc, self.clock_file, self.url = svc, clock_file, url

    def at(self, t: dt.datetime) -> None:
        self.clock_file.write_text(t.isoformat())

    def admin(self, *args) -> subprocess.CompletedProcess:
        env = {**os.environ, "PA5_CLOCK_FILE": str(self.clock_file)}
        cmd = [sys.executable, "-m", "grader", "admin", args[0], "--data", str(self.svc.data), *map(str, args[1:])]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        assert "Traceback" not in r.stderr, r.stderr
        return r

    def auth(self, who: str) -> dict:
        token = self.svc.instructor if who == "instructor" else self.svc.tokens[who]
        return {"Authorization": f"Bearer {token}"}

    def get(self, who: str, path: str, **kw) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=self.auth(who), timeout=60, **kw)

    def upload(self, who: str, example: str = "correct") -> httpx.Response:
        name, body = pack(EXAMPLES / example)
        return httpx.post(
            f"{self.url}/api/submissions", headers=self.auth(who), files={"file": (name, body)}, timeout=60
        )

    def graded(self, who: str, example: str = "correct") -> int:
        r = self.upload(who, example)
        assert r.status_code == 202, r.text
        return self.wait(r.json()["id"])

    def wait(self, sid: int) -> int:
        for _ in range(20):  # each wait answers at a change of status, or after 30 s
            state = self.get("instructor", f"/api/submissions/{sid}", params={"wait": 30}).json()
            if state["status"] not in ("queued", "running"):
                break
        assert state["status"] == "done", state
        return sid

    def raw(self, sid: int) -> float:
        """The raw score: the instructor's report's points over every case, before any penalty."""
        report = self.get("instructor", f"/api/submissions/{sid}/report").json()
        return sum(p["score"] for p in report["problems"])


@pytest.fixture
def term(tmp_path):
    svc = make_data(tmp_path)
    clock = tmp_path / "now"
    clock.write_text(OPENS.isoformat())
    with serve_process(svc.data, "--workers", "1", "--rate-limit", "1000/1", env={"PA5_CLOCK_FILE": str(clock)}) as (
        _,
        url,
    ):
        yield Term(svc, clock, url)


def calendar(term, *extra):
    r = term.admin(
        "assignment",
        *("--opens", "2026-12-01T00:00", "--due", "2026-12-10T23:59", "--late-due", "2026-12-12T23:59"),
        *("--late-penalty", "0.1", "--timezone", "America/New_York", *extra),
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_windows_lateness_extensions_limits_policies_and_the_gradebook(term, tmp_path):
    shown = calendar(term, "--max-submissions", 3)
    assert re.search(r"^due:\s+2026-12-10T23:59:00-05:00$", shown, re.M), shown
    assert re.search(r"^late due:\s+2026-12-12T23:59:00-05:00$", shown, re.M)

    term.at(OPENS - S)
    early = term.upload("bob")
    assert early.status_code == 403 and "2026-12-01T00:00:00-05:00" in early.json()["detail"]
    term.at(OPENS)  # the opening second itself is open
    bob_first = term.graded("bob", "unflipped_kernel")

    term.at(DUE)  # exactly at the due date: on time
    on_time = term.graded("alice", "unflipped_kernel")
    term.at(DUE + S)  # one second after: late by 1 s
    late_1s = term.graded("alice", "correct")
    term.at(DUE + (DAY + 1) * S)
    late_day = term.graded("alice", "unflipped_kernel")
    refused = term.upload("alice")  # the fourth of three
    assert refused.status_code == 429 and "3" in refused.json()["detail"], refused.text

    subs = {
        s["id"]: s
        for s in term.get("instructor", "/api/submissions", params={"student_id": "alice"}).json()["submissions"]
    }
    assert (subs[on_time]["late"], subs[on_time]["lateness_seconds"], subs[on_time]["penalty"]) == (False, 0, 0)
    assert (subs[late_1s]["late"], subs[late_1s]["lateness_seconds"]) == (True, 1)
    raw = {sid: term.raw(sid) for sid in (on_time, late_1s, late_day)}
    assert raw[late_1s] == pytest.approx(100) and raw[on_time] < 100
    assert subs[late_1s]["penalty"] == pytest.approx(100 * 0.1 / DAY)
    assert subs[late_day]["penalty"] == pytest.approx(raw[late_day] * 0.1 * (DAY + 1) / DAY)
    assert subs[late_day]["score"] == pytest.approx(raw[late_day] * (1 - 0.1 * (DAY + 1) / DAY))
    assert [subs[i]["counts"] for i in (on_time, late_1s, late_day)] == [False, False, True]  # latest

    term.at(LATE_DUE)  # the last accepted second, two days late: 20 % off
    dave = term.graded("dave", "unflipped_kernel")
    term.at(LATE_DUE + S)
    closed = term.upload("dave")
    assert closed.status_code == 403 and "2026-12-12T23:59:00-05:00" in closed.json()["detail"]
    assert term.upload("bob").status_code == 403  # bob too, until his extension

    r = term.admin("extend", "bob", "--due", "2026-12-14T23:59")
    assert r.returncode == 0, r.stderr
    bob_view = term.get("bob", "/api/assignment").json()["you"]
    assert bob_view["due"] == "2026-12-14T23:59:00-05:00" and bob_view["extended"] and bob_view["accepting"]
    assert term.get("alice", "/api/assignment").json()["you"]["due"] == "2026-12-10T23:59:00-05:00"
    bob_late_for_others = term.graded("bob", "correct")
    assert term.get("bob", f"/api/submissions/{bob_late_for_others}").json()["late"] is False
    term.at(BOB_DUE + S)  # his extension has no late due date: it closes at his due date
    assert term.upload("bob").status_code == 403

    book = {r["student_id"]: r for r in term.get("instructor", "/api/class/gradebook").json()["rows"]}
    assert set(book) == {"alice", "bob", "carol", "dave"}
    assert book["carol"]["status"] == "no submission" and book["carol"]["submission_id"] is None
    assert book["carol"]["submissions"] == 0 and book["carol"]["score"] is None
    assert (book["alice"]["submission_id"], book["alice"]["submissions"], book["alice"]["status"]) == (
        late_day,
        3,
        "graded",
    )
    assert book["alice"]["submitted_at"] == "2026-12-11T23:59:01-05:00"
    assert book["dave"]["submission_id"] == dave and book["dave"]["lateness_seconds"] == 2 * DAY
    assert book["dave"]["score"] == pytest.approx(term.raw(dave) * 0.8)
    assert (book["bob"]["submission_id"], book["bob"]["late"]) == (bob_late_for_others, False)
    assert book["bob"]["extended_due"] == "2026-12-14T23:59:00-05:00" and bob_first != bob_late_for_others

    r = term.admin("assignment", "--score-policy", "best")  # effective at once in the running serve
    assert r.returncode == 0, r.stderr
    book = {r["student_id"]: r for r in term.get("instructor", "/api/class/gradebook").json()["rows"]}
    assert book["alice"]["submission_id"] == late_1s  # 100 less a second's penalty beats the on-time 30-odd
    assert book["alice"]["score"] == pytest.approx(100 - 100 * 0.1 / DAY)

    served = term.get("instructor", "/api/class/gradebook.csv")
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/csv")
    out = tmp_path / "book.csv"
    r = term.admin("gradebook", "--out", out)
    assert r.returncode == 0 and "4 student(s)" in r.stdout, r.stderr
    for text in (served.text, out.read_text()):
        rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(text))}
        assert set(rows) == {"alice", "bob", "carol", "dave"}
        assert rows["carol"]["status"] == "no submission" and rows["carol"]["score"] == ""
        assert rows["alice"]["submission_id"] == str(late_1s) and rows["alice"]["late"] == "yes"
        assert rows["alice"]["lateness_seconds"] == "1" and rows["alice"]["score"] == "100"  # 99.9999 to 2 decimals


def hidden_ids(text: str) -> set[str]:
    return set(HIDDEN_ID.findall(text))


@contextmanager
def signed_in(term, who: str):
    """A browser's cookie jar signed in through the form, as a student's pages are read."""
    with httpx.Client(base_url=term.url, timeout=60) as b:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', b.get("/signin").text).group(1)
        assert b.post("/signin", data={"token": term.svc.tokens[who], "csrf_token": csrf}).status_code == 303
        yield b


def shows_hidden(seen: dict[str, str]) -> dict[str, bool]:
    """Per format, whether anything of the hidden cases shows: their ids (the text report names only a few failing
    cases, so there the total it is out of: 100 with hidden cases, the public cases' 37.11 without)."""
    out = {f: bool(hidden_ids(t)) for f, t in seen.items() if f != "text"}
    total = re.search(r"score [\d.]+ / ([\d.]+)$", seen["text"].strip())
    out["text"] = bool(hidden_ids(seen["text"])) or float(total.group(1)) > 99.99
    return out


def formats(term, who: str, sid: int) -> dict[str, str]:
    out = {}
    for f in ("json", "junit", "text", "gradescope"):
        r = term.get(who, f"/api/submissions/{sid}/report", params={"format": f})
        assert r.status_code == 200, r.text
        out[f] = r.text
    ET.fromstring(out["junit"])  # well-formed either way
    return out


def test_release_after_due_by_extension_and_by_hand_in_every_format_and_regrade_history(term):
    calendar(term)
    term.admin("extend", "bob", "--due", "2026-12-14T23:59")
    term.at(DUE)
    alice = term.graded("alice", "unflipped_kernel")
    bob = term.graded("bob", "unflipped_kernel")
    everything = formats(term, "instructor", alice)
    assert shows_hidden(everything) == dict.fromkeys(everything, True)  # the instructor always sees everything

    for who, sid in (("alice", alice), ("bob", bob)):  # before release: public cases only, in every format
        seen = formats(term, who, sid)
        assert not any(shows_hidden(seen).values()), shows_hidden(seen)
        view = term.get(who, f"/api/submissions/{sid}").json()
        assert view["scores_include_hidden"] is False and view["max_score"] < 50
        assert "results come after your due date" in seen["text"]
        assert sum(t["max_score"] for t in json.loads(seen["gradescope"])["tests"]) < 50

    with signed_in(term, "alice") as page:
        html = page.get(f"/submissions/{alice}").text
        assert not hidden_ids(html) and "results come after your due date" in html
        assert "/ 100" not in html  # no total that includes hidden cases
    term.at(DUE + S)  # alice's results are out, bob's wait for his own due date
    with signed_in(term, "alice") as page:
        html = page.get(f"/submissions/{alice}").text
        assert "/ 100" in html and "results come after your due date" not in html  # the page names failing cases only
    seen = formats(term, "alice", alice)
    assert all(shows_hidden(seen).values()) and hidden_ids(seen["json"]) == hidden_ids(everything["json"])
    assert term.get("alice", f"/api/submissions/{alice}").json()["max_score"] == pytest.approx(100)
    assert not any(shows_hidden(formats(term, "bob", bob)).values())

    r = term.admin("assignment", "--release", "manual")
    assert r.returncode == 0, r.stderr
    assert not any(shows_hidden(formats(term, "alice", alice)).values())  # manual: until `admin release`
    r = term.admin("release")
    assert r.returncode == 0, r.stderr
    for who, sid in (("alice", alice), ("bob", bob)):
        assert all(shows_hidden(formats(term, who, sid)).values())

    before = term.get("alice", f"/api/submissions/{alice}").json()["score"]
    r = httpx.post(f"{term.url}/api/submissions/{alice}/regrade", headers=term.auth("instructor"), timeout=60)
    assert r.status_code == 202, r.text
    term.wait(alice)
    history = term.get("alice", f"/api/submissions/{alice}/reports").json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][0]["score"] == pytest.approx(before)
    assert "regrade" in history["versions"][1]["reason"]
    assert history["versions"][1]["previous_score"] == pytest.approx(before)
    assert history["versions"][1]["change"].count("→") == 1


@pytest.mark.parametrize("value", ["0/10", "1/0", "ten/10", "5"])
def test_serve_refuses_a_malformed_rate_limit_before_starting(tmp_path, value):
    r = subprocess.run(
        [sys.executable, "-m", "grader", "serve", "--data", str(tmp_path), "--rate-limit", value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "expected COUNT/SECONDS" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "pa5.db").exists()
