"""The assignment's calendar as rules: one student's deadlines, whether an upload is accepted now, how late it was
and what that costs, and whether hidden results are released. Pure functions of aware UTC times; the store keeps
the settings and the server's clock says what time it is.

Boundaries (each tested at the second): an upload at exactly the due date is on time, one second after is late;
uploads are accepted from `opens` inclusive to the closing time (the late due date, else the due date) inclusive;
hidden results released "after-due" are released one second after the student's effective due date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.errors import GraderError

Release = Literal["after-due", "immediately", "manual"]
ScorePolicy = Literal["latest", "best"]
DAY = 86400
# The spec's hidden_visibility, read as a release rule when the instructor set none.
SPEC_RELEASE: dict[str, Release] = {
    "visible": "immediately",
    "after_due_date": "after-due",
    "after_published": "manual",
    "hidden": "after-due",
}


class CalendarError(GraderError):
    """A calendar setting that cannot be used (a bad time, zone or order of dates)."""


class Calendar(BaseModel):
    """The assignment's settings. Times are aware UTC; `timezone` is where they are shown and naive input is read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: dt.datetime | None = Field(None, description="Uploads are refused before this time.")
    due: dt.datetime | None = Field(None, description="Uploads after it are late.")
    late_due: dt.datetime | None = Field(None, description="Uploads after it are refused; none: after `due`.")
    late_penalty: float = Field(
        0.0, ge=0, le=1, description="Fraction of the raw score taken per day late, pro rata to the second."
    )
    timezone: str = Field("UTC", description="IANA zone the course's times are shown in.")
    release: Release | None = Field(None, description="When hidden results are released; none: the spec's rule.")
    released_at: dt.datetime | None = Field(None, description="When `admin release` published hidden results.")
    score_policy: ScorePolicy = Field("latest", description="Which submission counts: the latest graded, or the best.")
    max_submissions: int | None = Field(None, ge=1, description="Submissions a student may make (failed ones free).")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("opens", "due", "late_due", "released_at")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("times must carry a time zone (stored in UTC)")
        return v if v is None else v.astimezone(dt.timezone.utc)

    @model_validator(mode="after")
    def _order(self) -> Calendar:
        check_order(self.opens, self.due, self.late_due)
        return self

    def release_rule(self, spec_visibility: str) -> Release:
        return self.release or SPEC_RELEASE.get(spec_visibility, "after-due")


def check_order(opens: dt.datetime | None, due: dt.datetime | None, late_due: dt.datetime | None) -> None:
    if late_due is not None and due is None:
        raise CalendarError("a late due date needs a due date")
    if due is not None and late_due is not None and late_due < due:
        raise CalendarError(f"the late due date {late_due.isoformat()} is before the due date {due.isoformat()}")
    if opens is not None and due is not None and due < opens:
        raise CalendarError(f"the due date {due.isoformat()} is before the opening {opens.isoformat()}")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC") from None


def parse_time(text: str, timezone: str = "UTC") -> dt.datetime:
    """ISO 8601 with an offset, or without one in `timezone`; returned in UTC."""
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        example = "e.g. 2026-12-10T23:59 or 2026-12-10T23:59-05:00"
        raise CalendarError(f"{text[:60]!r} is not an ISO 8601 time, {example}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone(timezone))
    return t.astimezone(dt.timezone.utc)


def shown(t: dt.datetime | None, timezone: str) -> str | None:
    """A time in the course's zone, ISO 8601 with its offset."""
    return None if t is None else t.astimezone(zone(timezone)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Deadlines:
    """One student's effective dates: the assignment's, or their extension's."""

    due: dt.datetime | None
    late_due: dt.datetime | None
    extended: bool

    @property
    def closes(self) -> dt.datetime | None:
        """The last moment an upload is accepted."""
        return self.late_due or self.due


def deadlines(calendar: Calendar, extension: tuple[dt.datetime, dt.datetime | None] | None) -> Deadlines:
    """The student's deadlines: an extension's due (and late due) replace the assignment's."""
    if extension is None:
        return Deadlines(calendar.due, calendar.late_due, False)
    return Deadlines(extension[0], extension[1], True)


def upload_refusal(calendar: Calendar, dl: Deadlines, now: dt.datetime) -> str | None:
    """Why an upload arriving `now` is refused (before opening, after closing), or None if it is accepted."""
    tz = calendar.timezone
    if calendar.opens is not None and now < calendar.opens:
        return f"submissions open at {shown(calendar.opens, tz)}"
    if dl.closes is not None and now > dl.closes:
        what = "the late due date" if dl.late_due else "the due date"
        return f"submissions closed at {shown(dl.closes, tz)} ({what}{', with your extension' if dl.extended else ''})"
    return None


def lateness_seconds(dl: Deadlines, submitted_at: dt.datetime) -> int:
    """Whole seconds after the due date (0 when on time or when there is no due date)."""
    if dl.due is None or submitted_at <= dl.due:
        return 0
    return max(1, int((submitted_at - dl.due).total_seconds()))


def penalty(raw_score: float, lateness: int, late_penalty: float) -> float:
    """Points taken: `late_penalty` x the raw score per day late, pro rata, never more than the raw score."""
    if lateness <= 0 or raw_score <= 0:
        return 0.0
    return min(raw_score, raw_score * late_penalty * lateness / DAY)


def released(calendar: Calendar, dl: Deadlines, now: dt.datetime, *, spec_visibility: str) -> bool:
    """Whether this student may see their hidden cases' results now."""
    if calendar.released_at is not None and calendar.released_at <= now:
        return True
    rule = calendar.release_rule(spec_visibility)
    if rule == "immediately":
        return True
    if rule == "after-due":
        return dl.due is not None and now > dl.due
    return False


def release_words(calendar: Calendar, dl: Deadlines, *, spec_visibility: str) -> tuple[str, dt.datetime | None]:
    """When this student's hidden results come, in words, and the time if one is set."""
    rule = calendar.release_rule(spec_visibility)
    if rule == "after-due" and dl.due is not None:
        return f"after your due date, {shown(dl.due, calendar.timezone)}", dl.due
    if rule == "after-due":
        return "after the due date, which is not set yet", None
    return "when the instructor releases them", None
