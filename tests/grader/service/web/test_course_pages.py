"""The calendar on the pages of a real service whose clock the test sets: the student's deadline card, late and
counting markers, the dashboard's gradebook (filter, search, non-submitters) and its queue section's fragment.
Every expected time and number is worked out by hand from the shared calendar (calendar_case.py)."""

import re

import pytest

from tests.grader.service.sample import make_report
from tests.grader.service.web.calendar_case import DUE, LATE_DUE, OPENS, SECOND
from tests.grader.service.web.test_api import finish, submit
from tests.grader.service.web.test_pages import Browser


@pytest.fixture
def browser(course):
    opened = []

    def new(who: str) -> Browser:
        b = Browser(course.url)
        opened.append(b)
        b.sign_in(course.instructor if who == "instructor" else course.tokens[who])
        return b

    yield new
    for b in opened:
        b.http.close()


def upload_at(course, clock, when, who="alice", total=80.0) -> int:
    clock.set(when)
    with course.client(who) as c:
        r = submit(c)
    assert r.status_code == 202, r.text
    finish(course, r.json()["id"], make_report(who, total=total))
    return r.json()["id"]


def card(page: str) -> dict[str, str]:
    """The calendar card's terms and their descriptions, as text."""
    box = re.search(r'<section class="card calendar"[^>]*>(.*?)</section>', page, re.S).group(1)
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", box, re.S)
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in pairs}


def rows(page: str) -> dict[str, str]:
    """The gradebook's rows by student id, each as its cells' text joined by |."""
    table = re.search(r'<table class="gradebook">(.*?)</table>', page, re.S)
    out = {}
    for tr in re.findall(r"<tr class=\"gb-[^\"]+\">(.*?)</tr>", table.group(1) if table else "", re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        out[cells[0]] = "|".join(cells[1:])
    return out


def test_the_student_card_shows_their_own_dates_in_the_course_zone_and_what_is_left(course, clock, browser):
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"max_submissions": 3}).status_code == 200
        r = c.post("/api/extensions", json={"student_id": "bob", "due": "2026-12-14T12:00"})
        assert r.status_code == 200, r.text
    upload_at(course, clock, OPENS + SECOND)
    alice = card(browser("alice").get("/me").text)
    assert alice["Your due date"] == "2026-12-10 23:59:00"
    assert alice["Late submissions until"].startswith("2026-12-12 23:59:00, 10% of the score per day late")
    assert alice["Submissions"].startswith("1 made, 2 left of 3")
    assert alice["Hidden cases"] == "results come after your due date, 2026-12-10T23:59:00-05:00"
    assert alice["Counts"] == "your latest graded submission"
    bob = card(browser("bob").get("/me").text)
    assert bob["Your due date"] == "2026-12-14 12:00:00 extension" and bob["Submissions"].startswith("0 made, 3 left")


def test_after_closing_the_form_gives_way_to_the_closing_time(course, clock, browser):
    clock.set(LATE_DUE)
    page = browser("alice").get("/me").text
    assert 'action="http' in page and "/me/upload" in page  # exactly at the late due date: still open
    clock.set(LATE_DUE + SECOND)
    page = browser("alice").get("/me").text
    assert "/me/upload" not in page
    assert "closed at 2026-12-12T23:59:00-05:00" in page


def test_late_and_counting_markers_follow_the_policy_and_release(course, clock, browser):
    on_time = upload_at(course, clock, DUE, total=90.0)
    late = upload_at(course, clock, DUE + 3600 * SECOND, total=60.0)
    page = browser("alice").get("/me").text
    subs = {
        int(i): tr
        for tr, i in (
            (m.group(0), m.group(1))
            for m in re.finditer(r"<tr class=\"status-done\">\s*<td>(\d+)</td>.*?</tr>", page, re.S)
        )
    }
    assert "late by 1 h" in subs[late] and "late" not in subs[on_time].replace("status-", "")
    assert "counts" in subs[late] and "badge counts" not in subs[on_time]  # latest: the newest graded one
    # under `best`, which one counts needs hidden scores: nothing is marked before release, the best one after
    with course.client("instructor") as c:
        assert c.put("/api/assignment", json={"score_policy": "best"}).status_code == 200
    clock.set(DUE)  # before alice's release (one second after her due date)
    page = browser("alice").get("/me").text
    assert "badge counts" not in page and "Which submission counts is shown once hidden results are released" in page
    clock.set(DUE + 2 * 3600 * SECOND)
    page = browser("alice").get("/me").text
    marked = re.findall(r"<td>(\d+)</td>(?:(?!</tr>).)*badge counts", page, re.S)
    assert marked == [str(on_time)]  # 90 on time beats 60 - 0.1 * 60 / 24 late


def test_the_gradebook_has_every_roster_student_and_filters_by_status_and_id(course, clock, browser):
    sid = upload_at(course, clock, DUE + SECOND, who="alice", total=100.0)
    clock.set(DUE)
    with course.client("bob") as c:
        assert submit(c).status_code == 202  # bob's is queued: pending
    clock.set(DUE + 2 * SECOND)
    b = browser("instructor")
    everyone = rows(b.get("/dashboard").text)
    assert set(everyone) == {"alice", "bob", "carol", "dave"}
    # 100 raw, 1 s late at 10 % a day: 100 * 0.1 / 86400 = 0.000116 off, shown to two decimals
    assert everyone["alice"].startswith(f"graded|#{sid} · report · files regrade|2026-12-10 23:59:01|late by 1 s|100|")
    assert everyone["bob"].startswith("pending|") and everyone["carol"].startswith("no submission|")
    assert set(rows(b.get("/dashboard", params={"status": "no submission"}).text)) == {"carol", "dave"}
    assert set(rows(b.get("/dashboard", params={"q": "AR"}).text)) == {"carol"}  # case-insensitive
    page = b.get("/dashboard", params={"status": "graded", "q": "bo"}).text
    assert rows(page) == {} and "No student matches status “graded” and “bo”." in page
    assert 'value="bo"' in page and '<option value="graded" selected>' in page  # the form keeps the filter
    r = b.get("/dashboard", params={"status": "lost"})
    assert r.status_code == 400 and "unknown status" in r.text and "<html" in r.text
    assert f'href="{course.url}/me?student_id=dave"' in b.get("/dashboard").text


def test_the_queue_section_is_a_fragment_for_instructors_only(course, clock, browser):
    clock.set(DUE)
    with course.client("alice") as c:
        assert submit(c).status_code == 202
    b = browser("instructor")
    page = b.get("/dashboard").text
    assert 'id="status" data-status-url="' in page and "/dashboard/queue" in page
    assert '<meta http-equiv="refresh"' not in page.split("<noscript>")[0]  # the page itself stays: a filter is kept
    fragment = b.get("/dashboard/queue")
    assert fragment.status_code == 200 and fragment.headers["cache-control"] == "no-store"
    assert 'data-active="5"' in fragment.text and "<html" not in fragment.text and ">alice<" in fragment.text
    assert browser("alice").get("/dashboard/queue").status_code == 403
    anonymous = Browser(course.url)
    assert anonymous.get("/dashboard/queue").status_code == 401
    anonymous.http.close()
    claim = course.store.leases.claim_next("w", 60)
    course.store.leases.complete_job(claim.job_id, "w", make_report("alice"))
    assert "data-active" not in b.get("/dashboard/queue").text  # finished: the script stops asking
