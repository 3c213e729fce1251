"""What the grader reads of a validated launch: who, in which role, from which link, and which services it grants."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pylti1p3.roles import AbstractRole, TeacherRole, TeachingAssistantRole

from grader.errors import GraderError

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
Id = Field(min_length=1, max_length=255)
Url = Field(None, max_length=1024)


class ClaimsError(GraderError):
    """A verified launch that the grader cannot use (no user, a value too long, another message type)."""


class LearnerRole(AbstractRole):
    """A learner in the course: the context role only (an institution's Student may be this course's TA)."""

    _common_roles = ("Learner",)
    _context_roles = ("Learner",)


class Launch(BaseModel):
    """A resource link launch, as the grader uses it; the platform's other claims are ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(description="The platform's issuer.")
    client_id: str = Field(description="The tool's client id at the platform (the audience).")
    deployment_id: str = Field(description="The deployment the launch came through.")
    sub: str = Id
    role: Literal["student", "instructor"] | None = Field(description="The grader's role for the course's role.")
    roles: tuple[str, ...] = Field(description="The LTI roles as sent.")
    name: str | None = Field(None, max_length=255)
    email: str | None = Field(None, max_length=320)
    sourcedid: str | None = Field(None, max_length=255, description="lis.person_sourcedid: the SIS id.")
    context_id: str | None = Field(None, max_length=255)
    resource_link_id: str = Id
    title: str | None = Field(None, max_length=255)
    ags_scopes: tuple[str, ...] = ()
    lineitems_url: str | None = Url
    lineitem_url: str | None = Url
    nrps_url: str | None = Url


def role_of(body: dict) -> Literal["student", "instructor"] | None:
    """Instructor for an instructor, TA or course administrator; student for a learner; else none of ours."""
    if TeacherRole(body).check() or TeachingAssistantRole(body).check():
        return "instructor"
    return "student" if LearnerRole(body).check() else None


def read(body: dict) -> Launch:
    """The launch's claims (PyLTI1p3 has verified them); ClaimsError when the grader cannot serve it."""
    kind = body.get(LTI + "message_type")
    if kind != "LtiResourceLinkRequest":
        raise ClaimsError(
            f"this launch is a {kind}; the grader takes resource link launches only: add it to the course as a link "
            "or an assignment (deep linking is not supported)"
        )
    aud = body.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    client_id = body.get("azp") if len(auds) > 1 else auds[0]
    if client_id not in auds:
        raise ClaimsError("the launch's audience does not name the client id it was authorized for (azp)")
    ags, nrps = body.get(AGS) or {}, body.get(NRPS) or {}
    lis, link, context = body.get(LTI + "lis") or {}, body.get(LTI + "resource_link") or {}, body.get(LTI + "context")
    try:
        return Launch(
            issuer=body["iss"],
            client_id=client_id,
            deployment_id=body[LTI + "deployment_id"],
            sub=body["sub"],
            role=role_of(body),
            roles=tuple(body.get(LTI + "roles") or ()),
            name=_shown(body.get("name")),
            email=body.get("email") or None,
            sourcedid=lis.get("person_sourcedid") or None,
            context_id=(context or {}).get("id"),
            resource_link_id=link.get("id"),
            title=_shown(link.get("title")),
            ags_scopes=tuple(ags.get("scope") or ()),
            lineitems_url=ags.get("lineitems"),
            lineitem_url=ags.get("lineitem"),
            nrps_url=nrps.get("context_memberships_url"),
        )
    except (ValidationError, KeyError, TypeError, AttributeError) as e:
        raise ClaimsError(f"the launch's claims cannot be used: {_why(e)}") from None


def _shown(value) -> str | None:
    """A display name, cut to fit its column: no launch is refused for a long name."""
    return value[:255] if isinstance(value, str) and value else None


def _why(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
    return f"{e.__class__.__name__} {e}"
