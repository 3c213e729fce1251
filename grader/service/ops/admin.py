"""Setting up a service's data folder and issuing tokens: `admin init` and `admin students`."""

from __future__ import annotations

import csv
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from grader.config import read_secret
from grader.errors import GraderError
from grader.service.access.auth import add_instructor_token, hash_token, set_student_token, student_token_hashes
from grader.service.defaults import MAX_ATTEMPTS, QUEUE_CAP
from grader.service.ops.settings import DB_FILE, SECRET_FILE, database_url_of
from grader.service.queue.store import Store

MAX_STUDENT_ID = 128


@dataclass(frozen=True)
class StudentsResult:
    issued: int
    kept: int
    out: Path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def open_store(
    data_dir: Path,
    database_url: str | None,
    *,
    create: bool = False,
    current: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
    queue_cap: int = QUEUE_CAP,
) -> Store:
    """The store of a data folder; without create, a folder `admin init` never made is an error, and with
    `current`, so is a database whose schema is behind this code's (the message names `admin upgrade`)."""
    url = database_url_of(data_dir, database_url)
    if not create:
        if not data_dir.is_dir():
            raise GraderError(f"data folder {data_dir} does not exist: run `pa5-grader admin init --data {data_dir}`")
        if database_url is None and not (data_dir / DB_FILE).is_file():
            raise GraderError(f"{data_dir} holds no {DB_FILE}: run `pa5-grader admin init --data {data_dir}` first")
    store = Store(url, max_attempts=max_attempts, queue_cap=queue_cap)
    if create:
        store.upgrade_schema()
    elif current:
        store.require_schema(fix=f"run `{upgrade_command(data_dir, database_url)}` first")
    store.ping()
    return store


def upgrade_command(data_dir: Path | None, database_url: str | None) -> str:
    """The command line that upgrades this service's database, for messages."""
    from sqlalchemy.engine import make_url

    where = [f"--data {data_dir}"] if data_dir is not None else []
    if database_url:
        where.append(f"--database {make_url(database_url).render_as_string(hide_password=True)}")
    return " ".join(["pa5-grader admin upgrade", *where])


def upgrade(*, data_dir: Path, database_url: str | None = None) -> tuple[str | None, str]:
    """Upgrade a service's database to this code's schema, keeping every row; returns (from, to)."""
    store = open_store(data_dir, database_url, current=False)
    try:
        return store.upgrade_schema()
    finally:
        store.engine.dispose()


def init(*, data_dir: Path, secret_file: Path | None = None, database_url: str | None = None) -> tuple[str, Path]:
    """Make the folder, the database and the secret (unless given); returns a new instructor token and the secret."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (data_dir / "tmp").mkdir(exist_ok=True, mode=0o700)
    except OSError as e:
        raise GraderError(f"cannot make the data folder {data_dir}: {e.strerror}") from None
    if secret_file is not None:
        read_secret(secret_file=secret_file, insecure_default=False)  # readable and not empty, or stop here
        secret_path = secret_file
    else:
        secret_path = data_dir / SECRET_FILE
        if not secret_path.exists():  # never replace a secret: it fixes every student's hidden cases
            write_private(secret_path, secrets.token_hex(32) + "\n")
    store = open_store(data_dir, database_url, create=True)
    try:
        return add_instructor_token(store), secret_path
    finally:
        store.engine.dispose()


def read_roster(path: Path) -> list[str]:
    """Student ids from a CSV with a student_id column, in order, without duplicates."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise GraderError(f"cannot read the roster {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if "student_id" not in (reader.fieldnames or []):
        raise GraderError(
            f"the roster {path} has no student_id column (its header: {', '.join(reader.fieldnames or [])})"
        )
    ids: list[str] = []
    for n, row in enumerate(reader, 2):
        sid = (row.get("student_id") or "").strip()
        if not sid:
            continue
        if len(sid) > MAX_STUDENT_ID or not sid.isprintable() or "/" in sid:
            raise GraderError(f"{path} line {n}: {sid!r} is not a usable student id")
        if sid not in ids:
            ids.append(sid)
    if not ids:
        raise GraderError(f"the roster {path} lists no student")
    return ids


def students(*, store: Store, roster: Path, out: Path, rotate: bool = False) -> StudentsResult:
    """Write OUT (student_id,token) for the roster; tokens already in OUT and still valid are kept unless rotate."""
    ids = read_roster(roster)
    known = student_token_hashes(store)
    previous: dict[str, str] = {}
    if out.is_file() and not rotate:
        with out.open(encoding="utf-8") as f:
            previous = {
                r["student_id"]: r["token"] for r in csv.DictReader(f) if r.get("student_id") and r.get("token")
            }
    lost = [s for s in ids if s in known and not rotate and hash_token(previous.get(s, "")) != known[s]]
    if lost:
        raise GraderError(
            f"{len(lost)} student(s) already have tokens that {out} does not hold (e.g. {', '.join(lost[:3])}); "
            "tokens are stored hashed, so pass the TOKENS.csv written before, or --rotate to issue new ones"
        )
    rows, issued, kept = [], 0, 0
    for sid in ids:
        if sid in known and not rotate:
            rows.append((sid, previous[sid]))
            kept += 1
        else:
            rows.append((sid, set_student_token(store, sid)))
            issued += 1
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "token"])
    w.writerows(rows)
    write_private(out, buf.getvalue())
    return StudentsResult(issued=issued, kept=kept, out=out)
