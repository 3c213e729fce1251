"""The calendar the course tests of the API and the pages share, with its times worked out by hand."""

import datetime as dt

UTC = dt.timezone.utc
# 2026-12-10 23:59 in New York (UTC-5) is 2026-12-11 04:59 UTC.
DUE = dt.datetime(2026, 12, 11, 4, 59, tzinfo=UTC)
OPENS = DUE - dt.timedelta(days=10)
LATE_DUE = DUE + dt.timedelta(days=2)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
CALENDAR = {
    "opens": "2026-12-01T04:59:00Z",
    "due": "2026-12-10T23:59",  # naive: read in the course's zone
    "late_due": "2026-12-12T23:59",
    "late_penalty": 0.1,
    "timezone": "America/New_York",
}
