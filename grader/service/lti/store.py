"""The LTI state in the database (`store.lti`); it and `passback_store.py` are the only code querying the LTI tables."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from grader.service.lti.db import LtiContact, LtiLaunchState, LtiLink, LtiPassback, LtiPlatform, LtiUser
from grader.service.lti.passback_store import PassbackStore
from grader.service.lti.rows import (
    LinkRow,
    PlatformRow,
    TokenRef,
    UserRow,
    link_row,
    platform_row,
    user_row,
)
from grader.service.queue.db import MAX_ID, Token


class LtiStore:
    def __init__(self, sessions: sessionmaker, readers: sessionmaker):
        self.sessions, self.readers = sessions, readers
        self.passbacks = PassbackStore(sessions, readers)

    # -- platforms --------------------------------------------------------------------------------------------

    def add_platform(self, **fields) -> PlatformRow | None:
        """A new registration; None if this issuer, client id and deployment are registered already."""
        fields["frame_origins"] = " ".join(fields.get("frame_origins") or ())
        try:
            with self.sessions.begin() as s:
                p = LtiPlatform(**fields)
                s.add(p)
                s.flush()
                return platform_row(p)
        except IntegrityError:
            return None

    def platforms(self) -> list[PlatformRow]:
        with self.readers() as s:
            return [platform_row(p) for p in s.scalars(select(LtiPlatform).order_by(LtiPlatform.id))]

    def platform(self, platform_id: int) -> PlatformRow | None:
        if not 1 <= platform_id <= MAX_ID:
            return None
        with self.readers() as s:
            p = s.get(LtiPlatform, platform_id)
            return None if p is None else platform_row(p)

    def find_platforms(self, issuer: str, client_id: str | None = None) -> list[PlatformRow]:
        q = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
        if client_id is not None:
            q = q.where(LtiPlatform.client_id == client_id)
        with self.readers() as s:
            return [platform_row(p) for p in s.scalars(q.order_by(LtiPlatform.id))]

    def remove_platform(self, platform_id: int) -> bool:
        """The registration and everything learnt through it (users, links, passback state); tokens stay."""
        with self.sessions.begin() as s:
            if s.get(LtiPlatform, platform_id) is None:
                return False
            links = select(LtiLink.id).where(LtiLink.platform_id == platform_id)
            s.execute(delete(LtiPassback).where(LtiPassback.link_id.in_(links)))
            users = select(LtiUser.id).where(LtiUser.platform_id == platform_id)
            s.execute(delete(LtiPassback).where(LtiPassback.user_id.in_(users)))
            s.execute(delete(LtiLink).where(LtiLink.platform_id == platform_id))
            s.execute(delete(LtiUser).where(LtiUser.platform_id == platform_id))
            s.execute(delete(LtiPlatform).where(LtiPlatform.id == platform_id))
        return True

    def hold_platform(self, platform_id: int, until: dt.datetime) -> None:
        """Send nothing to this platform before `until` (it answered 429 with Retry-After)."""
        with self.sessions.begin() as s:
            s.execute(update(LtiPlatform).where(LtiPlatform.id == platform_id).values(not_before=until))

    def frame_origins(self) -> set[str]:
        return {o for p in self.platforms() for o in p.frame_origins}

    # -- PyLTI1p3's launch data storage -----------------------------------------------------------------------

    def state_set(self, key: str, value, expires_at: dt.datetime) -> None:
        with self.sessions.begin() as s:
            row = s.get(LtiLaunchState, key)
            if row is None:
                s.add(LtiLaunchState(key=key, value=json.dumps(value), expires_at=expires_at))
            else:
                row.value, row.expires_at = json.dumps(value), expires_at

    def state_get(self, key: str, now: dt.datetime):
        with self.readers() as s:
            row = s.get(LtiLaunchState, key)
            return None if row is None or row.expires_at <= now else json.loads(row.value)

    def state_take(self, key: str, now: dt.datetime) -> bool:
        """Whether the key was there, unexpired; it is gone afterwards, so only one caller ever gets True."""
        with self.sessions.begin() as s:
            gone = s.execute(delete(LtiLaunchState).where(LtiLaunchState.key == key, LtiLaunchState.expires_at > now))
            return gone.rowcount == 1

    def state_sweep(self, now: dt.datetime) -> int:
        with self.sessions.begin() as s:
            return s.execute(delete(LtiLaunchState).where(LtiLaunchState.expires_at <= now)).rowcount

    # -- token rows (the `tokens` table belongs to the queue's store; these read it or add one row) -------------

    def token_of_student(self, student_id: str) -> TokenRef | None:
        """The student's token row, unless revoked."""
        with self.readers() as s:
            t = s.scalar(
                select(Token).where(Token.student_id == student_id, Token.role == "student", Token.revoked_at.is_(None))
            )
            return None if t is None else TokenRef(t.id, t.role, t.student_id, t.token_sha256)

    def token(self, token_id: int) -> TokenRef | None:
        with self.readers() as s:
            t = s.get(Token, token_id)
            return (
                None if t is None or t.revoked_at is not None else TokenRef(t.id, t.role, t.student_id, t.token_sha256)
            )

    def add_instructor_token(self, token_sha256: str) -> int:
        with self.sessions.begin() as s:
            t = Token(token_sha256=token_sha256, role="instructor")
            s.add(t)
            s.flush()
            return t.id

    def roster(self) -> set[str]:
        with self.readers() as s:
            return set(s.scalars(select(Token.student_id).where(Token.role == "student")))

    # -- users and contacts -----------------------------------------------------------------------------------

    def user(self, platform_id: int, sub: str) -> UserRow | None:
        with self.readers() as s:
            u = s.scalar(select(LtiUser).where(LtiUser.platform_id == platform_id, LtiUser.sub == sub))
            return None if u is None else user_row(u)

    def link_user(
        self,
        *,
        platform_id: int,
        sub: str,
        role: str,
        token_id: int,
        student_id: str | None,
        matched_by: str,
        name: str | None,
        email: str | None,
        sourcedid: str | None,
        now: dt.datetime,
        launched: bool,
    ) -> UserRow:
        """Link an LMS user to a token row, or refresh what is known of them (the first link's match stays)."""
        with self.sessions.begin() as s:
            u = s.scalar(select(LtiUser).where(LtiUser.platform_id == platform_id, LtiUser.sub == sub))
            if u is None:
                u = LtiUser(
                    platform_id=platform_id,
                    sub=sub,
                    role=role,
                    token_id=token_id,
                    student_id=student_id,
                    matched_by=matched_by,
                    created_at=now,
                )
                s.add(u)
            u.name, u.email, u.sourcedid = name or u.name, email or u.email, sourcedid or u.sourcedid
            if launched:
                u.last_launch_at = now
            s.flush()
            return user_row(u)

    def users(self) -> list[UserRow]:
        with self.readers() as s:
            return [user_row(u) for u in s.scalars(select(LtiUser).order_by(LtiUser.id))]

    def set_contacts(self, contacts: list[tuple[str, str | None, str | None]]) -> int:
        """(student_id, email, sourcedid) rows, replacing what each student had; returns how many were written."""
        with self.sessions.begin() as s:
            for student_id, email, sourcedid in contacts:
                c = s.scalar(select(LtiContact).where(LtiContact.student_id == student_id))
                if c is None:
                    c = LtiContact(student_id=student_id)
                    s.add(c)
                c.email, c.sourcedid = email.lower() if email else None, sourcedid
        return len(contacts)

    def students_by_contact(self, *, email: str | None, sourcedid: str | None) -> dict[str, set[str]]:
        """{"sourcedid": students with that SIS id, "email": students with that email}; empty sets for None."""
        out: dict[str, set[str]] = {"sourcedid": set(), "email": set()}
        with self.readers() as s:
            if sourcedid:
                out["sourcedid"] = set(
                    s.scalars(select(LtiContact.student_id).where(LtiContact.sourcedid == sourcedid))
                )
            if email:
                q = select(LtiContact.student_id).where(LtiContact.email == email.lower())
                out["email"] = set(s.scalars(q))
        return out

    # -- resource links and line items ------------------------------------------------------------------------

    def upsert_link(
        self,
        *,
        platform_id: int,
        resource_link_id: str,
        context_id: str | None,
        title: str | None,
        ags_scopes: list[str],
        lineitems_url: str | None,
        lineitem_url: str | None,
        nrps_url: str | None,
        now: dt.datetime,
    ) -> LinkRow:
        """Record a link as its latest launch describes it. A line item the tool made is kept: a launch that names
        none never clears it, so repeated launches never lead to a second one."""
        with self.sessions.begin() as s:
            k = s.scalar(
                select(LtiLink).where(LtiLink.platform_id == platform_id, LtiLink.resource_link_id == resource_link_id)
            )
            if k is None:
                k = LtiLink(platform_id=platform_id, resource_link_id=resource_link_id, created_at=now)
                s.add(k)
            k.context_id, k.title = context_id or k.context_id, title or k.title
            k.ags_scopes = " ".join(ags_scopes)
            k.lineitems_url = lineitems_url or k.lineitems_url
            k.lineitem_url = lineitem_url or k.lineitem_url
            k.nrps_url = nrps_url or k.nrps_url
            k.last_launch_at = now
            s.flush()
            return link_row(k)

    def links(self, *, platform_id: int | None = None) -> list[LinkRow]:
        q = select(LtiLink).order_by(LtiLink.id)
        if platform_id is not None:
            q = q.where(LtiLink.platform_id == platform_id)
        with self.readers() as s:
            return [link_row(k) for k in s.scalars(q)]

    def link(self, link_id: int) -> LinkRow | None:
        with self.readers() as s:
            k = s.get(LtiLink, link_id)
            return None if k is None else link_row(k)

    def claim_lineitem(self, link_id: int, now: dt.datetime, until: dt.datetime) -> bool:
        """Take the right to make this link's line item (none yet, nobody else making it); a conditional UPDATE."""
        with self.sessions.begin() as s:
            r = s.execute(
                update(LtiLink)
                .where(
                    LtiLink.id == link_id,
                    LtiLink.lineitem_url.is_(None),
                    or_(LtiLink.lineitem_claimed_until.is_(None), LtiLink.lineitem_claimed_until <= now),
                )
                .values(lineitem_claimed_until=until)
            )
            return r.rowcount == 1

    def set_lineitem(self, link_id: int, url: str | None, *, error: str | None = None) -> None:
        with self.sessions.begin() as s:
            values = {"lineitem_claimed_until": None, "last_error": error}
            if url:
                values["lineitem_url"] = url
            s.execute(update(LtiLink).where(LtiLink.id == link_id).values(**values))
