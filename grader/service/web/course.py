"""The calendar as the API shows it: one student's deadlines and release now, what a submission is worth to the
caller, and the routes of the assignment, extensions, the gradebook and a report's history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from grader.service.access.auth import Principal, get_principal, require_instructor
from grader.service.course import gradebook as book
from grader.service.course.calendar import (
    Calendar,
    CalendarError,
    Deadlines,
    parse_time,
    release_words,
    released,
    shown,
    upload_refusal,
)
from grader.service.course.standing import Facts, GradebookStatus, Worth, counting, used, worth
from grader.service.queue.records import SubmissionView
from grader.service.queue.store import Store

router = APIRouter()
Caller = Annotated[Principal, Depends(get_principal)]
Instructor = Annotated[Principal, Depends(require_instructor)]
PENALTY_RULE = "late_penalty x the raw score per day late, pro rata to the second; a score never goes below 0"
TIMES = ("opens", "due", "late_due")


def _store(request: Request) -> Store:
    return request.app.state.store


def now_of(request: Request) -> dt.datetime:
    return request.app.state.clock()


def max_points(request: Request) -> float:
    return float(sum(p.points for p in request.app.state.spec.problems))


@dataclass(frozen=True)
class StudentCalendar:
    """One student's calendar at one moment."""

    calendar: Calendar
    deadlines: Deadlines
    now: dt.datetime
    released: bool
    when: str  # when hidden results come, in words
    release_at: dt.datetime | None

    def worth(self, raw_score: float, submitted_at: dt.datetime) -> Worth:
        return worth(raw_score, submitted_at, self.deadlines, self.calendar)

    def refusal(self) -> str | None:
        return upload_refusal(self.calendar, self.deadlines, self.now)


def student_calendar(request: Request, student_id: str) -> StudentCalendar:
    store, spec = _store(request), request.app.state.spec
    calendar = store.course.calendar()
    dl = store.course.deadlines(student_id, calendar)
    now = now_of(request)
    when, at = release_words(calendar, dl, spec_visibility=spec.hidden_visibility)
    return StudentCalendar(
        calendar=calendar,
        deadlines=dl,
        now=now,
        released=released(calendar, dl, now, spec_visibility=spec.hidden_visibility),
        when=when,
        release_at=at,
    )


def aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t


def standing_json(who: Principal, view: SubmissionView, sc: StudentCalendar) -> dict[str, Any]:
    """What the submission is worth as this caller may see it: the final score, or before release (students) the
    public cases' score; with late, lateness_seconds, raw_score and penalty."""
    full = who.is_instructor or sc.released
    raw = view.score if full else view.public_score
    top = view.max_score if full else view.public_max_score
    if raw is None:
        return {"late": None, "lateness_seconds": None, "raw_score": None, "penalty": None, "score": None}
    w = sc.worth(raw, aware(view.submitted_at))
    return {
        "late": w.late,
        "lateness_seconds": w.lateness_seconds,
        "raw_score": w.raw_score,
        "penalty": w.penalty,
        "score": w.score,
        "max_score": top,
        "scores_include_hidden": full,
    }


def facts_of(view: SubmissionView) -> Facts:
    return Facts(view.id, view.student_id, aware(view.submitted_at), view.status, view.score, view.max_score)


def counting_id(who: Principal, facts: list[Facts], sc: StudentCalendar) -> int | None:
    """The submission that counts, as the caller may know it: under `best`, a student learns which one only once
    hidden results are released (choosing it needs their scores)."""
    if not who.is_instructor and sc.calendar.score_policy == "best" and not sc.released:
        return None
    best = counting(facts, sc.deadlines, sc.calendar)
    return best.id if best else None


# -- the assignment ----------------------------------------------------------------------------------------------


def calendar_json(request: Request, who: Principal) -> dict:
    store = _store(request)
    calendar = store.course.calendar()
    tz = calendar.timezone
    spec = request.app.state.spec
    body: dict[str, Any] = {
        "opens": shown(calendar.opens, tz),
        "due": shown(calendar.due, tz),
        "late_due": shown(calendar.late_due, tz),
        "late_penalty": calendar.late_penalty,
        "late_penalty_rule": PENALTY_RULE,
        "timezone": tz,
        "release": calendar.release_rule(spec.hidden_visibility),
        "released_at": shown(calendar.released_at, tz),
        "score_policy": calendar.score_policy,
        "max_submissions": calendar.max_submissions,
        "now": shown(now_of(request), tz),
        "you": None,
    }
    if who.student_id is not None:
        sc = student_calendar(request, who.student_id)
        made = used(store.course.facts(who.student_id))
        limit = calendar.max_submissions
        body["you"] = {
            "student_id": who.student_id,
            "due": shown(sc.deadlines.due, tz),
            "late_due": shown(sc.deadlines.late_due, tz),
            "closes": shown(sc.deadlines.closes, tz),
            "extended": sc.deadlines.extended,
            "accepting": sc.refusal() is None,
            "refusal": sc.refusal(),
            "released": sc.released,
            "hidden_results": "released" if sc.released else sc.when,
            "submissions_used": made,
            "submissions_left": None if limit is None else max(0, limit - made),
        }
    return body


@router.get("/api/assignment")
def get_assignment(request: Request, who: Caller) -> dict:
    """The calendar, in the course's time zone; a student also sees their own effective dates."""
    return calendar_json(request, who)


def calendar_changes(body: dict[str, Any], current: Calendar) -> dict[str, Any]:
    """A JSON body of settings as Calendar values: times as ISO 8601 (naive ones in the course's zone), null clears."""
    changes = dict(body)
    unknown = set(changes) - set(Calendar.model_fields) - {"release_now"}
    if unknown or "released_at" in changes:
        raise CalendarError(f"unknown settings: {', '.join(sorted(unknown | ({'released_at'} & set(changes))))}")
    tz = changes.get("timezone") or current.timezone
    for k in TIMES:
        if isinstance(changes.get(k), str):
            changes[k] = parse_time(changes[k], tz)
    return changes


def update_assignment(request: Request, changes: dict[str, Any]) -> Calendar:
    store = _store(request)
    now = now_of(request)
    release_now = changes.pop("release_now", False)
    try:
        calendar = store.course.update_calendar(calendar_changes(changes, store.course.calendar()), now=now)
    except ValidationError as e:
        where = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'calendar'}: {x['msg']}" for x in e.errors())
        raise HTTPException(422, f"invalid calendar: {where}") from None
    except CalendarError as e:
        raise HTTPException(422, str(e)) from None
    if release_now:
        calendar = store.course.release_now(now)
    return calendar


@router.put("/api/assignment")
def put_assignment(request: Request, who: Instructor, body: Annotated[dict[str, Any], Body()]) -> dict:
    """Change the calendar: the fields given (null clears one), the others kept; effective at once."""
    update_assignment(request, body)
    return calendar_json(request, who)


@router.post("/api/release")
def post_release(request: Request, who: Instructor) -> dict:
    """Publish every student's hidden results now (the `manual` release; also ends any wait for a due date)."""
    _store(request).course.release_now(now_of(request))
    return calendar_json(request, who)


# -- extensions --------------------------------------------------------------------------------------------------


def extension_json(student_id: str, due: dt.datetime | None, late_due: dt.datetime | None, tz: str) -> dict:
    return {"student_id": student_id, "due": shown(due, tz), "late_due": shown(late_due, tz)}


@router.get("/api/extensions")
def list_extensions(request: Request, who: Instructor) -> dict:
    store = _store(request)
    tz = store.course.calendar().timezone
    items = sorted(store.course.extensions().items())
    return {"extensions": [extension_json(sid, due, late, tz) for sid, (due, late) in items]}


@router.post("/api/extensions")
def post_extension(
    request: Request,
    who: Instructor,
    student_id: Annotated[str, Body(max_length=128)],
    due: Annotated[str | None, Body()] = None,
    late_due: Annotated[str | None, Body()] = None,
    clear: Annotated[bool, Body()] = False,
) -> dict:
    """Give one student their own due date (and late due date), or `clear` it."""
    store = _store(request)
    if not store.is_student(student_id):
        raise HTTPException(404, f"no student {student_id[:200]!r} on the roster")
    calendar = store.course.calendar()
    if clear:
        store.course.clear_extension(student_id)
        return {"student_id": student_id, "cleared": True}
    if due is None:
        raise HTTPException(422, "an extension needs `due` (or `clear`: true)")
    try:
        d = parse_time(due, calendar.timezone)
        ld = parse_time(late_due, calendar.timezone) if late_due else None
        if ld is not None and ld < d:
            raise CalendarError("the extension's late due date is before its due date")
    except CalendarError as e:
        raise HTTPException(422, str(e)) from None
    store.course.set_extension(student_id, d, ld)
    return extension_json(student_id, d, ld, calendar.timezone)


@router.delete("/api/extensions/{student_id}")
def delete_extension(request: Request, who: Instructor, student_id: Annotated[str, Path(max_length=128)]) -> dict:
    if not _store(request).course.clear_extension(student_id):
        raise HTTPException(404, f"no extension for {student_id[:200]!r}")
    return {"student_id": student_id, "cleared": True}


# -- the gradebook -----------------------------------------------------------------------------------------------

Status = GradebookStatus


def gradebook_rows(request: Request, status: str | None = None, search: str | None = None):
    rows = _store(request).course.gradebook(max_score=max_points(request))
    return book.select(rows, status=status, search=search)


@router.get("/api/class/gradebook")
def gradebook(
    request: Request,
    who: Instructor,
    status: Annotated[Status | None, Query(description="Only rows with this status.")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Only student ids containing this.")] = None,
) -> dict:
    """A row for every roster student, submitters or not: the counting submission under the calendar."""
    tz = _store(request).course.calendar().timezone
    return {"timezone": tz, "rows": [book.row_json(r, tz) for r in gradebook_rows(request, status, q)]}


@router.get("/api/class/gradebook.csv")
def gradebook_csv(request: Request, who: Instructor) -> PlainTextResponse:
    tz = _store(request).course.calendar().timezone
    return PlainTextResponse(
        book.render_csv(gradebook_rows(request), tz),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="gradebook.csv"'},
    )
