"""Service benchmarks: idle latency against `pa5-grader grade` (issue 12); a deadline burst against `batch` (issue 21).

Usage: python benchmarks/service.py [--quick] [--sandbox bwrap] [--jobs 2] [--burst 1000] [--clients 50] [--rounds 2]
(run.py calls bench_service)

Both sides use the same sandbox, the same secret and the same submissions; `serve` runs as a real process on a
loopback port with its embedded pool (warm sandboxes on, as by default) and is driven over HTTP. The burst's
analysis (throughput, the FIFO model, lost and duplicated reports) is burst.py's.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from burst import Stored, Upload, analyse, burst_rows, epoch, pct

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "submissions_example"
MIX = ["correct", "unflipped_kernel", "naive_softmax", "helpers_split", "transposed_fc", "p_without_t"]
CLI = [sys.executable, "-m", "grader"]


class Service:
    """`admin init`, tokens for n students, and `serve` on a free port until close()."""

    def __init__(self, work: Path, n: int, *, sandbox: str, workers: int):
        self.data, self.students = work / "data", [f"s{i:04d}" for i in range(n)]
        self.instructor = _run([*CLI, "admin", "init", "--data", str(self.data)]).strip().splitlines()[-1]
        roster = work / "roster.csv"
        roster.write_text("student_id\n" + "\n".join(self.students) + "\n")
        _run([*CLI, "admin", "students", "--data", str(self.data), str(roster), "--out", str(work / "T.csv")])
        with (work / "T.csv").open() as f:
            self.tokens = {r["student_id"]: r["token"] for r in csv.DictReader(f)}
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(work / "serve.log", "w")  # noqa: SIM115 - closed in close()
        args = ["--data", str(self.data), "--port", str(port), "--sandbox", sandbox, "--workers", str(workers)]
        self.proc = subprocess.Popen([*CLI, "serve", *args], stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {(work / 'serve.log').read_text()[-2000:]}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.1)

    def submit(self, student: str, name: str, data: bytes) -> int:
        r = self.http.post(
            "/api/submissions",
            headers={"Authorization": f"Bearer {self.tokens[student]}"},
            files={"file": (name, data)},
        )
        r.raise_for_status()
        return r.json()["id"]

    def state(self, sid: int, wait: float = 0) -> dict:
        auth = {"Authorization": f"Bearer {self.instructor}"}
        return self.http.get(f"/api/submissions/{sid}", headers=auth, params={"wait": wait}).json()

    def counts(self) -> dict:
        return self.http.get("/api/queue", headers={"Authorization": f"Bearer {self.instructor}"}).json()["counts"]

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-2000:]}")
    return r.stdout


def _packed(name: str) -> tuple[str, bytes]:
    from grader.service.ops.client import pack

    return pack(EXAMPLES / name)


def one_latency(svc: Service, student: str, name: str, data: bytes) -> tuple[float, float]:
    """Upload to finished report on an idle service, long-polling as `submit --wait`; and the sandbox's share."""
    t0 = time.perf_counter()
    sid = svc.submit(student, name, data)
    while (state := svc.state(sid, wait=30))["status"] not in ("done", "failed"):
        pass
    return time.perf_counter() - t0, state["report"]["timing"]["seconds"]


def one_cli(svc: Service, student: str, sandbox: str) -> float:
    cmd = [*CLI, "grade", str(EXAMPLES / "correct"), "--student-id", student, "--sandbox", sandbox]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "--secret-file", str(svc.data / "secret")], capture_output=True, check=False)
    return time.perf_counter() - t0


def latencies(svc: Service, n: int, n_cli: int, sandbox: str) -> tuple[list[float], list[float], list[float]]:
    """Service and CLI in turn, so drift on a shared machine hits both alike; the service is idle for each."""
    name, data = _packed("correct")
    for student in svc.students[n:]:  # warm-up, not measured
        one_latency(svc, student, name, data)
    service, boxed, cli = [], [], []
    for i in range(n):
        total, inside = one_latency(svc, svc.students[i], name, data)
        service.append(total)
        boxed.append(inside)
        if i < n_cli:
            cli.append(one_cli(svc, svc.students[i], sandbox))
    return service, boxed, cli


def burst(svc: Service, n: int, clients: int) -> list[Upload]:
    """n uploads (one per student, cycling through MIX) from `clients` threads, each upload's start, status and id
    recorded; returns once the queue has settled (every accepted one graded, or 60 s + 3 s an upload passed)."""
    packed = {m: _packed(m) for m in MIX}

    def one(i: int) -> Upload:
        student = svc.students[i]
        start = time.time()  # the wall clock the service stamps its reports with (burst.py)
        try:
            r = svc.http.post(
                "/api/submissions",
                headers={"Authorization": f"Bearer {svc.tokens[student]}"},
                files={"file": packed[MIX[i % len(MIX)]]},
            )
        except httpx.HTTPError as e:
            return Upload(start, time.time(), 0, None, type(e).__name__)
        ok = 200 <= r.status_code < 300
        return Upload(start, time.time(), r.status_code, r.json()["id"] if ok else None, "" if ok else r.text[:200])

    with ThreadPoolExecutor(clients) as pool:
        uploads = list(pool.map(one, range(n)))
    accepted, deadline = sum(u.sid is not None for u in uploads), time.monotonic() + 60 + 3 * n
    # Twice a second, and cheaply: /healthz counts the queued jobs; /api/queue, which lists every active job, only
    # once at most the workers' few are left.
    while time.monotonic() < deadline and svc.http.get("/healthz").json()["queued"] > 0:
        time.sleep(0.5)
    while time.monotonic() < deadline and (c := svc.counts())["done"] + c["failed"] < accepted:
        time.sleep(0.5)
    return uploads


def stored(data: Path) -> Stored:
    """The submissions, reports and jobs in the stopped service's SQLite database, opened read-only."""
    db = sqlite3.connect(f"file:{data / 'pa5.db'}?mode=ro", uri=True)
    try:
        return Stored(
            submissions=db.execute("SELECT id, student_id FROM submissions").fetchall(),
            reports=[(sid, epoch(t)) for sid, t in db.execute("SELECT submission_id, created_at FROM reports")],
            jobs=db.execute("SELECT submission_id, status, attempts FROM jobs").fetchall(),
        )
    finally:
        db.close()


def batch_time(work: Path, n: int, jobs: int, sandbox: str, secret: Path) -> float:
    klass = work / "class"
    klass.mkdir(parents=True)
    for i in range(n):
        shutil.copytree(EXAMPLES / MIX[i % len(MIX)], klass / f"s{i:04d}")
    cmd = [*CLI, "batch", str(klass), "--out", str(work / "out"), "--jobs", str(jobs), "--sandbox", sandbox]
    t0 = time.perf_counter()
    _run([*cmd, "--secret-file", str(secret)])
    return time.perf_counter() - t0


def hardening() -> str:
    """What the rows say of the hardening issue's measures: `serve` has no flag that turns any of them off."""
    note = "quotas, seccomp and the watchdog on"
    if os.environ.get("PA5_JOB_MOUNTS") == "0":
        note += "; PA5_JOB_MOUNTS=0: the quota measured, not a capped tmpfs"
    return note


def bench_service(
    t, *, work: Path, n_latency: int, n_burst: int, clients: int = 50, jobs: int = 2, sandbox="auto", rounds: int = 2
):
    """Adds the service's rows to run.py's table `t`."""
    from grader.errors import SandboxUnavailable
    from grader.sandbox import make_backend

    try:
        with make_backend(sandbox):
            pass
    except SandboxUnavailable as e:
        t.add("S1-S4. service latency, burst throughput and integrity", "skipped", str(e)[:120], "-", "-", "-")
        return None
    service, cli = [], []
    if n_latency:  # 0 skips the latency row
        svc = Service(work / "svc-latency", n_latency + 3, sandbox=sandbox, workers=jobs)
        try:
            service, boxed, cli = latencies(svc, n_latency, min(n_latency, 20), sandbox)
        finally:
            svc.close()
        p50, p95, c50, c95 = pct(service, 0.5), pct(service, 0.95), pct(cli, 0.5), pct(cli, 0.95)
        t.add(
            f"S1. service idle latency, upload to report ({sandbox}, p50 / p95 of {n_latency} sequential)",
            f"{p50:.3f} s / {p95:.3f} s (grading in the sandbox, p50: {pct(boxed, 0.5):.3f} s)",
            f"`pa5-grader grade`, same submission, in turn: {c50:.3f} s / {c95:.3f} s (of {len(cli)})",
            f"{p50 / c50:.2f}x (p50)",
            "<= 0.3x (p50)",
            "yes" if p50 <= 0.3 * c50 else "no",
        )
    bursts, batched = [], []
    for r in range(rounds):  # service and batch in turn, so drift on a shared machine hits both alike
        svc = Service(work / f"svc-burst{r}", n_burst, sandbox=sandbox, workers=jobs)
        try:
            uploads = burst(svc, n_burst, clients)
        finally:
            svc.close()
        bursts.append(analyse(uploads, stored(svc.data)))
        batched.append(batch_time(work / f"svc-batch{r}", n_burst, jobs, sandbox, svc.data / "secret"))
    burst_rows(t, bursts, batched, n=n_burst, clients=clients, jobs=jobs, setup=f"{sandbox}; {hardening()}")
    return {
        "latency": service,
        "cli": cli,
        "burst_seconds": [b.span for b in bursts],
        "batch_seconds": batched,
        "bursts": bursts,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="service and batch bursts, in turn")
    ap.add_argument("--latency", type=int, default=None, help="sequential submissions timed (0: skip; default 50)")
    ap.add_argument("--burst", type=int, default=None, help="uploads per burst (default 1000; --quick 12)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients of the burst")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    from common import Table

    t = Table()
    with tempfile.TemporaryDirectory(prefix="pa5-bench-service-") as tmp:
        n_lat, n_burst = (5, 12) if a.quick else (50, 1000)
        n_lat = n_lat if a.latency is None else a.latency
        n_burst = n_burst if a.burst is None else a.burst
        r = bench_service(
            t,
            work=Path(tmp),
            n_latency=n_lat,
            n_burst=n_burst,
            clients=a.clients,
            jobs=a.jobs,
            sandbox=a.sandbox,
            rounds=a.rounds,
        )
    print(t.markdown())
    if r and r["latency"]:
        print(f"service latency: median {statistics.median(r['latency']):.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
