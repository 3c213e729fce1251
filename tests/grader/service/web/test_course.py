"""The calendar through the API of a real service (HTTP, SQLite) whose clock the test sets: upload windows,
lateness and penalties, extensions, score policies, the submission limit, release, the gradebook and history.
Every expected number is worked out by hand in the test."""

import csv
import io
import json

import pytest

from tests.grader.service.sample import make_report
from tests.grader.service.web.calendar_case import DUE, HOUR, LATE_DUE, OPENS, SECOND
from tests.grader.service.web.test_api import finish, submit


def upload_at(course, clock, when, who="alice", total=80.0):
    """Upload as `who` at `when`; graded at once with `total` points (half public, half hidden) if accepted."""
    clock.set(when)
    with course.client(who) as c:
        r = submit(c)
    if r.status_code == 202:
        finish(course, r.json()["id"], make_report(who, total=total))
    return r


def as_instructor(course, sid):
    with course.client("instructor") as c:
        return c.get(f"/api/submissions/{sid}").json()


def test_the_calendar_reads_back_in_the_course_zone(course, clock):
    with course.client("alice") as c:
        body = c.get("/api/assignment").json()
    assert body["due"] == "2026-12-10T23:59:00-05:00" and body["late_due"] == "2026-12-12T23:59:00-05:00"
    assert body["opens"] == "2026-11-30T23:59:00-05:00" and body["timezone"] == "America/New_York"
    assert body["release"] == "after-due"  # the default spec's hidden_visibility, after_due_date
    assert body["you"]["due"] == body["due"] and body["you"]["extended"] is False and body["you"]["accepting"]


def test_uploads_before_opening_and_after_closing_are_403_and_the_boundaries_are_accepted(course, clock):
    early = upload_at(course, clock, OPENS - SECOND)
    assert early.status_code == 403 and "submissions open at 2026-11-30T23:59:00-05:00" in early.json()["detail"]
    assert upload_at(course, clock, OPENS).status_code == 202
    assert upload_at(course, clock, LATE_DUE).status_code == 202
    closed = upload_at(course, clock, LATE_DUE + SECOND)
    assert closed.status_code == 403 and "closed at 2026-12-12T23:59:00-05:00" in closed.json()["detail"]
    assert len(course.store.list_submissions()) == 2  # nothing refused was stored
    with course.client("instructor") as c:  # an instructor may still submit for a student
        assert submit(c, student_id="alice").status_code == 202


def test_on_time_at_the_due_date_and_late_from_one_second_after_with_the_penalty(course, clock):
    at_due = upload_at(course, clock, DUE).json()["id"]
    one_late = upload_at(course, clock, DUE + SECOND).json()["id"]
    day_and_half = upload_at(course, clock, DUE + 36 * HOUR).json()["id"]
    s = as_instructor(course, at_due)
    assert (s["late"], s["lateness_seconds"], s["penalty"], s["score"]) == (False, 0, 0.0, 80.0)
    s = as_instructor(course, one_late)
    assert (s["late"], s["lateness_seconds"]) == (True, 1)
    assert s["penalty"] == pytest.approx(80 * 0.1 / 86400) and s["raw_score"] == 80.0
    s = as_instructor(course, day_and_half)  # 10 %/day of 80 for 1.5 days: 12 points
    assert (s["lateness_seconds"], s["penalty"], s["score"]) == (36 * 3600, pytest.approx(12.0), pytest.approx(68.0))
    report = s["report"]
    assert (report["score"], report["raw_score"], report["late"]) == (pytest.approx(68.0), 80.0, True)
    with course.client("instructor") as c:
        text = c.get(f"/api/submissions/{day_and_half}/report", params={"format": "text"}).text
    assert "Accepted 1 d 12 h after the due date: late penalty 12 of the raw score 80" in text


def test_a_penalty_never_makes_a_score_negative(course, clock):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"late_penalty": 1.0}).status_code == 200
    sid = upload_at(course, clock, LATE_DUE).json()["id"]  # 2 days late at 100 %/day
    s = as_instructor(course, sid)
    assert (s["penalty"], s["score"]) == (80.0, 0.0)


def test_an_extension_moves_one_students_deadline_and_can_be_cleared(course, clock):
    with course.client("instructor") as c:
        r = c.post("/api/extensions", json={"student_id": "bob", "due": "2026-12-13T23:59"})
        assert r.status_code == 200 and r.json()["due"] == "2026-12-13T23:59:00-05:00"
        assert c.post("/api/extensions", json={"student_id": "nobody", "due": "2026-12-13T23:59"}).status_code == 404
    with course.client("bob") as c:
        assert c.post("/api/extensions", json={"student_id": "bob", "due": "2027-01-01T00:00"}).status_code == 403
        me = c.get("/api/assignment").json()["you"]
    assert me["extended"] and me["due"] == "2026-12-13T23:59:00-05:00" and me["closes"] == me["due"]
    later = DUE + 24 * HOUR
    alice, bob = upload_at(course, clock, later, "alice").json()["id"], upload_at(course, clock, later, "bob")
    assert as_instructor(course, alice)["lateness_seconds"] == 86400
    assert as_instructor(course, bob.json()["id"])["late"] is False
    # Bob's extension has no late due date: after his due date, his uploads are refused (alice's late window
    # does not apply to him).
    assert upload_at(course, clock, DUE + 3 * 24 * HOUR + SECOND, "bob").status_code == 403
    with course.client("instructor") as c:
        assert c.delete("/api/extensions/bob").status_code == 200
        assert c.delete("/api/extensions/bob").status_code == 404
    assert as_instructor(course, bob.json()["id"])["lateness_seconds"] == 86400  # the assignment's dates again


def test_latest_or_best_decides_which_submission_counts(course, clock):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"late_penalty": 0.5}).status_code == 200
    first = upload_at(course, clock, DUE - HOUR, total=60.0).json()["id"]
    second = upload_at(course, clock, DUE + 24 * HOUR, total=90.0).json()["id"]  # 90 - 50 % = 45
    with course.client("instructor") as c:
        counts = {
            s["id"]: s["counts"]
            for s in c.get("/api/submissions", params={"student_id": "alice"}).json()["submissions"]
        }
        row = next(r for r in c.get("/api/class/gradebook").json()["rows"] if r["student_id"] == "alice")
        assert counts == {first: False, second: True} and row["submission_id"] == second and row["score"] == 45.0
        assert c.put("/api/assignment", json={"score_policy": "best"}).status_code == 200
        row = next(r for r in c.get("/api/class/gradebook").json()["rows"] if r["student_id"] == "alice")
        assert row["submission_id"] == first and row["score"] == 60.0
    clock.set(LATE_DUE + SECOND)  # released: the student learns which one counts
    with course.client("alice") as c:
        mine = {s["id"]: s["counts"] for s in c.get("/api/submissions").json()["submissions"]}
    assert mine == {first: True, second: False}


def test_the_submission_limit_is_429_and_submissions_the_grader_failed_on_are_free(course, clock):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"max_submissions": 2}).status_code == 200
    assert upload_at(course, clock, DUE).status_code == 202
    clock.set(DUE)
    with course.client("alice") as c:
        failing = submit(c).json()["id"]
    for _ in range(course.settings.max_attempts):  # the grader fails on it every time
        claim = course.store.leases.claim_next("w", 60)
        course.store.leases.fail_or_retry(claim.job_id, "w", "SandboxUnavailable: test")
    assert course.store.get_submission(failing).status == "failed"
    assert upload_at(course, clock, DUE).status_code == 202
    refused = upload_at(course, clock, DUE)
    assert refused.status_code == 429 and "all 2 submissions" in refused.json()["detail"]
    with course.client("alice") as c:
        me = c.get("/api/assignment").json()["you"]
    assert (me["submissions_used"], me["submissions_left"]) == (2, 0)


def student_sees(course, sid) -> dict[str, str]:
    with course.client("alice") as c:
        shown = {"api": c.get(f"/api/submissions/{sid}").text, "list": c.get("/api/submissions").text}
        shown["history"] = c.get(f"/api/submissions/{sid}/reports").text
        for fmt in ("json", "junit", "text", "gradescope"):
            shown[fmt] = c.get(f"/api/submissions/{sid}/report", params={"format": fmt}).text
    return shown


def test_hidden_results_stay_out_of_every_format_until_one_second_after_the_due_date(course, clock):
    clock.set(DUE - HOUR)
    with course.client("alice") as c:
        sid = submit(c).json()["id"]
    report = make_report("alice", total=50.0)
    report.problems[1].cases[1] = report.problems[1].cases[1].model_copy(update={"message": "SECRET-7731"})
    finish(course, sid, report)
    clock.set(DUE)
    shown = student_sees(course, sid)
    for where, text in shown.items():
        assert "h01" not in text and "SECRET-7731" not in text, where
    body = json.loads(shown["api"])
    assert (body["score"], body["max_score"], body["scores_include_hidden"]) == (25.0, 50.0, False)
    assert json.loads(shown["gradescope"])["score"] == 25.0
    assert "their results come after your due date, 2026-12-10T23:59:00-05:00" in body["report"]["withheld"]
    clock.set(DUE + SECOND)
    shown = student_sees(course, sid)
    assert "SECRET-7731" in shown["api"] and json.loads(shown["api"])["score"] == 50.0
    assert json.loads(shown["gradescope"])["score"] == 50.0


def test_manual_release_waits_for_the_instructor(course, clock):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"release": "manual"}).status_code == 200
    sid = upload_at(course, clock, DUE - HOUR, total=50.0).json()["id"]
    clock.set(LATE_DUE + 30 * 24 * HOUR)
    assert "h01" not in student_sees(course, sid)["api"]
    with course.client("instructor") as c:
        assert "h01" in c.get(f"/api/submissions/{sid}").text  # the instructor always sees everything
        assert c.post("/api/release").json()["released_at"] is not None
    assert "h01" in student_sees(course, sid)["api"]


def test_the_gradebook_has_a_row_for_every_roster_student(course, clock):
    upload_at(course, clock, DUE + 12 * HOUR, "alice", total=80.0)
    clock.set(DUE)
    with course.client("bob") as c:
        submit(c)  # queued, not graded
    with course.client("instructor") as c:
        rows = {r["student_id"]: r for r in c.get("/api/class/gradebook").json()["rows"]}
        text = c.get("/api/class/gradebook.csv").text
        none = c.get("/api/class/gradebook", params={"status": "no submission"}).json()["rows"]
        found = c.get("/api/class/gradebook", params={"q": "AR"}).json()["rows"]
    assert sorted(rows) == ["alice", "bob", "carol", "dave"]
    assert [rows[s]["status"] for s in ("alice", "bob", "carol", "dave")] == [
        "graded", "pending", "no submission", "no submission"
    ]  # fmt: skip
    a = rows["alice"]  # 12 h late at 10 %/day: 0.05 x 80 = 4 points
    assert (a["lateness_seconds"], a["raw_score"], a["penalty"], a["score"], a["submissions"]) == (
        43200, 80.0, pytest.approx(4.0), pytest.approx(76.0), 1
    )  # fmt: skip
    assert a["submitted_at"] == "2026-12-11T11:59:00-05:00"
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["student_id"] for r in table] == ["alice", "bob", "carol", "dave"]
    assert table[0]["score"] == "76" and table[0]["late"] == "yes" and table[2]["status"] == "no submission"
    assert table[0]["submission_id"] == str(a["submission_id"]) and table[2]["submission_id"] == ""
    assert [r["student_id"] for r in none] == ["carol", "dave"] and [r["student_id"] for r in found] == ["carol"]
    with course.client("alice") as c:
        assert c.get("/api/class/gradebook").status_code == 403


def test_a_regrade_adds_a_version_and_says_what_changed(course, clock):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"release": "immediately"}).status_code == 200
    sid = upload_at(course, clock, DUE, total=80.0).json()["id"]
    with course.client("instructor") as c:
        assert c.post(f"/api/submissions/{sid}/regrade").json()["queued"] is True
    newer = make_report("alice", total=85.0).model_copy(update={"grader_version": "0.2.0"})
    finish(course, sid, newer)
    with course.client("alice") as c:
        versions = c.get(f"/api/submissions/{sid}/reports").json()["versions"]
        assert c.get(f"/api/submissions/{sid}").json()["score"] == 85.0
    assert [v["version"] for v in versions] == [1, 2]
    assert (versions[0]["score"], versions[0]["reason"], versions[0]["change"]) == (80.0, "submitted", None)
    assert versions[1]["change"] == "80 → 85"
    assert versions[1]["reason"] == "instructor regrade (grader update 0.1.0 → 0.2.0)"
    with course.client("bob") as c:
        assert c.get(f"/api/submissions/{sid}/reports").status_code == 404


def test_bad_calendar_settings_are_422_and_students_cannot_change_them(course):
    with course.client("instructor") as c:
        for body, words in [
            ({"due": "tomorrow"}, "not an ISO 8601 time"),
            ({"late_due": "2026-12-01T00:00"}, "before the due date"),
            ({"timezone": "Mars/Base"}, "unknown time zone"),
            ({"late_penalty": 3}, "late_penalty"),
            ({"deadline": "2026-12-01T00:00"}, "unknown settings: deadline"),
        ]:
            r = c.put("/api/assignment", json=body)
            assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
        assert c.get("/api/assignment").json()["due"] == "2026-12-10T23:59:00-05:00"  # nothing changed
    with course.client("alice") as c:
        assert c.put("/api/assignment", json={"due": None}).status_code == 403
