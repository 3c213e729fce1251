"""Grade passback with AGS: the score a student's standing makes, the one line item per link, sending, and when to
try again after a failure.

The rules, each once:
- the score is the counting submission's (scores.standing): `scoreGiven` its final score, `scoreMaximum` its maximum,
  `timestamp` its acceptance time;
- `gradingProgress` is Pending until hidden results are released to the student, FullyGraded after; `activityProgress`
  is Submitted until then, Completed after;
- a failure is retried after 30 s, doubling per failure in a row up to an hour; a 429 waits its Retry-After (or that
  backoff), and nothing more goes to that platform until then.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from dataclasses import dataclass

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector

from grader.printable import printable
from grader.service.lti.claims import LINEITEM_SCOPE, SCORE_SCOPE
from grader.service.lti.rows import LinkRow, PassbackRow
from grader.service.lti.scores import StudentStanding

BASE_SECONDS, MAX_SECONDS = 30, 3600
ANSWER_CHARS = 2000
TAG = "pa5-grader"
CANVAS_SUBMISSION = "https://canvas.instructure.com/lti/submission"  # Canvas reads the submission time from here


@dataclass(frozen=True)
class Wanted:
    """The score the platform should hold for one student."""

    submission_id: int
    score: float
    max_score: float
    timestamp: dt.datetime  # aware UTC
    activity: str
    grading: str

    def same_as(self, row: PassbackRow) -> bool:
        return (
            row.sent_submission_id == self.submission_id
            and row.sent_score == self.score
            and row.sent_max_score == self.max_score
            and row.sent_timestamp == naive(self.timestamp)
            and row.sent_progress == self.grading
        )


@dataclass(frozen=True)
class Failed(Exception):
    """A send the platform refused or never answered."""

    code: int | None
    answer: str
    retry_after: float | None = None  # seconds, from a 429's Retry-After


def naive(t: dt.datetime) -> dt.datetime:
    """Naive UTC, as the database keeps times; a naive time is taken to be UTC already."""
    return t if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wanted(st: StudentStanding | None) -> Wanted | None:
    if st is None or not st.max_score > 0:
        return None
    score = round(min(max(st.score, 0.0), st.max_score), 4)  # AGS takes 0 <= scoreGiven; no float noise
    return Wanted(
        submission_id=st.submission_id,
        score=score,
        max_score=round(st.max_score, 4),
        timestamp=st.submitted_at,
        activity="Completed" if st.released else "Submitted",
        grading="FullyGraded" if st.released else "Pending",
    )


def grade(w: Wanted, user_sub: str) -> Grade:
    submitted = iso(w.timestamp)
    return (
        Grade()
        .set_user_id(user_sub)
        .set_score_given(w.score)
        .set_score_maximum(w.max_score)
        .set_timestamp(submitted)
        .set_activity_progress(w.activity)
        .set_grading_progress(w.grading)
        .set_extra_claims({"submission": {"submittedAt": submitted}, CANVAS_SUBMISSION: {"submitted_at": submitted}})
    )


def backoff(failures: int) -> float:
    """Seconds before the next try after `failures` failures in a row."""
    return float(min(MAX_SECONDS, BASE_SECONDS * 2 ** max(0, failures - 1)))


def retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _failed(e: Exception, now: dt.datetime) -> Failed:
    if isinstance(e, LtiServiceException):
        r = e.response
        after = retry_after(r.headers.get("Retry-After"), now) if r.status_code == 429 else None
        return Failed(r.status_code, printable(r.text or r.reason or "")[:ANSWER_CHARS], after)
    return Failed(None, printable(f"{e.__class__.__name__}: {e}")[:ANSWER_CHARS])


def _ags(connector: ServiceConnector, link: LinkRow) -> AssignmentsGradesService:
    data = {"scope": list(link.ags_scopes)}
    if link.lineitems_url:
        data["lineitems"] = link.lineitems_url
    return AssignmentsGradesService(connector, data)


def make_lineitem(connector: ServiceConnector, link: LinkRow, max_score: float, now: dt.datetime) -> str:
    """The link's line item at the platform: found by its resource link id (so one made before a crash is reused),
    else made; returns its URL. Failed when the platform refuses or lets the tool make none."""
    if not link.lineitems_url or LINEITEM_SCOPE not in link.ags_scopes:
        raise Failed(None, "the LMS gave this link no line item and does not let the tool make one")
    item = (
        LineItem()
        .set_label(link.title or "PA5")
        .set_score_maximum(max_score)
        .set_resource_link_id(link.resource_link_id)
        .set_tag(TAG)
    )
    try:
        made = _ags(connector, link).find_or_create_lineitem(item, find_by="resource_link_id")
    except (LtiException, requests.RequestException, ValueError) as e:
        raise _failed(e, now) from None
    if not made.get_id():
        raise Failed(None, "the LMS answered a line item without an id")
    return made.get_id()


def send(connector: ServiceConnector, link: LinkRow, lineitem_url: str, user_sub: str, w: Wanted, now) -> str:
    """Post the score; returns the platform's answer (2xx), or raises Failed."""
    if SCORE_SCOPE not in link.ags_scopes:
        raise Failed(None, "the LMS did not grant this link the score scope")
    try:
        answer = _ags(connector, link).put_grade(grade(w, user_sub), LineItem({"id": lineitem_url}))
    except (LtiException, requests.RequestException, ValueError) as e:
        raise _failed(e, now) from None
    body = answer.get("body")
    return printable("accepted" if body in (None, "", {}) else json.dumps(body))[:ANSWER_CHARS]
