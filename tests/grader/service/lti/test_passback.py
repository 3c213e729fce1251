"""Grade passback with AGS to lti1p3platform: a score with the right fields after grading and FullyGraded after
the calendar's release, one line item per link across restarts, retries after 500 and 429 (Retry-After honoured)
on the injected clock, one student's failure never holding another's, and resending everything."""

import datetime as dt
import time

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from grader.cli import cli
from grader.service.lti import scores
from grader.service.lti.db import LtiLink
from grader.service.lti.scores import StudentStanding
from tests.grader.service.live import EXAMPLES
from tests.grader.service.lti.conftest import world_at
from tests.grader.service.lti.helpers import by_student, launched, posted, standing
from tests.grader.service.lti.tool import T0


@pytest.fixture
def standings(monkeypatch):
    """The seam, simulated: student id -> their standing (what the calendar will compute after merge)."""
    table: dict[str, StudentStanding] = {}
    monkeypatch.setattr(scores, "standing", lambda store, student_id, now, **kw: table.get(student_id))
    return table


def test_a_score_is_posted_after_grading_and_fully_graded_after_release(tmp_path, process_backend):
    with world_at(tmp_path, workers=1, backend=process_backend) as world:
        b = world.browser()
        me = b.launch(world.lms, "u-alice")
        upload = b.http.post(
            f"{world.tool.url}/me/upload",
            data={"csrf_token": b.csrf(me)},
            files={"file": ("backprop.py", (EXAMPLES / "correct" / "backprop.py").read_bytes())},
        )
        assert upload.status_code == 200 and upload.url.path == "/me", upload.text
        (sub,) = b.http.get(f"{world.tool.url}/api/submissions").json()["submissions"]
        state = _wait_done(b.http, f"{world.tool.url}/api/submissions/{sub['id']}")
        b.close()

        assert world.tool.sweep().sent == 1
        (item,) = world.lms.course.lineitems.values()
        assert item["resourceLinkId"] == "rl-pa5" and item["scoreMaximum"] == 100 and item["label"] == "PA5: backprop"
        (score,) = posted(world)
        accepted = world.tool.store.get_submission(sub["id"]).submitted_at.replace(tzinfo=dt.timezone.utc)
        sent = dt.datetime.fromisoformat(score["timestamp"].replace("Z", "+00:00"))
        assert sent == accepted.replace(microsecond=accepted.microsecond // 1000 * 1000)  # to the millisecond
        assert sent.replace(microsecond=0) == dt.datetime.fromisoformat(state["submitted_at"])  # as the API says
        assert score["userId"] == "u-alice"
        full = httpx.get(  # the instructor's view: every case, hidden ones too (the student's says public only)
            f"{world.tool.url}/api/submissions/{sub['id']}",
            headers={"Authorization": f"Bearer {world.service.instructor}"},
        ).json()
        assert score["scoreGiven"] == pytest.approx(full["score"]) and score["scoreMaximum"] == 100
        assert (score["activityProgress"], score["gradingProgress"]) == ("Submitted", "Pending")
        assert score["submission"]["submittedAt"] == score["timestamp"]

        assert world.tool.sweep().unchanged == 1 and len(posted(world)) == 1  # nothing changed: nothing sent

        world.tool.store.course.release_now(world.clock())  # what `admin release` does
        assert world.tool.sweep().sent == 1
        first, second = posted(world)
        assert (second["activityProgress"], second["gradingProgress"]) == ("Completed", "FullyGraded")
        assert second["timestamp"] == first["timestamp"] and second["scoreGiven"] == first["scoreGiven"]
        status = httpx.get(
            f"{world.tool.url}/lti/status.json", headers={"Authorization": f"Bearer {world.service.instructor}"}
        )
        (row,) = status.json()["passback"]
        assert (row["student_id"], row["status"], row["grading_progress"]) == ("alice", "sent", "FullyGraded")


def _wait_done(http: httpx.Client, url: str) -> dict:
    for _ in range(600):
        state = http.get(url, params={"wait": 5}).json()
        if state["status"] not in ("queued", "running"):
            assert state["status"] == "done", state
            return state
    raise AssertionError(f"not graded: {state['status']}")


def test_one_line_item_per_link_across_launches_and_restarts(world, standings):
    standings["alice"] = standing(70.0)
    launched(world, "u-alice", "u-alice")
    assert world.tool.sweep().sent == 1
    assert len(world.lms.course.lineitems) == 1

    world.restart()
    launched(world, "u-alice")
    standings["alice"] = standing(75.0, submission_id=8)
    assert world.tool.sweep().sent == 1
    # A crash after the LMS made the line item but before the tool stored it: found again by its resource link.
    with world.tool.store.sessions.begin() as s:
        s.execute(update(LtiLink).values(lineitem_url=None))
    standings["alice"] = standing(76.0, submission_id=9)
    assert world.tool.sweep().sent == 1
    assert len(world.lms.course.lineitems) == 1
    assert [s["scoreGiven"] for s in posted(world)] == [70.0, 75.0, 76.0]


def test_a_link_with_the_platforms_line_item_posts_there(world, standings):
    standings["alice"] = standing()
    launched(world, "u-alice")
    b = world.browser()
    b.launch(world.lms, "u-alice", link="rl-assignment")
    b.close()
    (platforms_own,) = world.lms.course.lineitems  # the LMS made it for the assignment, as Canvas does
    assert world.tool.sweep().sent == 2  # one per link
    assert world.lms.course.scores[platforms_own][0]["userId"] == "u-alice"
    assert len(posted(world, "rl-assignment")) == 1 and len(posted(world, "rl-pa5")) == 1
    assert len(world.lms.course.lineitems) == 2  # the platform's own and the one made for rl-pa5


def test_a_500_is_retried_with_backoff_and_holds_no_one_else(world, standings):
    standings.update(alice=standing(60.0), bob=standing(90.0))
    launched(world, "u-alice", "u-bob")
    world.lms.course.fail_next(500, "database on fire")

    r = world.tool.sweep()  # alice first: 500; bob is sent all the same
    assert (r.sent, r.failed) == (1, 1)
    rows = by_student(world)
    assert (rows["alice"].status, rows["alice"].last_code, rows["alice"].last_answer) == (
        "failed",
        500,
        "database on fire",
    )
    assert rows["alice"].next_attempt_at == (T0 + dt.timedelta(seconds=30)).replace(tzinfo=None)
    assert rows["bob"].status == "sent"

    instructor = world.browser()
    instructor.launch(world.lms, "u-prof")
    page = instructor.http.get(f"{world.tool.url}/lti/status")  # what the instructor sees: the platform's answer
    assert "HTTP 500: database on fire" in page.text and "passback-failed" in page.text
    instructor.close()

    world.clock.advance(29)
    assert world.tool.sweep().waiting == 1 and world.lms.course.score_posts == 2
    world.clock.advance(1)
    world.lms.course.fail_next(500, "still on fire")
    assert world.tool.sweep().failed == 1  # the second 500 in a row: the wait doubles
    assert by_student(world)["alice"].next_attempt_at == (T0 + dt.timedelta(seconds=90)).replace(tzinfo=None)
    world.clock.advance(59)
    assert world.tool.sweep().sent == 0
    world.clock.advance(1)
    assert world.tool.sweep().sent == 1
    assert by_student(world)["alice"].status == "sent" and by_student(world)["alice"].failures == 0
    assert [s["userId"] for s in posted(world)] == ["u-bob", "u-alice"]


@pytest.mark.parametrize("retry_after", ["120", (T0 + dt.timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")])
def test_a_429_waits_its_retry_after_for_the_whole_platform(world, standings, retry_after):
    standings.update(alice=standing(60.0), bob=standing(90.0))
    launched(world, "u-alice", "u-bob")
    world.lms.course.fail_next(429, "slow down", Retry_After=retry_after)

    r = world.tool.sweep()
    assert (r.failed, r.waiting, r.sent) == (1, 1, 0)  # bob waits too: the platform asked the tool to
    assert world.tool.store.lti.platforms()[0].not_before == (T0 + dt.timedelta(seconds=120)).replace(tzinfo=None)
    world.clock.advance(119)
    assert world.tool.sweep().sent == 0 and world.lms.course.score_posts == 1
    world.clock.advance(1)
    assert world.tool.sweep().sent == 2
    assert sorted(s["userId"] for s in posted(world)) == ["u-alice", "u-bob"]


def test_admin_lti_push_resends_every_score(world, standings):
    standings.update(alice=standing(60.0), bob=standing(90.0))
    launched(world, "u-alice", "u-bob")
    assert world.tool.sweep().sent == 2
    r = CliRunner().invoke(cli, ["admin", "lti", "push", "--data", str(world.service.data)])
    assert r.exit_code == 0 and "2 passback(s): 2 sent" in r.output, r.output
    assert len(posted(world)) == 4 and len(world.lms.course.lineitems) == 1


def test_a_student_with_nothing_graded_is_not_sent(world, standings):
    launched(world, "u-alice")
    r = world.tool.sweep()
    assert r.ungraded == 1 and world.lms.course.score_posts == 0
    assert by_student(world)["alice"].status == "pending"


def test_the_sweeper_thread_sends_by_itself(tmp_path, standings):
    with world_at(tmp_path, sweep_seconds=0.2) as world:
        standings["alice"] = standing(55.0)
        launched(world, "u-alice")
        for _ in range(300):
            if posted(world):
                break
            time.sleep(0.1)  # the thread sweeps on its own; the clock stands still
        assert [s["scoreGiven"] for s in posted(world)] == [55.0]
