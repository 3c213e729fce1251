"""The passback state in the database (`store.lti.passbacks`): a row per student and line item, what it was sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from grader.service.lti.db import LtiLink, LtiPassback, LtiPlatform, LtiUser
from grader.service.lti.rows import PassbackRow, link_row, user_row


class PassbackStore:
    def __init__(self, sessions: sessionmaker, readers: sessionmaker):
        self.sessions, self.readers = sessions, readers

    def enrol(self, link_id: int, user_id: int, now: dt.datetime) -> None:
        """A passback row for this student and line item, if there is none."""
        with self.sessions.begin() as s:
            exists = s.scalar(
                select(LtiPassback.id).where(LtiPassback.link_id == link_id, LtiPassback.user_id == user_id)
            )
            if exists is None:
                s.add(LtiPassback(link_id=link_id, user_id=user_id, status="pending", failures=0, updated_at=now))

    def rows(self) -> list[PassbackRow]:
        with self.readers() as s:
            rows = s.execute(
                select(LtiPassback, LtiLink, LtiUser)
                .join(LtiLink, LtiLink.id == LtiPassback.link_id)
                .join(LtiUser, LtiUser.id == LtiPassback.user_id)
                .order_by(LtiUser.student_id, LtiLink.id)
            ).all()
        return [
            PassbackRow(
                p.id,
                link_row(k),
                user_row(u),
                p.status,
                p.sent_submission_id,
                p.sent_score,
                p.sent_max_score,
                p.sent_timestamp,
                p.sent_progress,
                p.sent_at,
                p.failures,
                p.next_attempt_at,
                p.last_code,
                p.last_answer,
            )
            for p, k, u in rows
        ]

    def mark_pending(self, passback_id: int, now: dt.datetime) -> None:
        """A difference to send: pending, unless a failure's retry time is already set."""
        with self.sessions.begin() as s:
            s.execute(
                update(LtiPassback)
                .where(LtiPassback.id == passback_id, LtiPassback.status == "sent")
                .values(status="pending", updated_at=now)
            )

    def settle(self, passback_id: int, now: dt.datetime) -> None:
        """What was last sent is what is wanted again: sent, nothing to retry."""
        with self.sessions.begin() as s:
            s.execute(
                update(LtiPassback)
                .where(LtiPassback.id == passback_id)
                .values(status="sent", failures=0, next_attempt_at=None, updated_at=now)
            )

    def record_sent(
        self,
        passback_id: int,
        *,
        submission_id: int,
        score: float,
        max_score: float,
        timestamp: dt.datetime,
        progress: str,
        answer: str,
        now: dt.datetime,
    ) -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(LtiPassback)
                .where(LtiPassback.id == passback_id)
                .values(
                    status="sent",
                    sent_submission_id=submission_id,
                    sent_score=score,
                    sent_max_score=max_score,
                    sent_timestamp=timestamp,
                    sent_progress=progress,
                    sent_at=now,
                    failures=0,
                    next_attempt_at=None,
                    last_code=None,
                    last_answer=answer,
                    updated_at=now,
                )
            )

    def record_failed(
        self, passback_id: int, *, code: int | None, answer: str, retry_at: dt.datetime, now: dt.datetime
    ) -> int:
        """Count a failure and set when to try again; returns the failures in a row."""
        with self.sessions.begin() as s:
            p = s.get(LtiPassback, passback_id)
            p.status, p.failures, p.next_attempt_at = "failed", p.failures + 1, retry_at
            p.last_code, p.last_answer, p.updated_at = code, answer, now
            return p.failures

    def resend_all(self, now: dt.datetime) -> int:
        """Forget what was sent, so the next sweep sends every student's score again, now."""
        with self.sessions.begin() as s:
            r = s.execute(
                update(LtiPassback).values(
                    status="pending",
                    sent_submission_id=None,
                    sent_score=None,
                    sent_max_score=None,
                    sent_timestamp=None,
                    sent_progress=None,
                    failures=0,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            s.execute(update(LtiPlatform).values(not_before=None))
            return r.rowcount

    def counts(self) -> dict[str, int]:
        with self.readers() as s:
            rows = dict(s.execute(select(LtiPassback.status, func.count()).group_by(LtiPassback.status)).all())
        return {k: rows.get(k, 0) for k in ("sent", "pending", "failed")}
