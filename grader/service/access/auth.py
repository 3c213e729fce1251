"""Who is asking: bearer tokens stored as hashes, the signed session cookie of the pages, and CSRF tokens for forms."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, Response
from starlette.datastructures import MutableHeaders

from grader.service.queue.store import Store
from grader.service.web.asgi import append_cookie

SESSION_COOKIE = "pa5_session"
CSRF_COOKIE = "pa5_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PREFIX_CHARS = 8  # a token's first characters, kept in the clear to name it (`admin tokens --list`)


@dataclass(frozen=True)
class Principal:
    role: str  # instructor | student
    student_id: str | None
    token_id: int

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"

    @property
    def label(self) -> str:
        return self.student_id or "instructor"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_prefix(token: str) -> str:
    return token[:PREFIX_CHARS]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_instructor_token(store: Store) -> str:
    """A new instructor token; only its hash is kept, so the caller shows it once."""
    token = new_token()
    store.tokens.add_instructor(hash_token(token), token_prefix(token))
    return token


def set_student_token(store: Store, student_id: str) -> str:
    """Issue (or replace) a student's token; the old one stops working at once, sessions included, and a revoked
    student is back."""
    token = new_token()
    store.tokens.set_student(student_id, hash_token(token), token_prefix(token))
    return token


def lookup(store: Store, token: str) -> Principal | None:
    row = store.tokens.by_hash(hash_token(token))
    return None if row is None or row.revoked_at else Principal(row.role, row.student_id, row.id)


def load_session_key(data_dir: Path) -> bytes:
    """The key that signs session cookies, made on first use (0600) so restarts keep people signed in."""
    path = data_dir / "session.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
        return key


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()


def session_value(key: bytes, principal: Principal, token_sha256: str, now: float | None = None) -> str:
    issued = str(int(now if now is not None else time.time()))
    # Signing the token's hash as well means rotating a token ends its sessions.
    return f"{principal.token_id}.{issued}.{_mac(key, 'session', str(principal.token_id), issued, token_sha256)}"


def read_session(store: Store, key: bytes, value: str) -> Principal | None:
    try:
        token_id, issued, sig = value.split(".")
        tid, age = int(token_id), time.time() - int(issued)
    except ValueError:
        return None
    if not 0 <= age < SESSION_SECONDS:
        return None
    row = store.tokens.by_id(tid)
    if row is None or row.revoked_at:  # a revoked token's hash is gone too, so no session's signature matches
        return None
    if not hmac.compare_digest(sig, _mac(key, "session", token_id, issued, row.token_sha256)):
        return None
    return Principal(row.role, row.student_id, row.id)


def start_session(request: Request, response: Response, token: str) -> Principal | None:
    """Sign in with a pasted token: set the session cookie (HttpOnly, SameSite=Strict); None if the token is wrong."""
    store: Store = request.app.state.store
    principal = lookup(store, token)
    if principal is None:
        return None
    value = session_value(request.app.state.session_key, principal, hash_token(token))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return principal


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def csrf_token(request: Request) -> str:
    """The token a form must send back: bound to this browser's CSRF cookie and to its session, if any."""
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE, "")
    return _mac(request.app.state.session_key, "csrf", seed, request.cookies.get(SESSION_COOKIE, ""))


def verify_csrf(request: Request, submitted: str | None) -> None:
    """Refuse (403) a state-changing request whose CSRF token is missing or wrong."""
    if not request.cookies.get(CSRF_COOKIE) or not submitted or not hmac.compare_digest(submitted, csrf_token(request)):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")


def csrf_seed(request: Request) -> None:
    """Middleware, before the routes: a browser without a CSRF cookie gets a random seed, which csrf_token() reads
    on its first page and csrf_cookie sets."""
    if not request.cookies.get(CSRF_COOKIE):
        request.state.csrf_seed = secrets.token_urlsafe(16)


async def csrf_cookie(request: Request, status: int, headers: MutableHeaders) -> None:
    """Middleware, on the response: the seed's cookie, cross-site on a page an LMS frames (grader/service/lti/)."""
    if request.cookies.get(CSRF_COOKIE):
        return
    seed = request.state.csrf_seed
    if getattr(request.state, "cross_site_cookies", False):
        append_cookie(headers, lambda r: cross_site_cookie(r, CSRF_COOKIE, seed))
    else:
        secure = request.url.scheme == "https"
        append_cookie(
            headers, lambda r: r.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="strict", secure=secure)
        )


def cross_site_cookie(response: Response, key: str, value: str, **kw) -> None:
    """An HttpOnly cookie for pages another site frames over TLS (an LMS's LTI frame): SameSite=None; Secure;
    Partitioned, so it lives in the LMS's partition, the only place a browser that blocks third-party cookies keeps
    it. CSRF protection does not rest on SameSite: forms still need the token bound to the cookie."""
    response.set_cookie(key, value, httponly=True, secure=True, samesite="none", **kw)
    name, header = response.raw_headers[-1]
    response.raw_headers[-1] = (name, header + b"; Partitioned")  # Starlette writes it itself only on Python 3.14+


def get_principal(request: Request) -> Principal:
    """FastAPI dependency: `Authorization: Bearer TOKEN`, else the session cookie (CSRF needed to change things)."""
    store: Store = request.app.state.store
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        principal = lookup(store, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if principal is None:
            raise HTTPException(
                401, "the token is not valid: send `Authorization: Bearer TOKEN`", {"WWW-Authenticate": "Bearer"}
            )
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = read_session(store, request.app.state.session_key, cookie) if cookie else None
    if principal is None:
        raise HTTPException(
            401, "sign in first: send `Authorization: Bearer TOKEN` with your token", {"WWW-Authenticate": "Bearer"}
        )
    if request.method not in SAFE_METHODS:
        verify_csrf(request, request.headers.get(CSRF_HEADER))
    return principal


def require_instructor(request: Request) -> Principal:
    principal = get_principal(request)
    if not principal.is_instructor:
        raise HTTPException(403, "this needs an instructor token")
    return principal
