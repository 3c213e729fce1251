"""Scale-out benchmarks (issue 13): Celery workers on Redis and PostgreSQL, against each other and the embedded pool.

Called by run.py; every part runs on this machine: redis-server, a PostgreSQL cluster, `serve --broker`, and
`worker`s with concurrency 1 (rows 6-8 in the process sandbox; row 9 in the bwrap template, each worker pinned to
a core of its own: issue 21), all from tests/grader/service/scale (the same harness the tests use). Throughput is
submissions over the time from the first upload to the last report, under a burst.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from grader.service.queue import db  # noqa: E402
from tests.grader.service.scale.cluster import Cluster, Proc  # noqa: E402
from tests.grader.service.scale.servers import Postgres, Redis, free_port, missing, server_folder  # noqa: E402

EXAMPLES = ROOT / "submissions_example"
MIX = ["correct", "unflipped_kernel", "naive_softmax", "helpers_split", "transposed_fc", "p_without_t"]


def burst(c: Cluster, n: int, clients: int = 10) -> float:
    """Upload n submissions (one per student) from `clients` threads; seconds until the last report is stored."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        ids = list(pool.map(lambda i: c.submit(c.students[i], EXAMPLES / MIX[i % len(MIX)]), range(n)))
    c.wait_done(ids, timeout=60 + 10 * n)
    return time.monotonic() - t0


def queue_waits(c: Cluster) -> list[float]:
    """Seconds from each submission's acceptance to the start of its grade (the report's start time)."""
    with c.store.session() as s:
        rows = s.execute(
            select(db.Submission.submitted_at, db.Report.report_json).join(
                db.Report, db.Report.submission_id == db.Submission.id
            )
        ).all()
    out = []
    for submitted, body in rows:
        started = dt.datetime.fromisoformat(json.loads(body)["timing"]["started"])  # only this field matters here
        out.append((started.replace(tzinfo=None) - submitted).total_seconds())
    return out


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) if d.name.isdigit() else None
        except (OSError, IndexError, ValueError):
            continue
        if ppid is not None:
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def wait_template(proc: Proc, timeout: float = 60.0) -> set[int]:
    """Wait until a worker's pool process has its template (zygote.py) running; the cores that template may run on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in descendants(proc.p.pid):
            try:
                if b"zygote.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return os.sched_getaffinity(pid)
            except OSError:
                continue
        time.sleep(0.1)
    raise RuntimeError(f"no template started under {proc.log_path.name}:\n{proc.log()[-3000:]}")


def sandbox_notes(c: Cluster) -> set[str]:
    """The sandbox notes of the stored reports (the template's says so), and "not done" if a submission failed
    (a failed grade is quick and has no report: it would flatter the throughput)."""
    with c.store.session() as s:
        notes = {json.loads(body)["sandbox"]["note"] for body in s.scalars(select(db.Report.report_json))}
    return notes | ({"not done"} if set(c.statuses().values()) != {"done"} else set())


def celery_run(
    work: Path, pg: Postgres, n: int, workers: int, *, sandbox: str = "process", cpus: list[int] | None = None
) -> tuple[float, list[float], set[str]]:
    """(throughput, queue waits, the reports' sandbox notes) of a burst of n through `workers` workers, concurrency
    1 each; with `cpus`, worker k pinned to core cpus[k] (taskset), and each one's template up before the burst."""
    redis_dir = server_folder("bench-redis")
    redis = Redis(redis_dir).start()
    label = f"{workers}-{sandbox}" + (f"-cpu{'-'.join(map(str, cpus))}" if cpus else "")
    c = Cluster(work / f"celery-{label}", pg.create_database(f"bench{workers}_{free_port()}"), redis.url, [])
    c.folder.mkdir(parents=True)
    c.students = [f"s{i:04d}" for i in range(n)]
    try:
        c.init()
        c.serve(resend_after=60)
        for k in range(workers):
            cpu = cpus[k] if cpus else None
            w = c.worker(f"w{k}", uid_base=62000 + 5000 * k, lease=60, sandbox=sandbox, cpu=cpu)
            if cpus:
                cores = wait_template(w)
                assert cores == {cpu}, f"worker {k}'s template may run on cores {sorted(cores)}, not {cpu} alone"
        rate = n / burst(c, n)
        return rate, queue_waits(c), sandbox_notes(c)
    finally:
        c.close()
        redis.stop()
        shutil.rmtree(redis_dir, ignore_errors=True)


def embedded_run(work: Path, n: int, workers: int) -> float:
    """The same burst against `serve --workers N` (SQLite, no broker), the issue-12 service on one machine."""
    c = Cluster(work / "embedded", "", "", [f"s{i:04d}" for i in range(n)])
    c.folder.mkdir(parents=True)
    c.database = f"sqlite:///{(c.data / 'pa5.db').resolve()}"
    c.init()
    port = free_port()
    args = ["serve", "--data", str(c.data), "--port", str(port), "--workers", str(workers), "--sandbox", "process"]
    c.procs.append(Proc(args, c.folder / "serve.log"))
    c.url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{c.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        return n / burst(c, n)
    finally:
        c.close()


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def bench_scale(t, n: int, burst_n: int) -> None:
    """Rows 6-9 of the table: 1 vs 2 workers, queue wait under a burst, Celery against the embedded pool, and
    1 vs 2 workers pinned to a core each in the bwrap template (row 9, bench_pinned)."""
    why = missing()
    if why:
        for what in ("6. celery throughput", "7. queue wait", "8. celery vs embedded"):
            t.add(what, "skipped", why, "-", "-", "-")
        bench_pinned(t, burst_n)
        return
    with tempfile.TemporaryDirectory(prefix="pa5-bench-scale-") as tmp:
        work = Path(tmp)
        folder = server_folder("bench-pg")
        pg = Postgres(folder).start()
        try:
            one, _, _ = celery_run(work, pg, n, workers=1)
            two, waits, _ = celery_run(work, pg, burst_n, workers=2)
            embedded = embedded_run(work, burst_n, workers=2)
        finally:
            pg.stop()
            shutil.rmtree(folder, ignore_errors=True)
    ratio = two / one
    t.add(
        f"6. celery throughput, {burst_n} submissions, 2 workers x concurrency 1",
        f"{two:.2f}/s",
        f"{one:.2f}/s (1 worker, {n} submissions)",
        f"{ratio:.2f}x",
        ">= 1.7x",
        "yes" if ratio >= 1.7 else "no",
    )
    p50, p95 = pct(waits, 50), pct(waits, 95)
    # A burst drained at rate r: the job at position i waits about i / r, so p50 ~ 0.5 N/r and p95 ~ 0.95 N/r.
    f50, f95 = 0.5 * burst_n / two, 0.95 * burst_n / two
    t.add(
        f"7. queue wait, burst of {burst_n}, 2 workers (p50 / p95)",
        f"{p50:.1f} s / {p95:.1f} s",
        f"{f50:.1f} s / {f95:.1f} s (FIFO at the measured rate)",
        f"{p95 / f95:.2f}x",
        "<= 1.2x (p95)",
        "yes" if p95 <= 1.2 * f95 else "no",
    )
    overhead = two / embedded
    t.add(
        f"8. celery vs embedded pool, {burst_n} submissions, concurrency 2",
        f"{two:.2f}/s (celery)",
        f"{embedded:.2f}/s (serve --workers 2)",
        f"{overhead:.2f}x",
        ">= 0.9x",
        "yes" if overhead >= 0.9 else "no",
    )
    bench_pinned(t, burst_n)


def template_unavailable() -> str:
    """Why a worker's `--sandbox bwrap` would not be the pre-imported template here, or ''."""
    from grader.errors import SandboxUnavailable
    from grader.sandbox.bwrap.template import ForkBackend

    if os.environ.get("PA5_BWRAP_TEMPLATE") == "0":
        return "PA5_BWRAP_TEMPLATE=0 is set"
    try:
        ForkBackend().close()
    except SandboxUnavailable as e:
        return str(e)
    return ""


def bench_pinned(t, n: int) -> None:
    """Row 9 (issue 21): a burst of n through one worker pinned to core 0, then the same burst through two pinned
    to cores 0 and 1, both with `--sandbox bwrap` (the pre-imported template) and concurrency 1."""
    what = f"9. celery, 2 workers pinned to cores 0 and 1 vs 1 pinned to core 0, bwrap, burst of {n}"
    why = missing() or ("" if shutil.which("taskset") else "taskset is not installed (util-linux)")
    if not why and len(os.sched_getaffinity(0)) < 2:
        why = f"this process may use only cores {sorted(os.sched_getaffinity(0))}"
    why = why or template_unavailable()
    if why:
        t.add(what, "skipped", why, "-", "-", "-")
        return
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pa5-bench-pinned-") as tmp:
        work = Path(tmp)
        folder = server_folder("bench-pg")
        pg = Postgres(folder).start()
        try:
            one, _, notes1 = celery_run(work, pg, n, workers=1, sandbox="bwrap", cpus=[0])
            two, _, notes2 = celery_run(work, pg, n, workers=2, sandbox="bwrap", cpus=[0, 1])
        finally:
            pg.stop()
            shutil.rmtree(folder, ignore_errors=True)
    templated = all("pre-imported template" in note for note in notes1 | notes2)
    ratio, load = two / one, f"load average {before:.2f} before, {os.getloadavg()[0]:.2f} after"
    t.add(
        what + " (serve, Redis, PostgreSQL and the 10 upload clients unpinned, on the same 2 cores)",
        f"{two:.2f}/s, 2 workers" + ("" if templated else f"; NOT all done in the template: {sorted(notes1 | notes2)}"),
        f"{one:.2f}/s, 1 worker; {load}",
        f"{ratio:.2f}x",
        ">= 1.8x",
        ("yes" if ratio >= 1.8 else "no") if templated else "n/a",
    )


def main(argv=None) -> int:
    """python benchmarks/scale.py [N_ONE_WORKER] [BURST]: only these rows; --pinned-only BURST: only row 9."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=100, metavar="N_ONE_WORKER", help="submissions, 1 worker")
    ap.add_argument("burst", nargs="?", type=int, default=200, metavar="BURST", help="submissions per burst")
    ap.add_argument(
        "--pinned-only", type=int, metavar="BURST", help="only row 9: 1 vs 2 pinned bwrap workers, a burst of BURST"
    )
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from common import Table

    table = Table()
    if a.pinned_only:
        bench_pinned(table, a.pinned_only)
    else:
        bench_scale(table, n=a.n, burst_n=a.burst)
    print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
