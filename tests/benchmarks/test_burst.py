"""The burst analysis of benchmarks/burst.py: the FIFO model and the lost and duplicated counts, on hand-made bursts."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from burst import Stored, Upload, analyse, epoch, fifo_latencies, pct


def test_fifo_model_of_jobs_arriving_together_finishes_one_every_1_over_rate():
    assert fifo_latencies([0.0, 0.0, 0.0, 0.0], 2.0) == [0.5, 1.0, 1.5, 2.0]


def test_fifo_model_charges_each_job_from_its_own_arrival():
    assert fifo_latencies([0.0, 0.1, 0.2, 0.3], 2.0) == pytest.approx([0.5, 0.9, 1.3, 1.7])


def test_fifo_model_queue_that_empties_starts_again_at_the_next_arrival():
    assert fifo_latencies([0.0, 0.0, 3.0, 3.0], 2.0) == [0.5, 1.0, 0.5, 1.0]


def test_pct_is_nearest_rank():
    assert pct([2.0, 0.6, 1.4, 1.0], 0.95) == 2.0
    assert pct([2.0, 0.6, 1.4, 1.0], 0.5) == 1.4  # rank round(1.5) = 2
    assert pct([], 0.5) != pct([], 0.5)  # NaN


def test_epoch_reads_the_databases_naive_utc():
    assert epoch("1970-01-01 00:01:40.250000") == 100.25


def test_a_clean_burst_has_its_throughput_and_latencies():
    uploads = [Upload(100.0, 100.1, 202, sid) for sid in (1, 2, 3, 4)]
    stored = Stored(
        submissions=[(1, "a"), (2, "b"), (3, "c"), (4, "d")],
        reports=[(1, 100.6), (2, 101.0), (3, 101.4), (4, 102.0)],
        jobs=[(1, "done", 1), (2, "done", 1), (3, "done", 1), (4, "done", 1)],
    )
    b = analyse(uploads, stored)
    assert (b.span, b.rate) == (2.0, 2.0)
    assert b.latencies == pytest.approx([0.6, 1.0, 1.4, 2.0])
    assert b.model == [0.5, 1.0, 1.5, 2.0]
    assert (b.non_2xx, b.n_5xx, b.lost, b.duplicated, b.unacknowledged, b.reports) == (0, 0, 0, 0, 0, 4)
    assert b.whole and b.refusals == {}


def test_lost_duplicated_unacknowledged_and_refused_uploads_are_counted_apart():
    uploads = [
        Upload(10.0, 10.2, 202, 1),
        Upload(10.0, 10.2, 202, 2),  # no report: lost
        Upload(10.1, 10.3, 202, 3),  # two reports: one duplicated
        Upload(10.1, 10.3, 202, 3),  # the same id answered twice: one more
        Upload(10.2, 10.4, 500, None, "Internal Server Error"),
        Upload(10.2, 10.4, 429, None, "too many uploads"),
        Upload(10.3, 70.3, 0, None, "ReadTimeout"),
    ]
    stored = Stored(
        submissions=[(1, "a"), (2, "b"), (3, "c"), (4, "g")],  # 4: stored, yet its client got no 2xx
        reports=[(1, 11.0), (3, 12.0), (3, 14.0), (4, 12.5)],
        jobs=[(1, "done", 1), (2, "queued", 0), (3, "done", 2), (4, "failed", 3)],
    )
    b = analyse(uploads, stored)
    assert (b.uploads, b.non_2xx, b.n_5xx, b.n_429, b.no_answer) == (7, 3, 1, 1, 1)
    assert (b.lost, b.duplicated, b.unacknowledged, b.reports) == (1, 2, 1, 4)
    assert (b.failed_jobs, b.retried_jobs) == (1, 2)
    assert b.refusals == {"500: Internal Server Error": 1, "429: too many uploads": 1, "0: ReadTimeout": 1}
    # the last first report is 4's, at 12.5; ids 1 and 3 reported, at 11.0 and 12.0: 2 over 2.5 s
    assert (b.span, b.rate) == (2.5, 0.8)
    assert b.latencies == pytest.approx([1.0, 1.9])
    assert b.model == pytest.approx([1.25, 2.4])  # finished at 10.0 + 1.25 and 11.25 + 1.25
    assert not b.whole
