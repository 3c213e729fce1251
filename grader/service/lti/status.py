"""The instructor's view of LTI: registered platforms, links and each student's passback state; one model for the
page /lti/status and its JSON twin."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from grader.service.queue.records import iso


class PlatformState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    issuer: str
    client_id: str
    deployment_id: str
    frame_origins: list[str]
    not_before: str | None = Field(description="A 429's Retry-After: nothing is sent to it before this (UTC).")


class LinkState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    platform_id: int
    resource_link_id: str
    context_id: str | None
    title: str | None
    lineitem_url: str | None = Field(description="The one line item its scores go to; none until the first send.")
    roster_sync: bool = Field(description="Whether the launch gave a membership service (NRPS) to sync from.")
    last_error: str | None


class PassbackState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    student_id: str | None
    lms_user_id: str
    link_id: int
    status: str = Field(description="sent | pending | failed")
    score: float | None = Field(description="The score last sent.")
    max_score: float | None
    grading_progress: str | None = Field(description="Pending until hidden results are released, FullyGraded after.")
    timestamp: str | None = Field(description="The counting submission's acceptance time, as sent.")
    sent_at: str | None
    failures: int = Field(description="Failures in a row.")
    next_attempt_at: str | None
    last_code: int | None = Field(description="The platform's HTTP status on the last failure; null: no answer.")
    last_answer: str | None = Field(description="What the platform answered last.")


class LtiStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platforms: list[PlatformState]
    links: list[LinkState]
    passback: list[PassbackState]
    counts: dict[str, int]


def _iso(t: dt.datetime | None) -> str | None:
    return iso(t)


def status(lti) -> LtiStatus:
    return LtiStatus(
        platforms=[
            PlatformState(
                id=p.id,
                issuer=p.issuer,
                client_id=p.client_id,
                deployment_id=p.deployment_id,
                frame_origins=list(p.frame_origins),
                not_before=_iso(p.not_before),
            )
            for p in lti.platforms()
        ],
        links=[
            LinkState(
                id=k.id,
                platform_id=k.platform_id,
                resource_link_id=k.resource_link_id,
                context_id=k.context_id,
                title=k.title,
                lineitem_url=k.lineitem_url,
                roster_sync=k.nrps_url is not None,
                last_error=k.last_error,
            )
            for k in lti.links()
        ],
        passback=[
            PassbackState(
                student_id=r.user.student_id,
                lms_user_id=r.user.sub,
                link_id=r.link.id,
                status=r.status,
                score=r.sent_score,
                max_score=r.sent_max_score,
                grading_progress=r.sent_progress,
                timestamp=_iso(r.sent_timestamp),
                sent_at=_iso(r.sent_at),
                failures=r.failures,
                next_attempt_at=_iso(r.next_attempt_at),
                last_code=r.last_code,
                last_answer=r.last_answer,
            )
            for r in lti.passbacks.rows()
        ],
        counts=lti.passbacks.counts(),
    )
