"""Per-student upload limits over sliding windows, counted from the database so restarts do not reset them.

Every upload is counted when it arrives, before anything checks it: one refused for its content costs the service
the same compile and unpacking as one accepted, so it counts the same.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from grader.errors import GraderError
from grader.service.ops.settings import RateLimit
from grader.service.queue.db import Token, Upload, utcnow


class RateLimited(GraderError):
    """Too many submissions: the API answers 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def window_start(limits: Iterable[RateLimit], now: dt.datetime) -> dt.datetime:
    """The oldest time any limit looks at: submissions before it never count."""
    longest = max((lim.seconds for lim in limits), default=0.0)
    return now - dt.timedelta(seconds=longest)


def check_rate(times: list[dt.datetime], limits: Iterable[RateLimit], now: dt.datetime) -> None:
    """Raise RateLimited when one more submission now would exceed a limit; Retry-After is when it would not."""
    wait = 0.0
    broken = None
    for lim in limits:
        recent = sorted(t for t in times if (now - t).total_seconds() < lim.seconds)
        if len(recent) >= lim.count:
            # The window frees a slot when the oldest submission that fills it leaves the window.
            free_at = recent[len(recent) - lim.count] + dt.timedelta(seconds=lim.seconds)
            w = (free_at - now).total_seconds()
            if w > wait:
                wait, broken = w, lim
    if broken is not None:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(
            f"too many submissions: at most {broken.count} per {_span(broken.seconds)}; try again in {seconds} s",
            retry_after=seconds,
        )


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds / 3600:g} hours"
    if seconds % 60 == 0:
        return "minute" if seconds == 60 else f"{seconds / 60:g} minutes"
    return f"{seconds:g} s"


class RateOps:
    """Mixed into Store: admitting an upload under the limits is one transaction."""

    sessions: sessionmaker

    def admit_upload(self, *, student_id: str, limits: Iterable[RateLimit], now: dt.datetime | None = None) -> None:
        """Count one upload of `student_id` now, or raise RateLimited (and count nothing) if it would exceed a limit."""
        now = now or utcnow()
        limits = tuple(limits)
        start = window_start(limits, now)
        with self.sessions.begin() as s:
            # Serializes one student's uploads on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
            s.execute(select(Token.id).where(Token.student_id == student_id).with_for_update())
            s.execute(delete(Upload).where(Upload.student_id == student_id, Upload.at < start))
            times = s.scalars(select(Upload.at).where(Upload.student_id == student_id)).all()
            check_rate(list(times), limits, now)
            s.add(Upload(student_id=student_id, at=now))
