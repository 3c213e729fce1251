"""The store's tokens (`store.tokens`): bearer tokens kept only as their sha256, one per student, any number for
instructors."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from grader.service.queue.db import MAX_ID, Token


@dataclass(frozen=True)
class TokenRow:
    id: int
    role: str  # instructor | student
    student_id: str | None
    token_sha256: str


def _row(t: Token | None) -> TokenRow | None:
    return None if t is None else TokenRow(t.id, t.role, t.student_id, t.token_sha256)


class Tokens:
    def __init__(self, sessions: sessionmaker, readers: sessionmaker):
        self.sessions, self.readers = sessions, readers

    def add_instructor(self, token_sha256: str) -> None:
        with self.sessions.begin() as s:
            s.add(Token(token_sha256=token_sha256, role="instructor"))

    def set_student(self, student_id: str, token_sha256: str) -> None:
        """Issue or replace a student's token: the old one stops working at once."""
        with self.sessions.begin() as s:
            row = s.scalar(select(Token).where(Token.student_id == student_id))
            if row is None:
                s.add(Token(token_sha256=token_sha256, role="student", student_id=student_id))
            else:
                row.token_sha256 = token_sha256

    def student_hashes(self) -> dict[str, str]:
        with self.readers() as s:
            return dict(s.execute(select(Token.student_id, Token.token_sha256).where(Token.role == "student")).all())

    def by_hash(self, token_sha256: str) -> TokenRow | None:
        with self.readers() as s:
            return _row(s.scalar(select(Token).where(Token.token_sha256 == token_sha256)))

    def by_id(self, token_id: int) -> TokenRow | None:
        if not 1 <= token_id <= MAX_ID:  # a larger id would overflow the query; it names nothing
            return None
        with self.readers() as s:
            return _row(s.get(Token, token_id))
