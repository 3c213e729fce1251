"""The calendar's rules at their boundaries: each time rule exactly at its moment and one second after."""

import datetime as dt

import pytest

from grader.errors import GraderError
from grader.service.course.calendar import (
    Calendar,
    CalendarError,
    deadlines,
    lateness_seconds,
    parse_time,
    penalty,
    release_words,
    released,
    shown,
    upload_refusal,
)

UTC = dt.timezone.utc
OPENS = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DUE = dt.datetime(2026, 12, 10, 23, 59, tzinfo=UTC)
LATE = dt.datetime(2026, 12, 12, 23, 59, tzinfo=UTC)
SECOND = dt.timedelta(seconds=1)


def cal(**kw) -> Calendar:
    return Calendar(**{"opens": OPENS, "due": DUE, "late_due": LATE, "late_penalty": 0.1, **kw})


def test_the_upload_window_includes_its_ends_and_nothing_beyond():
    c = cal()
    dl = deadlines(c, None)
    assert "open at 2026-12-01T09:00:00+00:00" in upload_refusal(c, dl, OPENS - SECOND)
    assert upload_refusal(c, dl, OPENS) is None
    assert upload_refusal(c, dl, DUE + SECOND) is None  # late, but accepted
    assert upload_refusal(c, dl, LATE) is None
    refusal = upload_refusal(c, dl, LATE + SECOND)
    assert "closed at 2026-12-12T23:59:00+00:00" in refusal and "late due date" in refusal


def test_without_a_late_due_date_the_due_date_closes():
    c = cal(late_due=None)
    dl = deadlines(c, None)
    assert upload_refusal(c, dl, DUE) is None
    assert "closed at 2026-12-10T23:59:00+00:00 (the due date)" in upload_refusal(c, dl, DUE + SECOND)
    assert upload_refusal(Calendar(), deadlines(Calendar(), None), DUE) is None  # no calendar: always open


def test_on_time_exactly_at_the_due_date_late_one_second_after():
    dl = deadlines(cal(), None)
    assert lateness_seconds(dl, DUE) == 0
    assert lateness_seconds(dl, DUE + SECOND) == 1
    assert lateness_seconds(dl, DUE + dt.timedelta(hours=36)) == 36 * 3600
    assert lateness_seconds(deadlines(Calendar(), None), LATE) == 0  # no due date: never late


def test_the_penalty_is_pro_rata_per_day_and_never_more_than_the_score():
    # 10 % of the raw score per day: 36 h late on 80 points is 1.5 days, 12 points.
    assert penalty(80.0, 36 * 3600, 0.1) == pytest.approx(12.0)
    assert penalty(80.0, 1, 0.1) == pytest.approx(80 * 0.1 / 86400)
    assert penalty(80.0, 0, 0.5) == 0.0
    assert penalty(80.0, 30 * 86400, 0.5) == 80.0  # capped: a score never goes below 0
    assert penalty(0.0, 86400, 0.5) == 0.0


def test_an_extension_replaces_both_dates_for_that_student_only():
    c = cal()
    mine = deadlines(c, (DUE + dt.timedelta(days=3), None))
    assert mine.extended and mine.due == DUE + dt.timedelta(days=3) and mine.late_due is None
    assert lateness_seconds(mine, LATE) == 0  # on time for them
    assert upload_refusal(c, mine, mine.due + SECOND).endswith("(the due date, with your extension)")
    assert not deadlines(c, None).extended


def test_release_after_due_is_one_second_after_the_students_due_date():
    c = cal(release="after-due")
    dl = deadlines(c, None)
    assert not released(c, dl, DUE, spec_visibility="after_due_date")
    assert released(c, dl, DUE + SECOND, spec_visibility="after_due_date")
    extended = deadlines(c, (LATE, None))
    assert not released(c, extended, DUE + SECOND, spec_visibility="after_due_date")  # their due date is later
    assert "after your due date, 2026-12-10T23:59:00+00:00" in release_words(c, dl, spec_visibility="x")[0]


def test_manual_and_immediate_release_and_the_specs_default_rule():
    dl = deadlines(cal(), None)
    manual = cal(release="manual")
    assert not released(manual, dl, LATE + dt.timedelta(days=30), spec_visibility="after_due_date")
    published = manual.model_copy(update={"released_at": DUE - dt.timedelta(days=1)})
    assert released(published, dl, DUE - dt.timedelta(days=1), spec_visibility="after_due_date")
    assert not released(published, dl, DUE - dt.timedelta(days=1) - SECOND, spec_visibility="after_due_date")
    assert released(cal(release="immediately"), dl, OPENS, spec_visibility="after_due_date")
    # No rule set: the spec's hidden_visibility decides.
    assert cal().release_rule("visible") == "immediately" and cal().release_rule("after_published") == "manual"
    assert not released(Calendar(), deadlines(Calendar(), None), LATE, spec_visibility="after_due_date")


def test_times_are_read_in_the_course_zone_and_kept_in_utc():
    # New York is UTC-5 in December and UTC-4 in July: zoneinfo, not a fixed offset.
    assert parse_time("2026-12-10T23:59", "America/New_York") == dt.datetime(2026, 12, 11, 4, 59, tzinfo=UTC)
    assert parse_time("2026-07-10T23:59", "America/New_York") == dt.datetime(2026, 7, 11, 3, 59, tzinfo=UTC)
    assert parse_time("2026-12-10T23:59+01:00", "America/New_York") == dt.datetime(2026, 12, 10, 22, 59, tzinfo=UTC)
    assert parse_time("2026-12-10T23:59Z") == DUE
    assert shown(DUE, "Europe/Berlin") == "2026-12-11T00:59:00+01:00"
    for bad in ("tomorrow", "2026-13-01T00:00", ""):
        with pytest.raises(CalendarError):
            parse_time(bad)
    with pytest.raises(CalendarError, match="unknown time zone"):
        parse_time("2026-12-10T23:59", "Mars/Base")


def test_settings_that_contradict_each_other_are_refused():
    with pytest.raises(GraderError, match="before the due date"):
        cal(late_due=DUE - SECOND)
    with pytest.raises(GraderError, match="before the opening"):
        cal(opens=DUE + SECOND, late_due=None)
    with pytest.raises(GraderError, match="needs a due date"):
        Calendar(late_due=LATE)
    with pytest.raises(ValueError):
        Calendar(due=dt.datetime(2026, 12, 10))  # naive: no zone to read it in
