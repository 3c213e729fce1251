"""A scaled-out service in processes: `admin` against PostgreSQL, `serve --broker`, and `worker`s on Redis."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from grader.service.ops.client import pack
from grader.service.queue import db
from grader.service.queue.store import Store
from tests.children import default_signals
from tests.grader.service.scale.servers import free_port

CLI = [sys.executable, "-m", "grader"]


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, **kw)


class Proc:
    """A command in a session of its own, so that kill -9 takes it and every process it started."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None, prefix: tuple[str, ...] = ()):
        self.log_path = log
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.p = subprocess.Popen(
            [*prefix, *CLI, *args],  # a prefix such as taskset execs the CLI: same pid, same session
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            preexec_fn=default_signals,  # stopped with SIGTERM
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def kill9(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()
        self._log.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill9()


@dataclass
class Cluster:
    folder: Path
    database: str
    broker: str
    students: list[str]
    tokens: dict[str, str] = field(default_factory=dict)
    url: str = ""
    procs: list[Proc] = field(default_factory=list)
    store: Store | None = None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def secret_file(self) -> Path:
        return self.data / "secret"

    def init(self) -> Cluster:
        r = cli("admin", "init", "--data", str(self.data), "--database", self.database)
        assert r.returncode == 0, r.stdout + r.stderr
        roster = self.folder / "roster.csv"
        roster.write_text("student_id\n" + "\n".join(self.students) + "\n")
        out = self.folder / "TOKENS.csv"
        r = cli(
            "admin", "students", "--data", str(self.data), "--database", self.database, str(roster), "--out", str(out)
        )
        assert r.returncode == 0, r.stdout + r.stderr
        with out.open() as f:
            self.tokens = {row["student_id"]: row["token"] for row in csv.DictReader(f)}
        self.store = Store(self.database)
        return self

    def serve(self, resend_after: float = 2.0) -> Proc:
        port = free_port()
        proc = self._start(
            f"serve-{port}",
            [
                *("serve", "--data", str(self.data), "--database", self.database, "--broker", self.broker),
                *("--port", str(port), "--resend-after", str(resend_after)),
            ],
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.p.poll() is None, proc.log()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start:\n" + proc.log()
            time.sleep(0.1)

    def worker(
        self, name: str, *, uid_base: int, lease: float = 4.0, sandbox: str = "process", cpu: int | None = None
    ) -> Proc:
        """A worker with concurrency 1 in `sandbox`; sandbox uids of its own range (same machine). With `cpu`,
        it and every process it starts (pool process, sandboxes) run on that core only (taskset)."""
        env = {**os.environ, "PA5_SANDBOX_UID_BASE": str(uid_base)}
        args = ["worker", "--database", self.database, "--broker", self.broker, "--concurrency", "1"]
        args += ["--sandbox", sandbox, "--lease-seconds", str(lease), "--secret-file", str(self.secret_file)]
        prefix = ("taskset", "--cpu-list", str(cpu)) if cpu is not None else ()
        proc = self._start(name, args, env=env, prefix=prefix)
        deadline = time.monotonic() + 60
        while "ready." not in proc.log():
            assert proc.p.poll() is None, proc.log()
            assert time.monotonic() < deadline, f"worker {name} did not start:\n" + proc.log()
            time.sleep(0.1)
        return proc

    def _start(self, name: str, args: list[str], env: dict | None = None, prefix: tuple[str, ...] = ()) -> Proc:
        proc = Proc(args, self.folder / f"{name}.log", env=env, prefix=prefix)
        self.procs.append(proc)
        return proc

    def submit(self, student: str, path: Path) -> int:
        name, data = pack(path)
        r = httpx.post(
            f"{self.url}/api/submissions",
            headers={"Authorization": f"Bearer {self.tokens[student]}"},
            files={"file": (name, data)},
            timeout=30,
        )
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def statuses(self) -> dict[int, str]:
        with self.store.session() as s:
            return dict(s.execute(select(db.Submission.id, db.Submission.status)).all())

    def wait_done(self, ids: list[int], timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            st = self.statuses()
            if all(st.get(i) in ("done", "failed") for i in ids):
                return
            logs = "\n".join(f"--- {p.log_path.name}\n{p.log()[-3000:]}" for p in self.procs)
            assert time.monotonic() < deadline, f"not finished: {st}\n{logs}"
            time.sleep(0.2)

    def jobs(self) -> list[db.Job]:
        with self.store.session() as s:
            return list(s.scalars(select(db.Job).order_by(db.Job.id)))

    def report_counts(self) -> dict[int, int]:
        with self.store.session() as s:
            q = select(db.Report.submission_id, func.count()).group_by(db.Report.submission_id)
            return dict(s.execute(q).all())

    def scores(self) -> dict[int, float]:
        with self.store.session() as s:
            return dict(s.execute(select(db.Report.submission_id, db.Report.score)).all())

    def close(self) -> None:
        for p in self.procs:
            p.stop()
        if self.store:
            self.store.engine.dispose()
