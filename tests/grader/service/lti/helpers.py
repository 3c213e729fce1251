"""Helpers of the passback tests: a simulated standing, the scores the LMS holds, launches, passback rows."""

from __future__ import annotations

import datetime as dt

from grader.service.lti.scores import StudentStanding

ACCEPTED = dt.datetime(2026, 11, 30, 23, 58, 7, 250000, tzinfo=dt.timezone.utc)


def standing(score=80.0, *, submission_id=7, released=False, at=ACCEPTED):
    return StudentStanding(
        submission_id=submission_id, submitted_at=at, score=score, max_score=100.0, released=released
    )


def posted(world, link="rl-pa5") -> list[dict]:
    """The scores the LMS holds for a link's line item, in order."""
    items = [k for k, v in world.lms.course.lineitems.items() if v.get("resourceLinkId") == link]
    return [s for k in items for s in world.lms.course.scores.get(k, [])]


def launched(world, *users):
    for user in users:
        b = world.browser()
        assert b.launch(world.lms, user).url.path == "/me"
        b.close()


def by_student(world) -> dict:
    return {p.user.student_id: p for p in world.tool.store.lti.passbacks.rows()}
