"""The store's tokens (`store.tokens`): bearer tokens kept only as their sha256 (and their first characters, to name
them), one per student, any number for instructors; revoked in place."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from grader.service.queue.db import MAX_ID, Token, utcnow

REVOKED = "revoked-"  # a revoked token's hash becomes this and random hex: sha256 hex has no '-', so no token matches
LEGACY = "sha256:"  # a token issued before prefixes were kept is named by its hash's first characters


@dataclass(frozen=True)
class TokenRow:
    id: int
    role: str  # instructor | student
    student_id: str | None
    token_sha256: str
    prefix: str | None = None  # the token's first characters; None for tokens issued before revision 0003
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def name(self) -> str:
        """What names the token without revealing it: its prefix, or `sha256:` and its hash's first 8 hex."""
        return self.prefix or LEGACY + self.token_sha256[:8]


def _row(t: Token | None) -> TokenRow | None:
    if t is None:
        return None
    return TokenRow(t.id, t.role, t.student_id, t.token_sha256, t.prefix, t.created_at, t.revoked_at)


class Tokens:
    def __init__(self, sessions: sessionmaker, readers: sessionmaker):
        self.sessions, self.readers = sessions, readers

    def add_instructor(self, token_sha256: str, prefix: str | None = None) -> None:
        with self.sessions.begin() as s:
            s.add(Token(token_sha256=token_sha256, role="instructor", prefix=prefix))

    def set_student(self, student_id: str, token_sha256: str, prefix: str | None = None) -> None:
        """Issue or replace a student's token: the old one stops working at once; a revoked student is back."""
        with self.sessions.begin() as s:
            row = s.scalar(select(Token).where(Token.student_id == student_id))
            if row is None:
                s.add(Token(token_sha256=token_sha256, role="student", student_id=student_id, prefix=prefix))
            else:
                row.token_sha256, row.prefix, row.revoked_at = token_sha256, prefix, None
                row.created_at = utcnow()

    def all(self) -> list[TokenRow]:
        """Every token, instructors first, each role in the order issued."""
        with self.readers() as s:
            rows = s.scalars(select(Token).order_by(Token.role != "instructor", Token.id))
            return [_row(t) for t in rows]

    def by_hash(self, token_sha256: str) -> TokenRow | None:
        with self.readers() as s:
            return _row(s.scalar(select(Token).where(Token.token_sha256 == token_sha256)))

    def by_id(self, token_id: int) -> TokenRow | None:
        if not 1 <= token_id <= MAX_ID:  # a larger id would overflow the query; it names nothing
            return None
        with self.readers() as s:
            return _row(s.get(Token, token_id))

    def revoke(self, token_id: int, *, now: dt.datetime | None = None) -> TokenRow | None:
        """Make a token (and so every session signed with its hash) stop working; the row stays, still named.
        Returns the row as revoked, or None if there is no such token or it was already revoked."""
        with self.sessions.begin() as s:
            row = s.get(Token, token_id, with_for_update=True)
            if row is None or row.revoked_at is not None:
                return None
            row.prefix = row.prefix or LEGACY + row.token_sha256[:8]  # the hash is about to go: keep its name
            row.token_sha256 = REVOKED + secrets.token_hex(16)
            row.revoked_at = now or utcnow()
            s.flush()
            return _row(row)
