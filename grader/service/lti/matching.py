"""The matching rule: which roster student an LMS learner is. Each step either names exactly one student or passes
to the next; two candidates are never guessed between.

1. `sub`: the platform's user id, linked before (by an earlier launch or a roster sync).
2. `lis_person_sourcedid`, then the email, equal to a roster student id.
3. `lis_person_sourcedid` equal to a roster contact's sourcedid (`admin lti contacts`).
4. the email equal to a roster contact's email (case-insensitive).
5. NRPS: the course's membership entry for this `sub` (which may carry the SIS id or email a launch leaves out),
   through steps 2 to 4 again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grader.service.lti.store import LtiStore


@dataclass(frozen=True)
class Person:
    sub: str
    email: str | None
    sourcedid: str | None


@dataclass(frozen=True)
class Match:
    student_id: str
    step: str  # sub | sourcedid | email | contact-sourcedid | contact-email, with "nrps-" before when step 5 found it


def _one(candidates: set[str]) -> str | None:
    return next(iter(candidates)) if len(candidates) == 1 else None


def by_identity(lti: LtiStore, person: Person, roster: set[str]) -> Match | None:
    """Steps 2 to 4."""
    for value, step in ((person.sourcedid, "sourcedid"), (person.email, "email")):
        if value and value in roster:
            return Match(value, step)
    contacts = lti.students_by_contact(email=person.email, sourcedid=person.sourcedid)
    for step in ("sourcedid", "email"):
        found = _one(contacts[step] & roster)
        if found:
            return Match(found, f"contact-{step}")
    return None


def match(
    lti: LtiStore, platform_id: int, person: Person, *, member: Callable[[str], Person | None] | None = None
) -> Match | None:
    """The student this person is, or None. `member(sub)` looks them up in the course's NRPS membership."""
    linked = lti.user(platform_id, person.sub)
    if linked is not None and linked.role == "student" and linked.student_id:
        return Match(linked.student_id, "sub")
    roster = lti.roster()
    found = by_identity(lti, person, roster)
    if found is None and member is not None:
        listed = member(person.sub)
        if listed is not None:
            found = by_identity(lti, listed, roster)
            found = found and Match(found.student_id, f"nrps-{found.step}")
    return found
