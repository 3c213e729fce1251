"""The web pages over real HTTP against a real SQLite file: sign-in, CSRF, the student's pages, the dashboard."""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import httpx
import pytest

from grader.service.access.auth import SESSION_COOKIE
from grader.service.queue.ratelimit import RateLimit
from tests.grader.service.live import EXAMPLES, release_hidden, running
from tests.grader.service.sample import UNFLIPPED, make_report

GOOD = (EXAMPLES / "correct" / "backprop.py").read_bytes()
SVG = "{http://www.w3.org/2000/svg}"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A cookie-keeping HTTP client that reads CSRF tokens from the pages, as a browser's forms would send them."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=30.0)
        self.last: httpx.Response | None = None

    def get(self, path: str, **kw) -> httpx.Response:
        self.last = self.http.get(path, **kw)
        return self.last

    def csrf(self) -> str:
        return CSRF.search(self.last.text).group(1)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw) -> httpx.Response:
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf()
        self.last = self.http.post(path, data=data, **kw)
        return self.last

    def follow(self) -> httpx.Response:
        """Follow the redirects after a form, as a browser does."""
        assert self.last.status_code == 303, self.last.text
        while self.last.status_code == 303:
            self.get(self.last.headers["location"])
        return self.last

    def sign_in(self, token: str) -> httpx.Response:
        self.get("/signin")
        self.post("/signin", {"token": token})
        return self.follow()


@pytest.fixture
def site(service_data):
    """The service without workers and without the per-student rate limit."""
    with running(service_data, rate_limits=(RateLimit(count=1000, seconds=1),)) as s:
        yield s


@pytest.fixture
def browser(site):
    """browser() opens a new cookie jar on the site; all are closed at the end of the test."""
    opened = []

    def new() -> Browser:
        opened.append(Browser(site.url))
        return opened[-1]

    yield new
    for b in opened:
        b.http.close()


def finish(site, report) -> int:
    claim = site.store.leases.claim_next("test-worker", 60)
    assert site.store.leases.complete_job(claim.job_id, "test-worker", report)
    return claim.submission_id


def upload(b: Browser, data: bytes = GOOD, name: str = "backprop.py", **kw) -> httpx.Response:
    return b.post("/me/upload", files={"file": (name, data)}, **kw)


class Tags(HTMLParser):
    """Every start tag of a page: an independent check that student text did not become markup."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_pages_send_a_browser_to_sign_in_and_the_cookie_is_httponly_strict(site, browser):
    b = browser()
    for path in ("/", "/me", "/dashboard", "/submissions/1"):
        r = b.get(path)
        assert r.status_code == 303 and r.headers["location"].endswith("/signin")
    b.get("/signin")
    r = b.post("/signin", {"token": site.tokens["alice"]})
    assert r.status_code == 303
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert site.tokens["alice"] not in cookie
    page = b.follow()
    assert page.url.path == "/me"
    assert "signed in as <b>alice</b>" in page.text


def test_a_wrong_token_is_refused_with_a_message(site, browser):
    b = browser()
    b.get("/signin")
    r = b.post("/signin", {"token": "not-a-token"})
    assert r.status_code == 401
    assert "That token is not valid" in r.text
    assert SESSION_COOKIE not in b.http.cookies


@pytest.mark.parametrize("form", ["/me/upload", "/signout", "/submissions/1/regrade", "/dashboard/regrade"])
@pytest.mark.parametrize("token", ["missing", "other-browser"])
def test_forms_without_their_csrf_token_are_refused(site, browser, form, token):
    student = browser()
    student.sign_in(site.tokens["alice"])
    upload(student)
    student.follow()
    b = browser()
    b.sign_in(site.instructor if "regrade" in form else site.tokens["alice"])
    before = site.store.queue()
    data = {} if token == "missing" else {"csrf_token": student.csrf()}
    if "regrade" in form:
        data["confirm"] = "yes"  # the confirming POST, which would queue
    files = {"file": ("backprop.py", GOOD)} if form == "/me/upload" else None
    r = b.post(form, data, csrf=False, files=files)
    assert r.status_code == 403
    assert "CSRF token" in r.text
    assert site.store.queue() == before  # nothing was queued or regraded
    assert b.get("/me").status_code == 200  # and the session is still signed in


def test_sign_in_itself_needs_the_csrf_token(site, browser):
    b = browser()
    b.get("/signin")
    r = b.post("/signin", {"token": site.tokens["alice"]}, csrf=False)
    assert r.status_code == 403
    assert SESSION_COOKIE not in b.http.cookies


def test_upload_queues_and_the_status_area_refreshes_until_graded(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    assert "http-equiv" not in b.last.text and "data-active" not in b.last.text
    assert upload(b).status_code == 303
    page = b.follow().text
    # static/status.js refreshes the list alone; without scripts, the page reloads itself
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert page.count("http-equiv") == 1
    area = re.search(r'<div id="status" data-status-url="([^"]+)" data-refreshes="0">(.*?)</div>\s*</main>', page, re.S)
    assert area.group(1) == f"{site.url}/me/status"
    fragment = b.get(area.group(1))
    assert fragment.status_code == 200 and fragment.headers["cache-control"] == "no-store"
    assert fragment.text.strip() == area.group(2).strip()  # the page's list, alone
    assert 'data-active="3"' in fragment.text and "position 1 in the queue" in fragment.text
    assert "<form" not in fragment.text and "<html" not in fragment.text
    sid = finish(site, make_report("alice", total=60.0))
    fragment = b.get(area.group(1)).text
    assert "data-active" not in fragment  # final: the script stops asking
    assert f'href="{site.url}/submissions/{sid}">report</a>' in fragment
    assert "30 / 50" in fragment  # the public half: hidden results are not released yet
    assert "http-equiv" not in b.get("/me").text
    release_hidden(site)
    assert "60 / 100" in b.get("/me/status").text


def test_the_status_fragment_is_the_callers_own_list(site, browser):
    alice, bob, instructor = browser(), browser(), browser()
    alice.sign_in(site.tokens["alice"])
    upload(alice)
    bob.sign_in(site.tokens["bob"])
    assert "No submissions yet" in bob.get("/me/status", params={"student_id": "alice"}).text
    instructor.sign_in(site.instructor)
    assert '<td class="name">alice</td>' in instructor.get("/me/status", params={"student_id": "alice"}).text
    assert "No submissions yet" in instructor.get("/me/status", params={"student_id": "bob"}).text
    r = browser().get("/me/status")
    assert r.status_code == 401 and "<html" not in r.text  # a script asks: no sign-in page to follow


def test_a_bad_upload_is_shown_on_the_page_with_its_status(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    r = upload(b, b"\xff\xfe not python", name="backprop.py")
    assert 400 <= r.status_code < 500
    assert 'class="flash error"' in r.text
    assert site.store.queue()["counts"]["queued"] == 0


def test_the_report_page_renders_the_json_twins_report(site, browser):
    release_hidden(site)
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    scores = {"conv.dx": 3.16, "softmax.ds": 0.0}
    sid = finish(site, make_report("alice", scores=scores, diagnoses={"conv.dx": UNFLIPPED}))
    twin = b.get(f"/api/submissions/{sid}").json()["report"]
    page = b.get(f"/submissions/{sid}").text
    for p in twin["problems"]:
        passed = sum(c["status"] == "passed" for c in p["cases"])
        row = re.search(rf"<code>{re.escape(p['id'])}</code></a></td>(.*?)</tr>", page, re.S).group(1)
        assert f"{passed} / {len(p['cases'])}" in row
        assert f"{round(p['score'], 2):g} / {p['max_score']:g}" in row
    assert re.search(r"<b>Likely mistake</b>.*?:\s*" + re.escape(UNFLIPPED.message), page, re.S)
    assert "No known mistake</b> explains most of the 2 failing cases" in page  # softmax.ds: no diagnosis
    assert "x 7x13, w 5x7, dy 7x13" in page
    # the worst element of a failing public case, never of a hidden one
    assert "got <code>-1711.84</code>, expected <code>2007.88</code>" in page
    assert page.count("at <code>[5, 9]</code>") == 2  # conv.dx and softmax.ds public cases


def test_another_students_report_is_404_and_the_dashboard_403_for_students(site, browser):
    alice, bob = browser(), browser()
    alice.sign_in(site.tokens["alice"])
    bob.sign_in(site.tokens["bob"])
    upload(alice)
    sid = finish(site, make_report("alice"))
    assert alice.get(f"/submissions/{sid}").status_code == 200
    r = bob.get(f"/submissions/{sid}")
    assert r.status_code == 404 and "alice" not in r.text
    assert bob.get("/dashboard").status_code == 403


def test_student_output_and_messages_are_shown_as_text(site, browser):
    release_hidden(site)
    evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    b = browser()
    b.sign_in(site.tokens["alice"])
    upload(b)
    report = make_report("alice", scores={"conv.dx": 0.0}, output=f"print: {evil}\n", message=f"raised: {evil}")
    sid = finish(site, report)
    page = b.get(f"/submissions/{sid}").text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert page.count("&lt;img src=x onerror=") == 2  # output, case message
    tags = [t for t, _ in Tags(page).tags]
    assert "script" not in tags and "img" not in tags
    upload(b)
    sid = finish(site, report.model_copy(update={"error": f"ImportError: {evil}"}))
    page = b.get(f"/submissions/{sid}").text
    assert page.count("&lt;img src=x onerror=") == 2  # output, error: an import error is all the cases say
    assert "script" not in [t for t, _ in Tags(page).tags]
    instructor = browser()
    instructor.sign_in(site.instructor)
    dash = instructor.get("/dashboard").text
    scripts = [a.get("src", "") for t, a in Tags(dash).tags if t == "script"]
    assert "&lt;script&gt;" in dash and scripts == [f"{site.url}/static/status.js"]  # the page's own script only


def test_the_dashboard_draws_the_summarys_histogram_and_links_each_report(site, browser):
    scores = {"alice": 100.0, "bob": 55.0, "carol": 58.0, "dave": 3.0}
    ids = {}
    for who, total in scores.items():
        b = browser()
        b.sign_in(site.tokens[who])
        upload(b)
        ids[who] = finish(site, make_report(who, total=total, diagnoses={"conv.dx": UNFLIPPED} if total < 60 else {}))
    b = browser()
    b.sign_in(site.instructor)
    assert b.last.url.path == "/dashboard"
    page = b.last.text
    summary = b.get("/api/class/summary").json()
    svg = re.search(r'<figure class="histogram">(.*?)</figure>', page, re.S).group(1)
    bars = [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [int(r.get("data-count")) for r in bars] == summary["score"]["histogram"]
    assert [int(r.get("data-count")) for r in bars] == [1, 0, 0, 0, 0, 2, 0, 0, 0, 1]  # by hand from `scores`
    assert page.count('class="chart"') == 1 + len(summary["problems"])
    assert f'<td class="num">3</td><td>{UNFLIPPED.message}' in page
    for sid in ids.values():
        assert f'href="{site.url}/submissions/{sid}">report</a>' in page
    assert 'href="/api/class/summary.csv"' in page
    assert b.get("/api/class/summary.csv").text.count("\n") == 5


def _confirm_form(page: str) -> dict:
    form = re.search(r'<form method="post" action="([^"]+)" class="inline">(.*?)</form>', page.split("<main>")[1], re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2)))
    return {"action": form.group(1), **fields}


def test_regrading_one_submission_asks_first_then_says_what_it_queued(site, browser):
    s = browser()
    s.sign_in(site.tokens["alice"])
    upload(s)
    sid = finish(site, make_report("alice"))
    b = browser()
    b.sign_in(site.instructor)
    r = b.post(f"/submissions/{sid}/regrade")
    assert r.status_code == 200
    assert f"Regrade submission #{sid} of alice?" in r.text
    assert site.store.queue()["counts"]["queued"] == 0  # asking queues nothing
    form = _confirm_form(r.text)
    assert form == {"action": f"{site.url}/submissions/{sid}/regrade", "csrf_token": b.csrf(), "confirm": "yes"}
    assert f'href="{site.url}/dashboard">Cancel</a>' in r.text
    r = b.post(f"/submissions/{sid}/regrade", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == f"{site.url}/dashboard?regraded=1&submission={sid}"
    page = b.follow().text
    assert f"Queued a regrade of submission #{sid}." in page
    jobs = site.store.queue()["jobs"]
    assert [(j["submission_id"], j["kind"], j["status"]) for j in jobs] == [(sid, "regrade", "queued")]
    assert '<span class="badge queued">queued</span></td><td>regrade</td>' in page
    # already queued: the question says so and offers nothing to confirm; confirming anyway queues nothing
    r = b.post(f"/submissions/{sid}/regrade")
    assert "It is already queued: nothing to queue." in r.text and "Confirm" not in r.text
    b.post(f"/submissions/{sid}/regrade", {"confirm": "yes"})
    assert f"Nothing queued: submission #{sid} is already queued or running." in b.follow().text
    assert site.store.queue()["counts"]["queued"] == 1
    assert b.post("/submissions/999/regrade", {"confirm": "yes"}).status_code == 404


def test_regrading_everyone_asks_with_the_count_then_says_what_it_queued(site, browser):
    ids = {}
    for who in ("alice", "bob", "carol"):
        s = browser()
        s.sign_in(site.tokens[who])
        upload(s)
        ids[who] = finish(site, make_report(who))
    s = browser()
    s.sign_in(site.tokens["dave"])
    upload(s)  # dave's is still queued: a regrade leaves it as it is
    b = browser()
    b.sign_in(site.instructor)
    r = b.post("/dashboard/regrade")
    assert r.status_code == 200
    assert "<h1>Regrade 3 submissions?</h1>" in r.text and "1 already queued or running stay as they are" in r.text
    assert _confirm_form(r.text)["action"] == f"{site.url}/dashboard/regrade"
    assert site.store.queue()["counts"]["queued"] == 1
    r = b.post("/dashboard/regrade", {"confirm": "yes"})
    assert r.headers["location"] == f"{site.url}/dashboard?regraded=3"
    assert "Queued 3 regrades." in b.follow().text
    queued = {j["submission_id"] for j in site.store.queue()["jobs"] if j["kind"] == "regrade"}
    assert queued == set(ids.values())
    r = b.post("/dashboard/regrade")
    assert "<h1>Regrade 0 submissions?</h1>" in r.text and "Confirm" not in r.text
    assert "Back to the dashboard" in r.text
    b.post("/dashboard/regrade", {"confirm": "yes"})
    assert "Nothing queued: every student&#39;s latest submission is already queued or running." in b.follow().text


def test_sign_out_ends_the_session(site, browser):
    b = browser()
    b.sign_in(site.tokens["alice"])
    r = b.post("/signout")
    assert r.status_code == 303
    assert b.get("/me").status_code == 303


def test_pages_carry_the_content_security_policy_and_run_no_inline_script(site, browser):
    b = browser()
    b.sign_in(site.instructor)
    for path in ("/signin", "/dashboard", "/me"):
        r = b.get(path)
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
        scripts = [a for t, a in Tags(r.text).tags if t == "script"]
        assert all(a.get("src") == f"{site.url}/static/status.js" for a in scripts)  # the one static script
        assert len(re.findall(r"<script[^>]*></script>", r.text)) == len(scripts)  # and nothing inline
        assert " style=" not in r.text  # inline styles would be blocked by style-src 'self'
    css = b.get("/static/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = b.get("/static/status.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")


class _Request:
    """Enough of a request for rendering a template outside the app (url_for only)."""

    def url_for(self, name, **params):
        return "/" + "/".join([name, *map(str, params.values())])


def test_a_minimal_case_is_shown_in_full_as_escaped_text():
    from grader.service.web.pages import templates

    mc = {
        "call": "conv_backward(x, w, dy)",
        "inputs": {"x": [[1.0, -2.0]], "w": [[3.0]], "dy": [[0.5, 1.5]]},
        "shapes": {"x": [1, 2], "w": [1, 1], "dy": [1, 2]},
        "got": [[1.5, 4.5]],
        "got_shape": [1, 2],
        "expected": [[-1.5, -4.5]],
        "expected_shape": [1, 2],
        "message": "relative error 2 <b>not bold</b>",
        "source": "shrink",
    }
    try:  # the report model's own type, where it has one; the template reads either alike
        from grader.report.model import MinimalCase

        mc = MinimalCase(**mc)
    except ImportError:
        pass
    report = make_report("alice", scores={"conv.dx": 0.0})
    problems = [p.model_copy(update={"minimal_case": mc}) if p.id == "conv.dx" else p for p in report.problems]
    report = report.model_copy(update={"problems": problems})
    sub = {"id": 1, "student_id": "alice", "status": "done", "submitted_at": "2026-11-26T12:00:00+00:00"}
    html = templates.get_template("report.html").render(
        request=_Request(), principal=None, csrf_token="t", refresh=None, sub=sub, report=report, max_failures=3
    )
    block = re.search(r'<div class="minimal_case">(.*?)</div>\s*</section>', html, re.S).group(1)
    fields = {
        name: (dims, value)
        for name, dims, value in re.findall(
            r'<b>(.*?)</b> <span class="muted">(.*?)</span><pre>(.*?)</pre>', block, re.S
        )
    }
    assert "<code>conv_backward(x, w, dy)</code> with" in block
    assert fields["x"] == ("1x2", "[[1, -2]]")
    assert fields["w"] == ("1x1", "[[3]]")
    assert fields["dy"] == ("1x2", "[[0.5, 1.5]]")
    assert fields["dx returned"] == ("1x2", "[[1.5, 4.5]]")
    assert fields["dx expected"] == ("1x2", "[[-1.5, -4.5]]")
    assert "relative error 2 &lt;b&gt;not bold&lt;/b&gt;" in block
    assert html.count('class="minimal_case"') == 1  # only where there is one


def test_an_instructor_lists_one_students_submissions_and_a_student_only_their_own(site, browser):
    for who in ("alice", "bob"):
        b = browser()
        b.sign_in(site.tokens[who])
        upload(b)
    bob_page = b.get("/me?student_id=alice").text  # the filter is the instructor's only
    assert bob_page.count('<tr class="status-') == 1 and '<td class="name">alice</td>' not in bob_page
    i = browser()
    i.sign_in(site.instructor)
    everyone = i.get("/me").text
    assert everyone.count('<tr class="status-') == 2
    only = i.get("/me", params={"student_id": "alice"}).text
    assert only.count('<tr class="status-') == 1
    assert '<td class="name">alice</td>' in only and '<td class="name">bob</td>' not in only
