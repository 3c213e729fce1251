"""A refused upload from the browser ends on a page with its message and a way back, never on bare JSON; the API
keeps answering JSON."""

import re

import pytest

from grader.service.queue.ratelimit import RateLimit
from tests.grader.service.live import running
from tests.grader.service.web import test_pages
from tests.grader.service.web.test_pages import GOOD, Browser, Tags, upload

site, browser = test_pages.site, test_pages.browser  # the fixtures
LIMIT = 1 << 20  # ServiceSettings.upload_max_bytes, the default these services run with


def flash(page: str) -> str:
    return re.search(r'<p class="flash error" role="status">(.*?)</p>', page, re.S).group(1)


def test_a_body_over_the_limit_is_a_page_with_a_way_back_outside_the_api(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    r = upload(b, b"#" * (3 * LIMIT))  # far over: refused as it arrives, before any route
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert f"larger than {LIMIT} bytes, the upload limit" in r.text
    assert ("a", {"class": "button", "href": "/me"}) in Tags(r.text).tags
    assert "script" not in [t for t, _ in Tags(r.text).tags]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    with site.client("alice") as c:
        r = c.post("/api/submissions", files={"file": ("backprop.py", b"#" * (3 * LIMIT))})
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"
    assert f"larger than {LIMIT} bytes" in r.json()["detail"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert site.store.list_submissions() == []


@pytest.mark.parametrize(
    ("data", "name", "status", "says"),
    [
        (b"", "backprop.py", 400, "the upload is empty"),
        (GOOD, "backprop.txt", 400, "upload a .py file"),
        (b"#" * (LIMIT + 100), "backprop.py", 413, f"the limit is {LIMIT} bytes"),  # within the multipart slack
        (b"def f(:\n", "backprop.py", 422, "not valid Python"),
    ],
)
def test_a_refused_upload_says_why_above_the_form(site, browser, data, name, status, says):
    b = browser()
    b.sign_in(site.tokens["alice"])
    r = upload(b, data, name=name)
    assert r.status_code == status
    assert says in flash(r.text)
    assert 'action="' + site.url + '/me/upload"' in r.text  # the form again: the way back is to choose another
    assert site.store.list_submissions() == []


def test_too_many_uploads_say_when_to_try_again(service_data):
    with running(service_data, rate_limits=(RateLimit(count=1, seconds=3600),)) as s:
        b = Browser(s.url)
        try:
            b.sign_in(s.tokens["alice"])
            assert upload(b).status_code == 303
            b.follow()
            r = upload(b)
            assert r.status_code == 429 and "retry-after" in r.headers
            assert flash(r.text) and 'action="' + s.url + '/me/upload"' in r.text
        finally:
            b.http.close()


def test_a_stale_form_is_refused_on_a_page_with_a_way_back(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    r = b.post("/me/upload", {"csrf_token": "stale"}, csrf=False, files={"file": ("backprop.py", GOOD)})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "reload the page and try again" in r.text
    assert ("a", {"href": f"{site.url}/"}) in Tags(r.text).tags  # home: the student's own page
