"""Registered platforms as PyLTI1p3's tool configuration: each row an issuer, a client id and a deployment, signed
for with the tool's newest key."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from grader.errors import GraderError
from grader.service.lti import keys
from grader.service.lti.rows import PlatformRow
from grader.service.lti.store import LtiStore


class RegistrationError(GraderError):
    """A platform registration that cannot be used (a bad URL, a duplicate, an unknown id)."""


def registration(platform: PlatformRow, data_dir: Path) -> Registration:
    key = keys.signing_key(data_dir)
    reg = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_key_set_url(platform.keyset_url)
        .set_tool_private_key(key.private_pem)
        .set_tool_public_key(key.public_pem)
    )
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    return reg


class StoreToolConf(ToolConfAbstract):
    """Every issuer may have several client ids (PyLTI1p3's "many clients" relation); looked up on each request, so
    `admin lti add-platform` applies to a running service at once."""

    def __init__(self, lti: LtiStore, data_dir: Path):
        self._lti, self._data_dir = lti, data_dir

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _rows(self, iss: str, client_id: str | None) -> list[PlatformRow]:
        rows = self._lti.find_platforms(iss, client_id or None)
        if client_id is None and len({r.client_id for r in rows}) > 1:
            return []  # which registration is meant: the login did not say
        return rows

    def find_registration_by_issuer(self, iss: str, *args, **kwargs) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args, **kwargs) -> Registration | None:
        rows = self._rows(iss, client_id)
        return registration(rows[0], self._data_dir) if rows else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args, **kwargs
    ) -> Deployment | None:
        if any(r.deployment_id == deployment_id for r in self._rows(iss, client_id)):
            return Deployment().set_deployment_id(deployment_id)
        return None

    def platform_of(self, iss: str, client_id: str, deployment_id: str) -> PlatformRow | None:
        return next((r for r in self._lti.find_platforms(iss, client_id) if r.deployment_id == deployment_id), None)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs) -> dict:
        return keys.jwks(self._data_dir)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, or RegistrationError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationError(f"{url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def add_platform(
    *,
    lti: LtiStore,
    data_dir: Path,
    issuer: str,
    client_id: str,
    deployment_id: str,
    auth_login_url: str,
    auth_token_url: str,
    keyset_url: str,
    auth_audience: str | None = None,
    frame_origins: tuple[str, ...] = (),
) -> PlatformRow:
    """Register a platform (the tool's key is made on first use); framed by the issuer's origin unless told."""
    for name, url in (("auth login", auth_login_url), ("auth token", auth_token_url), ("keyset", keyset_url)):
        try:
            origin(url)
        except RegistrationError as e:
            raise RegistrationError(f"the {name} URL: {e}") from None
    if not issuer.strip() or not client_id.strip() or not deployment_id.strip():
        raise RegistrationError("the issuer, client id and deployment id must not be empty")
    frames = tuple(dict.fromkeys(origin(u) for u in frame_origins)) if frame_origins else (origin(issuer),)
    row = lti.add_platform(
        issuer=issuer.strip(),
        client_id=client_id.strip(),
        deployment_id=deployment_id.strip(),
        auth_login_url=auth_login_url.strip(),
        auth_token_url=auth_token_url.strip(),
        keyset_url=keyset_url.strip(),
        auth_audience=auth_audience,
        frame_origins=frames,
    )
    if row is None:
        raise RegistrationError(
            f"issuer {issuer} with client id {client_id} and deployment {deployment_id} is registered already"
        )
    keys.signing_key(data_dir)
    return row


def remove_platform(*, lti: LtiStore, platform_id: int) -> None:
    if not lti.remove_platform(platform_id):
        raise RegistrationError(f"no platform {platform_id}: `pa5-grader admin lti list` shows their ids")
