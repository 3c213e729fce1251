"""`admin lti` as logic functions: keys, roster contacts, roster sync and resending every score, over a store."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.service.lti import keys, roster
from grader.service.lti.passback import naive
from grader.service.lti.sweeper import SweepResult, sweep_once, utc_now
from grader.spec import Spec

SOURCEDID_COLUMNS = ("lis_person_sourcedid", "sourcedid", "sis_id")


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    file: Path
    signing: bool


def key_list(*, data_dir: Path) -> list[KeyInfo]:
    ks = keys.all_keys(data_dir)
    return [KeyInfo(k.kid, k.path, n == len(ks) - 1) for n, k in enumerate(ks)]


def rotate_key(*, data_dir: Path, retire: bool = False, now: dt.datetime | None = None) -> tuple[KeyInfo, int]:
    """A new signing key (old ones stay in the JWKS), or with retire only removing all but the newest; returns the
    signing key and how many keys were retired."""
    if retire:
        gone = keys.retire(data_dir)
        return key_list(data_dir=data_dir)[-1], len(gone)
    k = keys.rotate(data_dir, now=now or utc_now())
    return KeyInfo(k.kid, k.path, True), 0


def read_contacts(path: Path, roster_ids: set[str]) -> list[tuple[str, str | None, str | None]]:
    """(student_id, email, sourcedid) from a CSV with a student_id column and an email and/or SIS id column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise GraderError(f"cannot read {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    sourcedid = next((c for c in SOURCEDID_COLUMNS if c in fields), None)
    if "student_id" not in fields or ("email" not in fields and sourcedid is None):
        raise GraderError(
            f"{path} needs a student_id column and an email or {'/'.join(SOURCEDID_COLUMNS)} column "
            f"(its header: {', '.join(fields)})"
        )
    rows, unknown = [], []
    for row in reader:
        sid = (row.get("student_id") or "").strip()
        if not sid:
            continue
        if sid not in roster_ids:
            unknown.append(sid)
            continue
        email = (row.get("email") or "").strip() or None
        rows.append((sid, email, ((row.get(sourcedid) or "").strip() or None) if sourcedid else None))
    if unknown:
        raise GraderError(
            f"{len(unknown)} student(s) of {path} are not on the roster (e.g. {', '.join(unknown[:3])}): "
            "add them with `pa5-grader admin students` first"
        )
    return rows


def contacts(*, store, path: Path) -> int:
    return store.lti.set_contacts(read_contacts(path, store.lti.roster()))


def sync_roster(*, store, data_dir: Path, link_id: int | None = None) -> roster.SyncResult:
    return roster.sync(store=store, data_dir=data_dir, now=utc_now(), link_id=link_id)


def push(*, store, data_dir: Path, spec: Spec, now: dt.datetime | None = None) -> tuple[int, SweepResult]:
    """Forget what was sent and send every score again now; returns (rows reset, what the pass did)."""
    now = now or utc_now()
    n = store.lti.passbacks.resend_all(naive(now))
    return n, sweep_once(store=store, data_dir=data_dir, now=now, spec=spec)
