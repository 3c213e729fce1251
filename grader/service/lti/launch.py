"""The OIDC login and the launch: PyLTI1p3 checks state, nonce (once), signature, iat/exp, audience and deployment;
then the launch's user is matched to a token row (matching.py) and its link recorded for passback."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi.responses import Response
from pylti1p3.exception import LtiException, OIDCException

from grader.errors import GraderError
from grader.service.access.auth import hash_token, new_token
from grader.service.lti import claims, roster
from grader.service.lti.adapters import FastApiRequest, StoreLaunchData, ToolLaunch, ToolLogin, http_session, services
from grader.service.lti.claims import Launch
from grader.service.lti.matching import Person, match
from grader.service.lti.registry import StoreToolConf
from grader.service.lti.rows import PlatformRow, TokenRef

log = logging.getLogger("pa5-grader.service.lti")
BAD_REQUEST = ("Missing id_token", "Missing state param", "Invalid id_token", "Invalid JWT format")
# PyJWT's defaults check a signature, and exp and iat when present; a launch must carry both. The audience is checked
# by PyLTI1p3 (the registration's client id) and by claims.read (azp).
JWT_OPTIONS = {"verify_aud": False, "require": ["exp", "iat"]}
HINTS = {
    "State not found": "the login's cookie did not come back with the launch; if the browser blocks cookies in the "
    "LMS's frame, open the tool in a new window, or start again from the course",
    "Invalid Nonce": "this launch was used already or is too old; start again from the course",
}


class LaunchRefused(GraderError):
    """A login or launch that is refused, with the HTTP status it gets and a message for the person."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SignIn:
    token: TokenRef
    landing: str  # the page's route name: student_page | dashboard
    platform: PlatformRow


@dataclass(frozen=True)
class Unknown:
    """A learner the rule matches to no roster student."""

    launch: Launch


def login(
    *,
    store,
    data_dir: Path,
    params: Mapping[str, str],
    cookies: Mapping[str, str],
    secure: bool,
    launch_url: str,
    clock: Callable[[], dt.datetime],
) -> Response:
    """The redirect to the platform's authorization endpoint, with the state cookie set; LaunchRefused if the
    platform is not registered or the request lacks what OIDC needs."""
    request = FastApiRequest(params=params, cookies=cookies, secure=secure)
    sessions, cookie_service = services(request, StoreLaunchData(store.lti, clock))
    oidc = ToolLogin(request, StoreToolConf(store.lti, data_dir), sessions, cookie_service)
    try:
        return oidc.redirect(launch_url)
    except OIDCException as e:
        if "registration" in str(e):
            raise LaunchRefused(
                400,
                f"this LMS (issuer {params.get('iss')!r}, client id {params.get('client_id')!r}) is not registered "
                "with the grader: its administrator runs `pa5-grader admin lti add-platform`",
            ) from None
        raise LaunchRefused(400, f"the LMS's login request cannot be used: {e}") from None


def verify(*, store, data_dir: Path, params, cookies, secure: bool, clock) -> tuple[Launch, PlatformRow]:
    """The launch's claims once PyLTI1p3 has validated it, and its platform; LaunchRefused otherwise."""
    request = FastApiRequest(params=params, cookies=cookies, secure=secure)
    sessions, cookie_service = services(request, StoreLaunchData(store.lti, clock))
    conf = StoreToolConf(store.lti, data_dir)
    try:
        with http_session() as http:
            message = ToolLaunch(request, conf, sessions, cookie_service, requests_session=http)
            message.set_jwt_verify_options(JWT_OPTIONS)
            body = message.get_launch_data()
    except LtiException as e:
        why = str(e)
        status = 400 if why.startswith(BAD_REQUEST) else 403
        hint = next((h for k, h in HINTS.items() if why.startswith(k)), "start again from the course")
        log.info("refused a launch: %s", why)
        raise LaunchRefused(status, f"the launch could not be verified ({why[:300]}): {hint}") from None
    except (OIDCException, AttributeError, TypeError, ValueError, KeyError) as e:
        raise LaunchRefused(400, f"the launch could not be read ({e.__class__.__name__})") from None
    try:
        launch = claims.read(body)
    except claims.ClaimsError as e:
        raise LaunchRefused(400, str(e)) from None
    platform = conf.platform_of(launch.issuer, launch.client_id, launch.deployment_id)
    if platform is None:  # removed between the check and now
        raise LaunchRefused(403, "this LMS's registration was removed")
    return launch, platform


def launch(*, store, data_dir: Path, params, cookies, secure: bool, clock) -> SignIn | Unknown:
    """Verify, record the link, and find whom to sign in."""
    launch, platform = verify(
        store=store, data_dir=data_dir, params=params, cookies=cookies, secure=secure, clock=clock
    )
    now = clock().astimezone(dt.timezone.utc).replace(tzinfo=None)
    lti = store.lti
    link = lti.upsert_link(
        platform_id=platform.id,
        resource_link_id=launch.resource_link_id,
        context_id=launch.context_id,
        title=launch.title,
        ags_scopes=list(launch.ags_scopes),
        lineitems_url=launch.lineitems_url,
        lineitem_url=launch.lineitem_url,
        nrps_url=launch.nrps_url,
        now=now,
    )
    if launch.role is None:
        raise LaunchRefused(
            403,
            "the grader serves the course's learners, instructors and teaching assistants; your roles here are "
            f"{', '.join(r.rsplit('#', 1)[-1] for r in launch.roles) or 'none'}",
        )
    linked = lti.user(platform.id, launch.sub)
    if linked is not None and linked.role != launch.role:
        raise LaunchRefused(
            403,
            f"your LMS account is linked to the grader as a {linked.role}, and this launch says {launch.role}: ask "
            "the grader's administrator",
        )
    common = dict(platform_id=platform.id, sub=launch.sub, role=launch.role, name=launch.name, email=launch.email)
    common.update(sourcedid=launch.sourcedid, now=now, launched=True)
    if launch.role == "instructor":
        if linked is None:
            token_id = lti.add_instructor_token(hash_token(new_token()))  # never shown: they sign in from the LMS
            linked = lti.link_user(**common, token_id=token_id, student_id=None, matched_by="instructor-role")
        else:
            lti.link_user(**common, token_id=linked.token_id, student_id=None, matched_by=linked.matched_by)
        token = lti.token(linked.token_id)
        if token is None:
            raise LaunchRefused(403, "your grader access from this LMS was revoked: ask the grader's administrator")
        return SignIn(token, "dashboard", platform)
    person = Person(launch.sub, launch.email, launch.sourcedid)
    lookup = _member_lookup(platform, data_dir, launch.nrps_url) if launch.nrps_url else None
    found = match(lti, platform.id, person, member=lookup)
    if found is None:
        return Unknown(launch)
    token = lti.token_of_student(found.student_id)
    if token is None:
        raise LaunchRefused(403, f"the grader's access for {found.student_id} was revoked: ask your instructor")
    user = lti.link_user(**common, token_id=token.id, student_id=found.student_id, matched_by=found.step)
    if claims.SCORE_SCOPE in link.ags_scopes:
        lti.passbacks.enrol(link.id, user.id, now)
    return SignIn(token, "student_page", platform)


def _member_lookup(platform: PlatformRow, data_dir: Path, nrps_url: str) -> Callable[[str], Person | None]:
    def member(sub: str) -> Person | None:
        try:
            listed = roster.members(platform, data_dir, nrps_url)
        except roster.RosterError as e:
            log.warning("matching a launch through NRPS: %s", e)
            return None
        return next((roster.person(m) for m in listed if str(m.get("user_id")) == sub), None)

    return member
