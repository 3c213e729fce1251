"""Roster sync with NRPS: read a course's members and add its learners as students, linked to their LMS ids, with a
passback row for every line item of that course."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pylti1p3.exception import LtiException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector

from grader.errors import GraderError
from grader.service.access.auth import set_student_token
from grader.service.lti import claims
from grader.service.lti.adapters import http_session
from grader.service.lti.matching import Person, by_identity
from grader.service.lti.passback import naive
from grader.service.lti.registry import registration
from grader.service.lti.rows import LinkRow, PlatformRow
from grader.service.ops.admin import MAX_STUDENT_ID

ACTIVE = "Active"


class RosterError(GraderError):
    """The course's membership could not be read."""


@dataclass
class SyncResult:
    courses: int = 0
    added: list[str] = field(default_factory=list)  # new students, by id
    linked: list[str] = field(default_factory=list)  # roster students now linked to their LMS id
    known: int = 0  # learners linked before
    skipped: list[str] = field(default_factory=list)  # why a member was not added, one line each


def connector(platform: PlatformRow, data_dir: Path, http: requests.Session) -> ServiceConnector:
    """PyLTI1p3's client of the platform's services, signing with the tool's key; `http` is closed by the caller."""
    return ServiceConnector(registration(platform, data_dir), http)


def members(platform: PlatformRow, data_dir: Path, nrps_url: str) -> list[dict]:
    """Every page of the course's membership; RosterError with the platform's answer when it cannot be read."""
    with http_session() as http:
        service = NamesRolesProvisioningService(
            connector(platform, data_dir, http), {"context_memberships_url": nrps_url}
        )
        try:
            return list(service.get_members())
        except (LtiException, requests.RequestException, ValueError) as e:
            raise RosterError(f"the course's membership ({nrps_url}) could not be read: {str(e)[:500]}") from None


def person(member: dict) -> Person:
    return Person(str(member.get("user_id", "")), member.get("email") or None, member.get("lis_person_sourcedid"))


def is_learner(member: dict) -> bool:
    body = {claims.LTI + "roles": member.get("roles") or []}
    return claims.role_of(body) == "student" and (member.get("status") or ACTIVE) == ACTIVE


def new_student_id(member: dict) -> str | None:
    """The id a new student gets: the SIS id, else the email, else the LMS user id; None if none is usable."""
    for value in (member.get("lis_person_sourcedid"), member.get("email"), member.get("user_id")):
        value = str(value or "").strip()
        if value and len(value) <= MAX_STUDENT_ID and value.isprintable() and "/" not in value:
            return value
    return None


def sync(*, store, data_dir: Path, now: dt.datetime, link_id: int | None = None) -> SyncResult:
    """Sync every course a launch has shown (or the one of `link_id`); learners only, active ones only."""
    lti, result, now = store.lti, SyncResult(), naive(now)
    links = [k for k in lti.links() if k.nrps_url and (link_id is None or k.id == link_id)]
    if not links:
        raise RosterError(
            "no launch has shown a course with a membership service yet: open the tool from the course in the LMS "
            "once (as its instructor), then sync"
        )
    platforms = {p.id: p for p in lti.platforms()}
    courses: dict[tuple[int, str | None], LinkRow] = {}
    for k in links:
        courses.setdefault((k.platform_id, k.context_id), k)
    for (platform_id, context_id), k in courses.items():
        platform = platforms[platform_id]
        course_links = [x for x in lti.links(platform_id=platform_id) if x.context_id == context_id]
        for m in members(platform, data_dir, k.nrps_url):
            _sync_member(store, data_dir, platform, course_links, m, now, result)
        result.courses += 1
    return result


def _sync_member(store, data_dir, platform, course_links, m: dict, now, result: SyncResult) -> None:
    lti, who = store.lti, person(m)
    if not who.sub or not is_learner(m):
        return
    user = lti.user(platform.id, who.sub)
    if user is None:
        roster = lti.roster()
        found = by_identity(lti, who, roster)
        sid, step = (found.student_id, found.step) if found else (new_student_id(m), "roster-sync")
        if sid is None:
            result.skipped.append(f"LMS user {who.sub}: no SIS id, email or user id usable as a student id")
            return
        if found is None and sid in roster:
            result.skipped.append(f"LMS user {who.sub}: {sid} is on the roster but did not match by the rule")
            return
        if found is None:
            set_student_token(store, sid)  # the token is never shown: they sign in from the LMS
        token = lti.token_of_student(sid)
        if token is None:
            result.skipped.append(f"{sid}: their token is revoked")
            return
        user = lti.link_user(
            platform_id=platform.id,
            sub=who.sub,
            role="student",
            token_id=token.id,
            student_id=sid,
            matched_by=step,
            name=m.get("name"),
            email=who.email,
            sourcedid=who.sourcedid,
            now=now,
            launched=False,
        )
        (result.linked if found else result.added).append(sid)
    elif user.role != "student":
        return
    else:
        result.known += 1
    for k in course_links:
        if claims.SCORE_SCOPE in k.ags_scopes:
            lti.passbacks.enrol(k.id, user.id, now)
