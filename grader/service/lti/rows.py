"""The LTI records the store hands out (`store.lti`), built from their database rows; no queries here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from grader.service.lti.db import LtiLink, LtiPlatform, LtiUser


@dataclass(frozen=True)
class PlatformRow:
    id: int
    issuer: str
    client_id: str
    deployment_id: str
    auth_login_url: str
    auth_token_url: str
    keyset_url: str
    auth_audience: str | None
    frame_origins: tuple[str, ...]
    not_before: dt.datetime | None


@dataclass(frozen=True)
class UserRow:
    id: int
    platform_id: int
    sub: str
    role: str
    token_id: int
    student_id: str | None
    matched_by: str
    email: str | None
    sourcedid: str | None


@dataclass(frozen=True)
class LinkRow:
    id: int
    platform_id: int
    resource_link_id: str
    context_id: str | None
    title: str | None
    ags_scopes: tuple[str, ...]
    lineitems_url: str | None
    lineitem_url: str | None
    nrps_url: str | None
    last_error: str | None


@dataclass(frozen=True)
class PassbackRow:
    """One student's passback to one line item, with what it needs to send."""

    id: int
    link: LinkRow
    user: UserRow
    status: str
    sent_submission_id: int | None
    sent_score: float | None
    sent_max_score: float | None
    sent_timestamp: dt.datetime | None
    sent_progress: str | None
    sent_at: dt.datetime | None
    failures: int
    next_attempt_at: dt.datetime | None
    last_code: int | None
    last_answer: str | None


@dataclass(frozen=True)
class TokenRef:
    id: int
    role: str
    student_id: str | None
    token_sha256: str


def platform_row(p: LtiPlatform) -> PlatformRow:
    return PlatformRow(
        p.id,
        p.issuer,
        p.client_id,
        p.deployment_id,
        p.auth_login_url,
        p.auth_token_url,
        p.keyset_url,
        p.auth_audience,
        tuple(p.frame_origins.split()),
        p.not_before,
    )


def user_row(u: LtiUser) -> UserRow:
    return UserRow(u.id, u.platform_id, u.sub, u.role, u.token_id, u.student_id, u.matched_by, u.email, u.sourcedid)


def link_row(k: LtiLink) -> LinkRow:
    return LinkRow(
        k.id,
        k.platform_id,
        k.resource_link_id,
        k.context_id,
        k.title,
        tuple(k.ags_scopes.split()),
        k.lineitems_url,
        k.lineitem_url,
        k.nrps_url,
        k.last_error,
    )
