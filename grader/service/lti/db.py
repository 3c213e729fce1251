"""The LTI tables (revision 0004), on the service's Base: platforms, LTI users, roster contacts, resource links with
their line items, passback state per student and link, and PyLTI1p3's short-lived login state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grader.service.queue.db import Base, utcnow

URL = 1024  # longest URL a platform may register or send


class LtiPlatform(Base):
    """One registration of the tool in an LMS: an issuer, its client id and one deployment."""

    __tablename__ = "lti_platforms"
    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(URL))
    auth_token_url: Mapped[str] = mapped_column(String(URL))
    keyset_url: Mapped[str] = mapped_column(String(URL))
    auth_audience: Mapped[str | None] = mapped_column(String(URL))  # the token endpoint's, when not its URL
    frame_origins: Mapped[str] = mapped_column(Text, default="")  # space-separated origins that frame the tool
    not_before: Mapped[dt.datetime | None] = mapped_column(DateTime())  # a 429's Retry-After: send nothing before
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("issuer", "client_id", "deployment_id", name="uq_lti_platforms"),)


class LtiUser(Base):
    """An LMS user (the id_token's `sub`) matched to a token row: a roster student, or an instructor."""

    __tablename__ = "lti_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    sub: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # student | instructor
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    student_id: Mapped[str | None] = mapped_column(String(128))
    matched_by: Mapped[str] = mapped_column(String(32))  # which step of the matching rule linked them
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    sourcedid: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    last_launch_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (UniqueConstraint("platform_id", "sub", name="uq_lti_users_platform_sub"),)


class LtiContact(Base):
    """A roster student's email and SIS id (`lis_person_sourcedid`), for matching a launch to them."""

    __tablename__ = "lti_contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(320))  # lower case
    sourcedid: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("student_id", name="uq_lti_contacts_student"),
        Index("ix_lti_contacts_email", "email"),
        Index("ix_lti_contacts_sourcedid", "sourcedid"),
    )


class LtiLink(Base):
    """A resource link (the tool placed in a course) and the one line item its scores go to."""

    __tablename__ = "lti_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id"))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    ags_scopes: Mapped[str] = mapped_column(Text, default="")  # space-separated, as the launch granted them
    lineitems_url: Mapped[str | None] = mapped_column(String(URL))
    # The line item scores are posted to: the platform's own (from the launch), or the one the tool made, once.
    lineitem_url: Mapped[str | None] = mapped_column(String(URL))
    lineitem_claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime())  # who is making it, till when
    nrps_url: Mapped[str | None] = mapped_column(String(URL))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)
    last_launch_at: Mapped[dt.datetime | None] = mapped_column(DateTime())

    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id", name="uq_lti_links_platform_link"),)


class LtiPassback(Base):
    """What was last sent for one student to one line item, and whether and when to send again."""

    __tablename__ = "lti_passback"
    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_links.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("lti_users.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    sent_submission_id: Mapped[int | None] = mapped_column(Integer)
    sent_score: Mapped[float | None] = mapped_column(Float)
    sent_max_score: Mapped[float | None] = mapped_column(Float)
    sent_timestamp: Mapped[dt.datetime | None] = mapped_column(DateTime())
    sent_progress: Mapped[str | None] = mapped_column(String(16))  # gradingProgress
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, for the backoff
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime())
    last_code: Mapped[int | None] = mapped_column(Integer)  # the platform's HTTP status; null: no answer
    last_answer: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("link_id", "user_id", name="uq_lti_passback_link_user"),)


class LtiLaunchState(Base):
    """PyLTI1p3's launch data storage: login nonces (used once), state parameters, launch data; short-lived."""

    __tablename__ = "lti_launch_state"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime())

    __table_args__ = (Index("ix_lti_launch_state_expires", "expires_at"),)
