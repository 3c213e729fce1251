"""Setting up a service's data folder and its tokens: `admin init`, `admin students` and `admin tokens`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from grader.errors import GraderError
from grader.service import migrations
from grader.service.access.auth import add_instructor_token, hash_token, set_student_token
from grader.service.defaults import MAX_ATTEMPTS, QUEUE_CAP
from grader.service.ops.secret import Action, service_secret, write_private
from grader.service.ops.secret import record as record_secret
from grader.service.ops.settings import DB_FILE, database_url_of
from grader.service.queue.records import StoreUnavailable
from grader.service.queue.store import Store
from grader.service.queue.tokens import LEGACY, TokenRow

MAX_STUDENT_ID = 128


@dataclass(frozen=True)
class StudentsResult:
    issued: int
    kept: int
    out: Path
    revived: tuple[str, ...] = ()  # students whose revoked token was replaced by a new one


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
        require_data_folder(data_dir, database_url)
    store = Store(url, max_attempts=max_attempts, queue_cap=queue_cap)
    if create:
        store.upgrade_schema()
    elif current:
        store.require_schema(fix=f"run `{upgrade_command(data_dir, database_url)}` first")
    store.ping()
    return store


def require_data_folder(data_dir: Path, database_url: str | None) -> None:
    """A folder `admin init` made (with its SQLite database unless the database is elsewhere), or an error saying
    what to run."""
    if not data_dir.is_dir():
        raise GraderError(f"data folder {data_dir} does not exist: run `pa5-grader admin init --data {data_dir}`")
    if database_url is None and not (data_dir / DB_FILE).is_file():
        raise GraderError(f"{data_dir} holds no {DB_FILE}: run `pa5-grader admin init --data {data_dir}` first")


def admin_command(verb: str, data_dir: Path | None, database_url: str | None, *extra: str) -> str:
    """The command line of `pa5-grader admin VERB` for this service, for messages (the password hidden)."""
    from sqlalchemy.engine import make_url

    where = [f"--data {data_dir}"] if data_dir is not None else []
    if database_url:
        where.append(f"--database {make_url(database_url).render_as_string(hide_password=True)}")
    return " ".join([f"pa5-grader admin {verb}", *where, *extra])


def upgrade_command(data_dir: Path | None, database_url: str | None) -> str:
    """The command line that upgrades this service's database, for messages."""
    return admin_command("upgrade", data_dir, database_url)


def upgrade(*, data_dir: Path, database_url: str | None = None) -> tuple[str | None, str]:
    """Upgrade a service's database to this code's schema, keeping every row; returns (from, to)."""
    store = open_store(data_dir, database_url, current=False)
    try:
        return store.upgrade_schema()
    finally:
        store.engine.dispose()


@dataclass(frozen=True)
class InitResult:
    existed: bool  # the database already held a service: nothing in it changed unless a token was asked for
    revision: str | None  # the schema revision it was found at (None: it was made here)
    token: str | None  # a new instructor token, to show once
    secret: Path | None  # DATA/secret; None when an existing service's folder records no secret
    secret_action: Action  # recorded: copied from --secret-file


def init(
    *,
    data_dir: Path,
    secret_file: Path | None = None,
    database_url: str | None = None,
    add_instructor: bool = False,
) -> InitResult:
    """Make the folder, the database, DATA/secret (the given secret, else a new one) and an instructor token.

    A database that already holds a service is left as it is: no new token unless `add_instructor`, and no new
    secret (a missing one is recorded only from --secret-file; a different recorded one is refused)."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (data_dir / "tmp").mkdir(exist_ok=True, mode=0o700)
    except OSError as e:
        raise GraderError(f"cannot make the data folder {data_dir}: {e.strerror}") from None
    store = Store(database_url_of(data_dir, database_url))
    try:
        revision = _revision(store)
        existed = revision is not None
        if existed and add_instructor:  # before anything changes
            store.require_schema(fix=f"run `{upgrade_command(data_dir, database_url)}` first")
        secret, action = record_secret(data_dir=data_dir, secret_file=secret_file, make_new=not existed)
        if not existed:
            store.upgrade_schema()
        token = add_instructor_token(store) if add_instructor or not existed else None
        return InitResult(existed, revision, token, secret, action)
    finally:
        store.engine.dispose()


def _revision(store: Store) -> str | None:
    """The schema revision of the store's database; None when it holds no service's tables."""
    try:
        return migrations.current(store.engine)
    except SQLAlchemyError as e:
        url = store.engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(f"database {url} is not usable: {e.__class__.__name__}: {e.args[0]}") from None


def worker_inputs(
    *, data_dir: Path | None, database_url: str | None, secret_file: Path | None, insecure_default: bool
) -> tuple[str, bytes]:
    """The database URL and the grading secret of a worker: --data DIR gives both (its database unless
    --database, and DIR/secret), as it does for serve."""
    if data_dir is not None:
        require_data_folder(data_dir, database_url)
        database_url = database_url_of(data_dir, database_url)
    if not database_url:
        raise GraderError("worker needs --data DIR (the service's data folder) or --database URL")
    return database_url, service_secret(data_dir=data_dir, secret_file=secret_file, insecure_default=insecure_default)


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
    """Write OUT (student_id,token) for the roster; tokens already in OUT and still valid are kept unless rotate.
    A student whose token was revoked gets a new one (and is back)."""
    ids = read_roster(roster)
    rows = {t.student_id: t for t in store.tokens.all() if t.role == "student"}
    known = {sid: t.token_sha256 for sid, t in rows.items() if t.revoked_at is None}
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
    written, issued, kept = [], 0, 0
    for sid in ids:
        if sid in known and not rotate:
            written.append((sid, previous[sid]))
            kept += 1
        else:
            written.append((sid, set_student_token(store, sid)))
            issued += 1
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "token"])
    w.writerows(written)
    write_private(out, buf.getvalue())
    revived = tuple(sid for sid in ids if sid in rows and rows[sid].revoked_at is not None)
    return StudentsResult(issued=issued, kept=kept, out=out, revived=revived)


class TokenNotFound(GraderError):
    """A token to revoke names no token, or more than one."""


MIN_PREFIX = 4  # characters of a prefix `admin tokens --revoke-instructor` needs


@dataclass(frozen=True)
class Revoked:
    token: TokenRow  # as it is now
    already: bool  # it had been revoked before: nothing changed
    working_instructors: int  # instructor tokens that still work


def list_tokens(*, store: Store) -> list[TokenRow]:
    """Every token, named (prefix, or `sha256:` and its hash's first 8 hex), instructors first."""
    return store.tokens.all()


def revoke_student(*, store: Store, student_id: str, now: dt.datetime | None = None) -> Revoked:
    """Revoke a student's token: it and its browser sessions stop working; the student stays on the roster."""
    rows = store.tokens.all()
    row = next((t for t in rows if t.role == "student" and t.student_id == student_id), None)
    if row is None:
        raise TokenNotFound(f"no student {student_id!r} on the roster: `admin tokens --list` shows who is")
    return _revoke(store, row, now)


def revoke_instructor(*, store: Store, prefix: str, now: dt.datetime | None = None) -> Revoked:
    """Revoke the one instructor token named by `prefix` (its first characters, or `sha256:` and its hash's)."""
    prefix = prefix.strip()
    if len(prefix.removeprefix(LEGACY)) < MIN_PREFIX:
        raise TokenNotFound(
            f"give at least {MIN_PREFIX} characters of the instructor token's prefix (`admin tokens --list` shows them)"
        )
    instructors = [t for t in store.tokens.all() if t.role == "instructor"]
    found = [t for t in instructors if t.name.startswith(prefix)]
    if not found:
        names = ", ".join(t.name for t in instructors) or "none"
        raise TokenNotFound(f"no instructor token starts with {prefix!r} (the instructor tokens: {names})")
    if len(found) > 1:
        raise TokenNotFound(
            f"{prefix!r} names {len(found)} instructor tokens: {', '.join(_described(t) for t in found)}; "
            "give more characters"
        )
    return _revoke(store, found[0], now)


def _revoke(store: Store, row: TokenRow, now: dt.datetime | None) -> Revoked:
    done = store.tokens.revoke(row.id, now=now)
    after = store.tokens.all()
    working = sum(1 for t in after if t.role == "instructor" and t.revoked_at is None)
    current = done or next(t for t in after if t.id == row.id)
    return Revoked(token=current, already=done is None, working_instructors=working)


def when(t: dt.datetime | None) -> str:
    """A stored (naive UTC) time, for people."""
    return "-" if t is None else t.strftime("%Y-%m-%d %H:%M:%S UTC")


def _described(t: TokenRow) -> str:
    state = f"revoked {when(t.revoked_at)}" if t.revoked_at else "working"
    return f"{t.name} (created {when(t.created_at)}, {state})"


def tokens_table(rows: list[TokenRow]) -> str:
    """`admin tokens --list`: one line per token, in aligned columns."""
    table = [("role", "student", "token", "created", "revoked")]
    table += [(t.role, t.student_id or "-", t.name, when(t.created_at), when(t.revoked_at)) for t in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in table)
