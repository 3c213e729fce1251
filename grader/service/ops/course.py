"""The calendar's admin commands without click: `admin assignment`, `extend`, `release` and `gradebook`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import ValidationError

from grader.errors import GraderError
from grader.service.course import gradebook as book
from grader.service.course.calendar import Calendar, CalendarError, parse_time, shown
from grader.service.course.clock import Clock
from grader.service.queue.store import Store
from grader.spec import Spec

CLEAR = ("none", "")  # --late-due none: remove the setting
TIMES = ("opens", "due", "late_due")


def _changes(raw: dict[str, str | float | int | None], timezone: str) -> dict:
    """Command-line values as calendar settings: times parsed in `timezone`, "none" clears."""
    out: dict = {}
    for name, value in raw.items():
        if value is None:
            continue
        if isinstance(value, str) and value.strip().lower() in CLEAR:
            out[name] = None
        elif name in TIMES:
            out[name] = parse_time(str(value), timezone)
        else:
            out[name] = value
    return out


def set_assignment(store: Store, raw: dict, *, now: dt.datetime) -> Calendar:
    """Change the settings given (the others are kept); a bad value or order is a GraderError naming it."""
    current = store.course.calendar()
    timezone = raw.get("timezone") or current.timezone
    try:
        changes = _changes(raw, timezone)
        if changes.get("max_submissions") == 0:
            changes["max_submissions"] = None
        return store.course.update_calendar(changes, now=now)
    except ValidationError as e:
        why = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'settings'}: {x['msg']}" for x in e.errors())
        raise CalendarError(f"invalid calendar: {why}") from None


def describe(calendar: Calendar, spec: Spec) -> list[str]:
    """The calendar in lines, in the course's zone."""
    tz = calendar.timezone

    def t(x: dt.datetime | None) -> str:
        return shown(x, tz) or "not set"

    limit = calendar.max_submissions
    return [
        f"opens:           {t(calendar.opens)}",
        f"due:             {t(calendar.due)}",
        f"late due:        {t(calendar.late_due)}",
        f"late penalty:    {calendar.late_penalty:g} of the raw score per day late (pro rata; never below 0)",
        f"time zone:       {tz}",
        f"hidden results:  released {calendar.release_rule(spec.hidden_visibility)}"
        + (f" (released at {t(calendar.released_at)})" if calendar.released_at else ""),
        f"score policy:    {calendar.score_policy}",
        f"max submissions: {limit if limit is not None else 'no limit'}",
    ]


def extend(store: Store, student_id: str, *, due: str | None, late_due: str | None, clear: bool) -> str:
    if not store.is_student(student_id):
        raise GraderError(f"no student {student_id!r} on the roster (add them with `pa5-grader admin students`)")
    if clear:
        if not store.course.clear_extension(student_id):
            raise GraderError(f"{student_id} has no extension to clear")
        return f"cleared the extension of {student_id}: the assignment's dates apply again"
    if due is None:
        raise GraderError("give --due (and maybe --late-due), or --clear")
    tz = store.course.calendar().timezone
    d = parse_time(due, tz)
    ld = parse_time(late_due, tz) if late_due else None
    if ld is not None and ld < d:
        raise CalendarError("the extension's late due date is before its due date")
    store.course.set_extension(student_id, d, ld)
    return f"{student_id} is now due {shown(d, tz)}" + (f", late due {shown(ld, tz)}" if ld else "")


def release(store: Store, clock: Clock) -> str:
    calendar = store.course.release_now(clock())
    return f"hidden results are released to every student since {shown(calendar.released_at, calendar.timezone)}"


def write_gradebook(store: Store, spec: Spec, out: Path) -> int:
    """Write the gradebook CSV (a row per roster student); returns the number of rows."""
    from grader.report.render import write

    rows = store.course.gradebook(max_score=float(sum(p.points for p in spec.problems)))
    write(out, book.render_csv(rows, store.course.calendar().timezone))
    return len(rows)
