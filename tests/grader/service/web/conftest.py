"""Fixtures of the web tests: a real service on a clock the test sets, with the shared calendar."""

import pytest

from grader.service.queue.ratelimit import RateLimit
from tests.grader.service.live import ManualClock, running
from tests.grader.service.web.calendar_case import CALENDAR, OPENS


@pytest.fixture
def clock():
    return ManualClock(OPENS)


@pytest.fixture
def course(service_data, clock):
    """The service (no workers, no practical rate limit) with the shared calendar set by the instructor."""
    with running(service_data, clock=clock, rate_limits=(RateLimit(count=1000, seconds=1),)) as s:
        with s.client("instructor") as c:
            r = c.put("/api/assignment", json=CALENDAR)
            assert r.status_code == 200, r.text
        yield s
