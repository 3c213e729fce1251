"""Which submission counts, what it is worth, and the gradebook's row, from hand-made facts."""

import datetime as dt

from grader.service.course.calendar import Calendar, deadlines
from grader.service.course.standing import Facts, counting, row, used, worth

UTC = dt.timezone.utc
DUE = dt.datetime(2026, 12, 10, 23, 59, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def f(i, at, score, status="done", student="ann"):
    return Facts(i, student, at, status, score, None if score is None else 100.0)


def test_latest_counts_the_newest_graded_submission_and_skips_failed_ones():
    c = Calendar(due=DUE, late_due=DUE + 48 * HOUR, late_penalty=0.5)
    dl = deadlines(c, None)
    facts = [f(1, DUE - HOUR, 90.0), f(2, DUE + HOUR, 70.0), f(3, DUE + 2 * HOUR, 0.0, status="failed")]
    assert counting(facts, dl, c).id == 2  # the grader's failure never counts
    assert counting([f(4, DUE, None, status="queued")], dl, c) is None


def test_best_compares_final_scores_after_the_penalty():
    c = Calendar(due=DUE, late_due=DUE + 48 * HOUR, late_penalty=0.5, score_policy="best")
    dl = deadlines(c, None)
    # 95 raw, 24 h late at 50 %/day: 47.5 final, below an on-time 60.
    facts = [f(1, DUE, 60.0), f(2, DUE + 24 * HOUR, 95.0)]
    assert counting(facts, dl, c).id == 1
    w = worth(95.0, DUE + 24 * HOUR, dl, c)
    assert (w.late, w.lateness_seconds, w.penalty, w.score) == (True, 86400, 47.5, 47.5)
    assert counting([f(1, DUE, 60.0), f(2, DUE, 60.0)], dl, c).id == 2  # a tie: the newer


def test_failed_and_superseded_submissions_do_not_use_up_the_limit():
    facts = [f(1, DUE, 1.0), f(2, DUE, None, "failed"), f(3, DUE, None, "superseded"), f(4, DUE, None, "queued")]
    assert used(facts) == 2


def test_gradebook_rows_for_every_status():
    c = Calendar(due=DUE, late_due=DUE + 48 * HOUR, late_penalty=0.1)
    dl = deadlines(c, None)
    nobody = row("zed", [], dl, c, max_score=100.0)
    assert (nobody.status, nobody.submissions, nobody.score, nobody.submission_id) == ("no submission", 0, None, None)
    graded = row("ann", [f(1, DUE + 12 * HOUR, 80.0)], dl, c, max_score=100.0)
    assert (graded.status, graded.submission_id, graded.lateness_seconds) == ("graded", 1, 12 * 3600)
    assert (graded.raw_score, round(graded.penalty, 9), round(graded.score, 9)) == (80.0, 4.0, 76.0)
    pending = row("bo", [f(1, DUE, 80.0), f(2, DUE, None, "queued")], dl, c, max_score=100.0)
    assert pending.status == "pending" and pending.submission_id == 1 and pending.submissions == 2
    failed = row("cy", [f(1, DUE, None, "failed")], dl, c, max_score=100.0)
    assert failed.status == "failed" and failed.score is None
    extended = row("di", [], deadlines(c, (DUE + 72 * HOUR, None)), c, max_score=100.0)
    assert extended.extended_due == DUE + 72 * HOUR
