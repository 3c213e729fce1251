"""Real Redis and PostgreSQL servers for the scale tests, each in a temporary folder on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Debian's layout: /usr/lib/postgresql/<major>/bin; the newest installed, unless PA5_PG_BIN says otherwise.
_installed = sorted(
    Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0
)
PG_BIN = Path(os.environ.get("PA5_PG_BIN") or (_installed[-1].parent if _installed else "/usr/lib/postgresql/15/bin"))
PG_PASSWORD = "s3cret-pg-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str:
    """Why the real servers cannot run here, or '' when they can."""
    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
        import redis  # noqa: F401
    except ImportError as e:
        return f"the scale extra is not installed ({e}): pip install -e '.[scale]'"
    if not shutil.which("redis-server"):
        return "redis-server is not installed (apt-get install redis-server)"
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL is not installed in {PG_BIN} (apt-get install postgresql, or set PA5_PG_BIN)"
    return ""


def _wait(ok, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start:\n{log.read_text() if log.exists() else ''}")
        time.sleep(0.05)


class Redis:
    """redis-server without persistence: a restart loses every message, as a crashed broker would."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        log = self.folder / "redis.log"
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.folder), "--logfile", str(log), "--protected-mode", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.ping, "redis-server", log)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as a crash would: no chance to save anything
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


class Postgres:
    """A PostgreSQL cluster made by initdb in a temporary folder, password auth over TCP on 127.0.0.1."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.data, self.sockets, self.log = folder / "data", folder / "sockets", folder / "postgres.log"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def start(self) -> Postgres:
        self.sockets.mkdir(parents=True)
        pwfile = self.folder / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
            shutil.chown(self.folder, "postgres")
            for p in (self.sockets, pwfile):
                shutil.chown(p, "postgres")
        self._run(
            [
                *(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile)),
                *("--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"),
            ]
        )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off -c max_connections=200"
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"])
        return self

    def create_database(self, name: str) -> str:
        self._run([str(PG_BIN / "createdb"), "-h", str(self.sockets), "-p", str(self.port), "-U", "postgres", name])
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"], check=False)

    def _run(self, cmd: list[str], check: bool = True) -> None:
        r = subprocess.run([*self.as_postgres, *cmd], capture_output=True, text=True, timeout=120, cwd="/")
        if check and r.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{log}")


def server_folder(name: str) -> Path:
    """A folder the postgres user can reach: under the system temp root, not pytest's 0700 tmp_path."""
    folder = Path(tempfile.mkdtemp(prefix=f"pa5-{name}-"))
    folder.chmod(0o755)
    return folder
