"""PyLTI1p3 for FastAPI: the request, cookie, redirect and session adapters it ships for Django and Flask, written for
Starlette, and its launch data kept in the database. The protocol itself is PyLTI1p3's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import requests
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pylti1p3.cookie import CookieService
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request
from pylti1p3.session import SessionService

from grader.service.access.auth import cross_site_cookie
from grader.service.lti.store import LtiStore

HTTP_TIMEOUT = 15.0  # seconds for any call to a platform: PyLTI1p3's requests have none
STATE_SECONDS = 600  # a login must reach the launch within this
COOKIE_PATH = "/lti/"


class TimeoutSession(requests.Session):
    """A requests session whose calls time out, so an LMS that hangs never holds a thread for good."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(*args, **kwargs)


def http_session() -> TimeoutSession:
    s = TimeoutSession()
    s.headers["User-Agent"] = "pa5-grader (PyLTI1p3)"
    return s


class FastApiRequest(Request):
    """What PyLTI1p3 reads of a request: its parameters (query or form, read beforehand), cookies, TLS or not."""

    def __init__(self, *, params: Mapping[str, str], cookies: Mapping[str, str], secure: bool):
        self._params, self._cookies, self._secure = dict(params), dict(cookies), secure

    @property
    def session(self):
        return {}  # unused: the launch data live in the database (StoreLaunchData)

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str | None:
        return self._params.get(key)

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)


class FastApiCookieService(CookieService):
    """PyLTI1p3's cookies (the login's state), collected and set on the response it returns; HttpOnly, only for
    /lti/, and cross-site over TLS (auth.cross_site_cookie), so they reach the launch posted in an LMS's frame."""

    def __init__(self, request: FastApiRequest):
        self._request, self._to_set = request, {}

    def _key(self, name: str) -> str:
        return f"{self._cookie_prefix}-{name}"

    def get_cookie(self, name: str) -> str | None:
        return self._request.get_cookie(self._key(name))

    def set_cookie(self, name: str, value, exp: int | None = 3600) -> None:
        self._to_set[self._key(name)] = (str(value), exp)

    def apply(self, response: Response) -> Response:
        for key, (value, exp) in self._to_set.items():
            if self._request.is_secure():
                cross_site_cookie(response, key, value, max_age=exp, path=COOKIE_PATH)
            else:
                response.set_cookie(key, value, max_age=exp, path=COOKIE_PATH, httponly=True, samesite="lax")
        return response


class FastApiRedirect(Redirect[Response]):
    def __init__(self, location: str, cookies: FastApiCookieService):
        self._location, self._cookies = location, cookies

    def do_redirect(self) -> Response:
        return self._cookies.apply(RedirectResponse(self._location, status_code=302))

    def do_js_redirect(self) -> Response:
        return self.do_redirect()  # the pages run no script (see the CSP); a plain redirect does the same

    def set_redirect_url(self, location: str) -> None:
        self._location = location

    def get_redirect_url(self) -> str:
        return self._location


class StoreLaunchData(LaunchDataStorage):
    """PyLTI1p3's launch data storage over `store.lti`, so a login and its launch may reach different processes
    and a restart in between loses nothing. No session cookie: the login's state cookie binds the browser."""

    def __init__(self, lti: LtiStore, clock: Callable[[], dt.datetime]):
        super().__init__()
        self._lti, self._clock = lti, clock

    def _now(self) -> dt.datetime:
        return self._clock().astimezone(dt.timezone.utc).replace(tzinfo=None)

    def get_session_cookie_name(self) -> None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str):
        return self._lti.state_get(self._prepare_key(key), self._now())

    def set_value(self, key: str, value, exp: int | None = None) -> None:
        expires = self._now() + dt.timedelta(seconds=exp or STATE_SECONDS)
        self._lti.state_set(self._prepare_key(key), value, expires)

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def take(self, key: str) -> bool:
        return self._lti.state_take(self._prepare_key(key), self._now())


class OneTimeNonces(SessionService):
    """PyLTI1p3's session service, except that a login's nonce is good for one launch: PyLTI1p3 keeps it, so the
    same id_token posted again within its lifetime would be accepted; here the second post is refused."""

    def check_nonce(self, nonce: str) -> bool:
        return self.data_storage.take(self._get_key("nonce", nonce))


class ToolLogin(OIDCLogin):
    def get_redirect(self, url: str) -> FastApiRedirect:
        return FastApiRedirect(url, self._cookie_service)

    def get_response(self, html: str) -> Response:
        return HTMLResponse(html)


class ToolLaunch(MessageLaunch):
    def _get_request_param(self, key: str) -> str | None:
        return self._request.get_param(key)


def services(request: FastApiRequest, storage: StoreLaunchData) -> tuple[OneTimeNonces, FastApiCookieService]:
    """The session (over `storage`, with its lifetime) and cookie services one login or launch uses."""
    sessions = OneTimeNonces(request)
    storage.set_request(request)
    sessions.set_data_storage(storage)
    sessions.set_launch_data_lifetime(STATE_SECONDS)
    return sessions, FastApiCookieService(request)
