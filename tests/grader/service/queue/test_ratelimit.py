import datetime as dt

import pytest

from grader.service.ops.settings import ServiceSettings
from grader.service.queue.ratelimit import RateLimit, RateLimited, check_rate

NOW = dt.datetime(2026, 11, 26, 12, 0, 0)
DEFAULT = ServiceSettings(data_dir=".").rate_limits


def ago(*seconds):
    return [NOW - dt.timedelta(seconds=s) for s in seconds]


@pytest.mark.parametrize(
    ("times", "retry_after"),
    [
        ([], None),
        (ago(11), None),
        (ago(10), None),  # the window is [now - 10 s, now): exactly 10 s ago has left it
        (ago(3), 7),
        (ago(9.5), 1),  # rounded up, never 0
        # 30 in the last hour, the newest 20 s ago: the 31st waits until the oldest (1760 s ago) leaves the hour.
        (ago(*range(20, 20 + 30 * 60, 60)), 3600 - 1760),
        (ago(*range(20, 20 + 29 * 60, 60)), None),
    ],
)
def test_default_limits(times, retry_after):
    if retry_after is None:
        check_rate(times, DEFAULT, NOW)
    else:
        with pytest.raises(RateLimited) as e:
            check_rate(times, DEFAULT, NOW)
        assert e.value.retry_after == retry_after


def test_the_longest_wait_wins_and_is_named():
    limits = (RateLimit(count=2, seconds=60), RateLimit(count=1, seconds=10))
    with pytest.raises(RateLimited) as e:
        check_rate(ago(5, 30), limits, NOW)
    assert e.value.retry_after == 30  # 2 per minute: the one 30 s ago frees a slot in 30 s; 1 per 10 s needs 5
    assert "at most 2 per minute" in str(e.value)
