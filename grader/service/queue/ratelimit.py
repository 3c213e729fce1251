"""Per-student upload limits over sliding windows: the rule; the store counts the uploads, so restarts keep them.

Every upload is counted when it arrives, before anything checks it: one refused for its content costs the service
the same compile and unpacking as one accepted, so it counts the same.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from grader.errors import GraderError


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=1, description="Submissions allowed per window.")
    seconds: float = Field(gt=0, description="Length of the sliding window.")


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
