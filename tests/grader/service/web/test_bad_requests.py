"""Bad requests are 4xx with a message, never 500: odd ids on every route, hostile names in zips, odd form fields,
forged cookies; and every upload, refused or not, counts towards its student's rate limit before it is checked."""

import contextlib
import io
import select
import socket
import time
import zipfile

import httpx
import pytest

from grader.service.access import auth
from grader.service.queue.db import MAX_ID
from tests.grader.service.live import EXAMPLES
from tests.grader.service.web.test_pages import Browser

GOOD = (EXAMPLES / "correct" / "backprop.py").read_bytes()
ODD_IDS = ["99999999999999999999999", str(2**63), str(MAX_ID + 1), "0", "-1", "abc", "1e3", "%00", "%ff", "1.5"]


def zipped(*names) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("backprop.py", GOOD)
        for name in names:
            zf.writestr(name, b"x = 1\n")
    return buf.getvalue()


def _routes(routes):
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router keeps the router whole
        yield from _routes(included.routes) if included is not None else [route]


def id_routes(app):
    """Every (method, path, parameter) of the app whose path takes an id, found from its routing table."""
    out = []
    for route in _routes(app.routes):
        params = getattr(route, "param_convertors", {})
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
            if params:
                out.append((method, route.path, next(iter(params))))
    return out


def test_every_route_taking_an_id_answers_404_to_an_id_that_names_nothing(api):
    routes = id_routes(api.server.config.app)
    assert {p for _, p, _ in routes} >= {"/api/submissions/{submission_id}", "/submissions/{submission_id}"}
    pages = Browser(api.url)
    pages.sign_in(api.instructor)
    with api.client("instructor") as c:
        for method, path, name in routes:
            for odd in ODD_IDS:
                url = path.replace("{" + name + "}", odd)
                r = c.request(method, url) if path.startswith("/api/") else pages.http.request(method, url)
                assert r.status_code == 404, (method, url, r.status_code, r.text[:200])
                if path.startswith("/api/"):
                    assert r.json()["detail"].startswith("no ")
                else:  # a page: the error page, not JSON
                    assert r.headers["content-type"].startswith("text/html") and "404" in r.text
    pages.http.close()


def test_a_forged_session_naming_an_id_out_of_range_is_just_not_signed_in(api):
    key = (api.data / "session.key").read_text().strip()
    now = str(int(time.time()))
    for tid in ("99999999999999999999999", str(2**63), "-5", "0"):
        value = f"{tid}.{now}.{'0' * 64}"
        assert auth.read_session(api.store, bytes.fromhex(key), value) is None
        with api.client(cookies={auth.SESSION_COOKIE: value}) as c:
            assert c.get("/api/submissions").status_code == 401
            assert c.get("/me", follow_redirects=False).status_code == 303  # to the sign-in page


@pytest.mark.parametrize(
    ("what", "name", "data", "message"),
    [
        ("300-char member", "s.zip", zipped("a" * 300 + ".py"), "longer than 255 bytes"),
        ("1,100-deep path", "s.zip", zipped("d/" * 1100 + "x.py"), "deeper than"),
        ("file and folder", "s.zip", zipped("h", "h/x.py"), "both as a file and as a folder"),
        ("300-char file name", "a" * 300 + ".py", GOOD, "file name is longer than 255 bytes"),
    ],
)
def test_names_a_file_system_refuses_are_422_with_a_message(api, what, name, data, message):
    with api.client("alice") as c:
        r = c.post("/api/submissions", files={"file": (name, data)})
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert api.store.list_submissions() == [] and list((api.data / "tmp").iterdir()) == []


def test_an_instructor_cannot_submit_for_someone_off_the_roster(api):
    with api.client("instructor") as c:
        for sid in ("zed", "z" * 300, "alice\x00"):
            r = c.post("/api/submissions", files={"file": ("backprop.py", GOOD)}, data={"student_id": sid})
            assert r.status_code == 422 and "roster" in r.json()["detail"], r.text
    assert api.store.list_submissions() == []


def test_refused_uploads_count_towards_the_rate_limit_and_are_not_checked_once_over_it(api, monkeypatch):
    import grader.service.web.api as service_api

    checked = []
    real = service_api.check_upload
    monkeypatch.setattr(service_api, "check_upload", lambda **kw: checked.append(kw["filename"]) or real(**kw))
    with api.client("alice") as c:
        r = c.post("/api/submissions", files={"file": ("backprop.py", b"def f(:\n")})
        assert r.status_code == 422  # refused for its content, after it was counted
        r = c.post("/api/submissions", files={"file": ("backprop.py", GOOD)})
        assert r.status_code == 429 and "at most 1 per 10 s" in r.json()["detail"] and r.headers["retry-after"]
        for _ in range(5):  # an over-limit client costs no compile at all
            assert c.post("/api/submissions", files={"file": ("x.py", b"def f(:\n")}).status_code == 429
    assert checked == ["backprop.py"]
    with api.client("bob") as c:  # per student
        assert c.post("/api/submissions", files={"file": ("backprop.py", GOOD)}).status_code == 202


def test_a_refused_upload_on_the_page_counts_as_well(api):
    b = Browser(api.url)
    b.sign_in(api.tokens["carol"])
    r = b.post("/me/upload", files={"file": ("backprop.py", b"def f(:\n")})
    assert r.status_code == 422 and "not valid Python" in r.text
    b.get("/me")
    r = b.post("/me/upload", files={"file": ("backprop.py", GOOD)})
    assert r.status_code == 429 and "try again in" in r.text
    b.http.close()


def test_headers_without_end_are_refused_past_a_limit_and_the_server_goes_on(api):
    """A client that sends header lines and never ends them is answered 400 and dropped once they pass h11's 16 KiB,
    rather than having each line kept (uvicorn's httptools parser, which `auto` would pick where installed, keeps
    them all: 152 MB of them into one connection, measured)."""
    host, port = api.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):  # the server may close the connection while lines still go out
            while sent < 4 << 20 and not select.select([s], [], [], 0)[0]:  # stop once the server answers
                s.sendall(b"X-Line: " + b"a" * 8000 + b"\r\n")
                sent += 8000
        answer = s.recv(200)
    # (How much went out before the close says nothing: loopback's socket buffers hold megabytes.)
    assert answer.startswith(b"HTTP/1.1 400"), (sent, answer)
    assert httpx.get(f"{api.url}/healthz").status_code == 200
