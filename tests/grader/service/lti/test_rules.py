"""The LTI rules in one place each, against hand-written tables: roles, the matching rule's order and its refusal to
guess, the score AGS gets, the backoff and Retry-After."""

import datetime as dt

import pytest

from grader.service.lti import claims, passback
from grader.service.lti.matching import Person, match
from grader.service.lti.scores import StudentStanding
from grader.service.queue.store import Store

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
T = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("roles", "role"),
    [
        ([LIS + "membership#Learner"], "student"),
        (["Learner"], "student"),
        ([LIS + "membership#Instructor"], "instructor"),
        ([LIS + "membership/Instructor#TeachingAssistant"], "instructor"),
        ([LIS + "membership#Administrator"], "instructor"),
        ([LIS + "membership#Learner", LIS + "membership/Instructor#TeachingAssistant"], "instructor"),
        ([LIS + "institution/person#Student", LIS + "membership#Instructor"], "instructor"),  # a student who teaches
        ([LIS + "institution/person#Faculty", LIS + "membership#Learner"], "student"),  # faculty taking the course
        ([LIS + "institution/person#Student"], None),  # no role in this course
        ([LIS + "system/person#Administrator"], None),
        ([LIS + "system/person#User"], None),
        ([LIS + "membership#Mentor"], None),
        ([], None),
    ],
)
def test_roles(roles, role):
    assert claims.role_of({claims.LTI + "roles": roles}) == role


@pytest.fixture
def lti(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'pa5.db'}")
    store.upgrade_schema()
    for sid in ("alice", "bob", "S-77", "bob@uni.edu"):
        store.tokens.set_student(sid, f"hash-{sid}")
    store.lti.set_contacts([("alice", "al@uni.edu", "S-1"), ("bob", "shared@uni.edu", None)])
    store.lti.set_contacts([("S-77", "shared@uni.edu", "S-1")])  # two students share an email and an SIS id
    yield store.lti
    store.engine.dispose()


@pytest.mark.parametrize(
    ("email", "sourcedid", "found"),
    [
        (None, "alice", ("alice", "sourcedid")),  # the SIS id is a roster id
        ("bob@uni.edu", None, ("bob@uni.edu", "email")),  # the email is a roster id
        ("AL@uni.edu", None, ("alice", "contact-email")),
        (None, "S-1", None),  # two contacts have this SIS id: no guess
        ("shared@uni.edu", None, None),  # two contacts have this email: no guess
        ("al@uni.edu", "S-1", ("alice", "contact-email")),  # the ambiguous SIS id passes; the email names one
        ("nobody@uni.edu", "S-404", None),
    ],
)
def test_the_matching_rule(lti, email, sourcedid, found):
    m = match(lti, 1, Person("sub-1", email, sourcedid))
    assert (m and (m.student_id, m.step)) == found


def test_nrps_is_the_last_step(lti):
    asked = []

    def member(sub):
        asked.append(sub)
        return Person(sub, None, "alice")

    assert match(lti, 1, Person("sub-2", None, "bob"), member=member).step == "sourcedid" and asked == []
    m = match(lti, 1, Person("sub-2", None, None), member=member)
    assert (m.student_id, m.step, asked) == ("alice", "nrps-sourcedid", ["sub-2"])


@pytest.mark.parametrize(
    ("score", "released", "given", "activity", "grading"),
    [
        (80.0, False, 80.0, "Submitted", "Pending"),
        (80.0, True, 80.0, "Completed", "FullyGraded"),
        (79.99999999997, True, 80.0, "Completed", "FullyGraded"),
        (-3.0, False, 0.0, "Submitted", "Pending"),  # AGS refuses a negative score
        (130.0, False, 100.0, "Submitted", "Pending"),
    ],
)
def test_the_score_sent(score, released, given, activity, grading):
    w = passback.wanted(StudentStanding(4, T, score, 100.0, released))
    assert (w.score, w.max_score, w.activity, w.grading, w.timestamp) == (given, 100.0, activity, grading, T)
    body = passback.grade(w, "u-1").get_value()
    assert '"timestamp": "2026-12-01T12:00:00.000Z"' in body and '"userId": "u-1"' in body


def test_no_score_without_a_standing_or_a_maximum():
    assert passback.wanted(None) is None
    assert passback.wanted(StudentStanding(4, T, 0.0, 0.0, True)) is None


def test_backoff_doubles_to_an_hour():
    assert [passback.backoff(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Tue, 01 Dec 2026 12:02:00 GMT", 120.0),
        ("Tue, 01 Dec 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after(header, seconds):
    assert passback.retry_after(header, T) == seconds
