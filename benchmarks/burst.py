"""A deadline burst through the service, analysed: throughput, upload-to-report latency against a FIFO model, and
whether every accepted upload got exactly one report (issue 21). Pure functions and the table's rows; service.py
measures.

Times are seconds since the epoch on the machine's wall clock (CLOCK_REALTIME): the benchmark takes an upload's
start with time.time(), the service stamps a report with datetime.now(timezone.utc) (stored as naive UTC), and both
run on the same machine, so the two are one clock.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Upload:
    """One POST /api/submissions as a client saw it."""

    start: float  # before the request was sent
    end: float  # when its answer (or the error) came back
    status: int  # HTTP status; 0: no answer (a connection error or a timeout)
    sid: int | None  # the submission id of a 2xx answer
    detail: str = ""  # the start of a refusal's body, or the error's name


@dataclass(frozen=True)
class Stored:
    """The service's database after `serve` stopped, read-only."""

    submissions: list[tuple[int, str]]  # (id, student)
    reports: list[tuple[int, float]]  # (submission id, the report row's created_at)
    jobs: list[tuple[int, str, int]]  # (submission id, status, attempts)


@dataclass(frozen=True)
class Burst:
    """One burst, analysed: what the clients were answered, what the database holds, and the latencies."""

    uploads: int
    non_2xx: int  # every upload without a 2xx answer, 5xx, 429 and no answer included
    n_5xx: int
    n_429: int  # never expected: each student uploads once, and 1,000 stays under the queue's cap (QUEUE_CAP)
    no_answer: int
    lost: int  # accepted (2xx) submissions without a report
    duplicated: int  # reports beyond one per accepted submission, and ids answered more than once
    unacknowledged: int  # stored submissions whose id no 2xx answer carried
    reports: int
    failed_jobs: int  # jobs the grader failed (their report is the grader's zero report)
    retried_jobs: int  # jobs that took more than one attempt
    span: float  # first upload's start to the last submission's first report
    rate: float  # accepted submissions reported, per second over the span
    latencies: list[float]  # upload start to first report, per accepted submission reported, in upload order
    model: list[float]  # the FIFO model's latencies, same order
    refusals: dict[str, int]  # "status: the answer's start" per non-2xx, most common first (whose 429 it was)

    @property
    def whole(self) -> bool:
        """Every upload answered 2xx, each with exactly one report, and no report nobody asked for."""
        return self.non_2xx == 0 and self.lost == 0 and self.duplicated == 0 and self.unacknowledged == 0


def pct(values: list[float], q: float) -> float:
    """The q-quantile, nearest rank (NaN of none)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def epoch(stored_utc: str) -> float:
    """A time as the service's database stores it (naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff') in epoch seconds."""
    return dt.datetime.fromisoformat(stored_utc).replace(tzinfo=dt.timezone.utc).timestamp()


def fifo_latencies(arrivals: list[float], rate: float) -> list[float]:
    """Latencies of a first-in-first-out queue served at `rate` jobs per second, one job at a time.

    Job i (arrivals in upload order, a_i its upload's start) finishes at f_i = max(f_(i-1), a_i) + 1/rate, with
    f_(-1) = a_0; its latency is f_i - a_i. While a burst keeps the queue from emptying, f_i = a_0 + (i + 1)/rate:
    the job at queue position i is done (i + 1)/rate after the burst started. At the rate the service measured
    (reports / (last report - first upload)) the model's last job ends with the service's, so the model charges
    only the grading at the throughput reached; what the service's p95 exceeds it by is what it adds: jobs taken
    out of order, reports held back, a stalled worker. (Two workers each at rate/2 would finish the first jobs
    1/rate later than this one server at `rate`: less than 1 s once rate > 1/s.)

    Inputs:
    - arrivals: non-decreasing start times, seconds
    - rate: jobs per second, > 0

    Returns: latencies, seconds, of shape (N,) for N arrivals.
    """
    out, f = [], arrivals[0] if arrivals else 0.0
    for a in arrivals:
        f = max(f, a) + 1 / rate
        out.append(f - a)
    return out


def analyse(uploads: list[Upload], stored: Stored) -> Burst:
    """The burst's counts, throughput and latencies (measured and modelled) from what clients saw and what is stored."""
    statuses = [u.status for u in uploads]
    accepted = [u for u in uploads if u.sid is not None]
    answered = Counter(u.sid for u in accepted)
    per_sid = Counter(sid for sid, _ in stored.reports)
    written: dict[int, float] = {}
    for sid, t in stored.reports:
        written[sid] = min(t, written.get(sid, t))
    first_answer = {u.sid: u for u in sorted(accepted, key=lambda u: -u.start)}  # an id answered twice: its first
    reported = sorted((u for sid, u in first_answer.items() if sid in written), key=lambda u: u.start)
    first = min((u.start for u in uploads), default=0.0)
    span = max(written.values(), default=first) - first
    rate = len(reported) / span if span > 0 else 0.0
    return Burst(
        uploads=len(uploads),
        non_2xx=sum(not 200 <= s < 300 for s in statuses),
        n_5xx=sum(500 <= s < 600 for s in statuses),
        n_429=statuses.count(429),
        no_answer=statuses.count(0),
        lost=sum(per_sid[sid] == 0 for sid in answered),
        duplicated=sum(per_sid[sid] - 1 for sid in answered if per_sid[sid] > 1)
        + sum(k - 1 for k in answered.values()),
        unacknowledged=sum(sid not in answered for sid, _ in stored.submissions),
        reports=len(stored.reports),
        failed_jobs=sum(status == "failed" for _, status, _ in stored.jobs),
        retried_jobs=sum(attempts > 1 for _, _, attempts in stored.jobs),
        span=span,
        rate=rate,
        latencies=[written[u.sid] - u.start for u in reported],
        model=fifo_latencies([u.start for u in reported], rate) if rate else [],
        refusals=dict(
            Counter(f"{u.status}: {u.detail[:80]}" for u in uploads if not 200 <= u.status < 300).most_common()
        ),
    )


def burst_rows(t, bursts: list[Burst], batched: list[float], *, n: int, clients: int, jobs: int, setup: str):
    """Adds rows S2-S4 to run.py's table `t`: throughput against `batch` (`batched`: its seconds for the same n, a
    round each), p95 upload-to-report against the FIFO model, lost and duplicated reports; `setup` names the sandbox
    and the hardening in force."""
    # the service's reports a second over the batch's submissions a second, round by round
    ratios = [b.rate * x / n for b, x in zip(bursts, batched, strict=True)]
    ratio = statistics.median(ratios)
    t.add(
        f"S2. service throughput, a burst of {n} uploads from {clients} clients, `serve --workers {jobs}` ({setup})",
        f"{statistics.median(b.rate for b in bursts):.2f}/s ({', '.join(f'{b.span:.1f}' for b in bursts)} s, "
        "first upload to last report)",
        f"`batch --jobs {jobs}`, in turn: {n / statistics.median(batched):.2f}/s "
        f"({', '.join(f'{x:.1f}' for x in batched)} s)",
        f"{ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})",
        ">= 0.9x",
        "yes" if ratio >= 0.9 else "no",
    )
    q = [(pct(b.latencies, 0.5), pct(b.latencies, 0.95), pct(b.model, 0.5), pct(b.model, 0.95)) for b in bursts]
    t.add(
        "S3. burst upload-to-report, p50 / p95 (the report row's created_at - the upload's start, one wall clock)",
        ", ".join(f"{p50:.2f} s / {p95:.2f} s" for p50, p95, _, _ in q),
        "FIFO queue at the measured throughput: " + ", ".join(f"{m50:.2f} s / {m95:.2f} s" for _, _, m50, m95 in q),
        ", ".join(f"p95 {p95 - m95:+.2f} s" for _, p95, _, m95 in q),
        "p95 <= model's + 1 s",
        "yes" if all(p95 <= m95 + 1 for _, p95, _, m95 in q) else "no",
    )
    counts = ("uploads", "non_2xx", "n_5xx", "n_429", "no_answer", "lost", "duplicated", "unacknowledged", "reports")
    total = {k: sum(getattr(b, k) for b in bursts) for k in (*counts, "failed_jobs", "retried_jobs")}
    refused = sum((Counter(b.refusals) for b in bursts), Counter()).most_common(3)
    t.add(
        f"S4. burst integrity, {len(bursts)} x {n} uploads (clients' answers; the database, read after serve stopped)",
        f"{total['non_2xx']} non-2xx ({total['n_5xx']} 5xx, {total['n_429']} 429, {total['no_answer']} unanswered); "
        f"{total['lost']} lost, {total['duplicated']} duplicated, {total['unacknowledged']} stored unacknowledged; "
        f"{total['reports']} reports for {total['uploads'] - total['non_2xx']} accepted "
        f"({total['failed_jobs']} grader-failed, {total['retried_jobs']} retried jobs)"
        + "".join(f"; {k!r} x {v}" for k, v in refused),
        "-",
        "-",
        "0 5xx, 0 lost, 0 duplicated (every upload 2xx)",
        "yes" if all(b.whole for b in bursts) else "no",
    )
