"""The pages in a real browser: Playwright drives Debian's chromium against a real `pa5-grader serve` grading with
the process sandbox. Screenshots go to tests/.artifacts/screenshots (PA5_SCREENSHOTS overrides; with
PA5_DOCS_SCREENSHOTS=1 they are also copied to docs/screenshots for the README)."""

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from grader.report.model import ProblemReport
from tests.grader.service.live import EXAMPLES, ROOT, serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("PA5_CHROMIUM", "/usr/bin/chromium"))  # Debian's package; never a download
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The rest of the class, graded through the API so the dashboard has something to draw.
CLASS = {
    "dave": "transposed_fc",
    "erin": "naive_softmax",
    "frank": "p_without_t",
    "gina": "starter",
    "hal": "helpers_split",
    "ivy": "correct_float32_loops",
}
# Realistic content for the narrow-screen test: ids and file names as long as registrars and students make them.
LONG_ID = "s2026-cs4670-" + "exchange-student-from-the-eth-zurich-" * 2 + "0123456789"
LONG_NAME = "backprop_final_FINAL_really_final_v7_after_office_hours_" * 2 + ".py"
SHOTS = Path(os.environ.get("PA5_SCREENSHOTS") or ROOT / "tests" / ".artifacts" / "screenshots")
DOCS_SHOTS = ROOT / "docs" / "screenshots"
EVIL = '<script>alert("xss");window.__pwned=1</script><img src=x onerror="alert(2);window.__pwned=2">'
EVIL_SUBMISSION = f"""
import numpy as np
print({EVIL!r})

def conv_backward(x, w, dy):
    raise ValueError({EVIL!r})

def fc_backward(x, W, dy):
    return (W.T @ dy).reshape(x.shape), np.outer(dy, x)

def softmax_loss_backward(s, y):
    p = np.exp(s - s.max())
    p /= p.sum()
    p[y] -= 1
    return p
"""


def _sync_playwright():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, why = None, "the Python package playwright is not installed (pip install -e '.[test]')"
    if why is None and not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
    if why:
        if os.environ.get("PA5_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (PA5_REQUIRE_BROWSER=1) but cannot run: {why}")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = _sync_playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, check=True, timeout=120
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `pa5-grader serve` on a free loopback port, two workers, process sandbox; tokens from the admin CLI."""
    _sync_playwright()  # skip before starting anything when there is no browser to drive it
    tmp = tmp_path_factory.mktemp("browser")
    data = tmp / "data"
    instructor = _cli("admin", "init", "--data", str(data)).stdout.strip().splitlines()[-1]
    roster = ["alice", "bob", "carol", LONG_ID, *CLASS]
    (tmp / "roster.csv").write_text("student_id\n" + "\n".join(roster) + "\n")
    _cli("admin", "students", "--data", str(data), str(tmp / "roster.csv"), "--out", str(tmp / "tokens.csv"))
    with (tmp / "tokens.csv").open() as f:
        tokens = {r["student_id"]: r["token"] for r in csv.DictReader(f)}
    tokens["instructor"] = instructor
    # These tests read whole reports, hidden cases included (the calendar's rules have their own tests).
    _cli("admin", "assignment", "--data", str(data), "--release", "immediately")
    with serve_process(data, "--workers", "2") as (_, url):
        print(f"\nscreenshots: {SHOTS}")
        yield url, tokens


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory):
    """A real `serve --workers 0`: it accepts submissions and grades none, so they stay queued."""
    _sync_playwright()
    tmp = tmp_path_factory.mktemp("idle")
    data = tmp / "data"
    _cli("admin", "init", "--data", str(data))
    (tmp / "roster.csv").write_text("student_id\nalice\nbob\n")
    _cli("admin", "students", "--data", str(data), str(tmp / "roster.csv"), "--out", str(tmp / "tokens.csv"))
    with (tmp / "tokens.csv").open() as f:
        tokens = {r["student_id"]: r["token"] for r in csv.DictReader(f)}
    with serve_process(data, "--workers", "0") as (_, url):
        yield url, tokens, data


@pytest.fixture
def page(chromium):
    """A fresh browser context (no cookies) whose dialogs are recorded, never answered."""
    context = chromium.new_context(viewport={"width": 1200, "height": 640})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def shot(page, name: str, *, docs: bool = False) -> Path:
    """A full-page PNG in SHOTS; with docs, one the README shows, copied there when PA5_DOCS_SCREENSHOTS=1."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("PA5_DOCS_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SHOTS / path.name)
    return path


def submit(url: str, token: str, folder: Path, name: str = "submission.zip") -> int:
    """Submit a folder through the API as `pa5-grader submit` does (a .zip); returns the submission id."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.glob("*.py")):
            z.write(f, f.name)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        r = c.post("/api/submissions", files={"file": (name, buf.getvalue())})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait(url: str, token: str, sid: int, *, unless_started: str | None = None) -> dict:
    """The submission once graded (and, with unless_started, graded again since that report)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for _ in range(1200):
            state = c.get(f"/api/submissions/{sid}").json()
            again = state["report"] and state["report"]["timing"]["started"] != unless_started
            if state["status"] not in ("queued", "running") and (unless_started is None or again):
                return state
            time.sleep(0.1)
    raise AssertionError(f"submission {sid} not graded in time: {state['status']}")


def sign_in(page, url: str, token: str, screenshot: str | None = None) -> None:
    page.goto(url + "/")
    assert page.url.endswith("/signin")
    if screenshot:
        shot(page, screenshot, docs=True)
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def upload_and_wait(page, path: Path) -> None:
    """Upload from the student page, then let its status refresh bring the report link (no reload by the test)."""
    from playwright.sync_api import expect

    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="report")).to_be_visible(timeout=120_000)


def test_a_student_signs_in_uploads_and_reads_the_diagnosis(server, page):
    url, tokens = server
    sign_in(page, url, tokens["alice"], screenshot="signin")
    shot(page, "student-empty")
    page.set_input_files("input[type=file]", str(EXAMPLES / "unflipped_kernel" / "backprop.py"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_load_state()
    assert page.locator(".badge").first.inner_text() in ("queued", "running", "done")
    shot(page, "student-queued", docs=True)
    from playwright.sync_api import expect

    expect(page.get_by_role("link", name="report")).to_be_visible(timeout=120_000)
    shot(page, "student-submissions", docs=True)
    page.get_by_role("link", name="report").click()
    diagnosis = page.locator("#p-conv-dx .diagnosis")
    expect(diagnosis).to_contain_text("without flipping it")
    expect(page.locator("table.problems")).to_contain_text("conv.dx")
    assert "worst" in page.locator("#p-conv-dx table.cases").inner_text().lower()
    if "minimal_case" in ProblemReport.model_fields:  # the report model gains it with the feedback work
        expect(page.locator("#p-conv-dx .minimal_case")).to_contain_text("conv_backward(x, w, dy)")
    shot(page, "report", docs=True)
    assert page.dialogs == []


def test_an_instructor_sees_the_histogram_and_regrades(server, page):
    from playwright.sync_api import expect

    url, tokens = server
    sid = submit(url, tokens["carol"], EXAMPLES / "correct")
    ids = {who: submit(url, tokens[who], EXAMPLES / example) for who, example in CLASS.items()}
    assert all(wait(url, tokens[who], i)["status"] == "done" for who, i in ids.items())
    before = wait(url, tokens["carol"], sid)["report"]["timing"]["started"]
    sign_in(page, url, tokens["instructor"])
    assert page.url.endswith("/dashboard")
    bars = page.locator("figure.histogram svg rect.bar")
    assert bars.count() == 10
    counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(10)]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['instructor']}"}) as c:
        summary = c.get("/api/class/summary").json()
    assert counts == summary["score"]["histogram"] and counts[-1] >= 1  # carol's full marks
    assert sum(counts) == summary["students"] >= len(CLASS) + 1
    assert max(bars.nth(i).bounding_box()["height"] for i in range(10)) > 50  # drawn, not just present
    mistakes = page.locator("table.mistakes").inner_text()
    assert summary["common_mistakes"]
    for m in summary["common_mistakes"]:
        assert m["mistake"] in mistakes
    shot(page, "dashboard", docs=True)
    row = page.locator("table.gradebook tr", has_text="carol")
    row.get_by_role("button", name="regrade").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(f"Regrade submission #{sid} of carol?")
    assert page.dialogs == []  # asked on a page, not in a script's dialog
    shot(page, "regrade-confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/dashboard?regraded=1&submission={sid}")
    expect(page.locator(".flash")).to_have_text(f"Queued a regrade of submission #{sid}.")
    shot(page, "dashboard-after-regrade")
    wait(url, tokens["carol"], sid, unless_started=before)  # the regrade replaced the report


def test_the_detector_sees_a_script_that_runs(page):
    """The XSS test's own check can fail: an unescaped script on a page without CSP sets the flag and alerts."""
    page.set_content(f"<p>{EVIL}</p>")
    page.wait_for_function("window.__pwned !== undefined")
    assert page.evaluate("window.__pwned") in (1, 2)
    assert page.dialogs


def test_script_in_student_output_and_exceptions_never_runs(server, page, tmp_path):
    url, tokens = server
    evil = tmp_path / "backprop.py"
    evil.write_text(EVIL_SUBMISSION)
    sign_in(page, url, tokens["bob"])
    upload_and_wait(page, evil)
    page.get_by_role("link", name="report").click()
    page.wait_for_load_state()
    output = page.locator("pre.output")
    assert EVIL in output.inner_text()  # shown, as text
    assert EVIL in page.locator("section.errors").inner_text()  # the exception, told once under Errors
    assert page.locator("main script, main img").count() == 0
    page.wait_for_timeout(500)  # give an injected onerror the time to fire, were there one
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    shot(page, "report-escaped", docs=True)


def _queue_directly(data: Path, student_id: str) -> None:
    """A submission left queued, written to the store as the upload route would (and past its rate limit)."""
    from grader.service.access.uploads import pack_files
    from grader.service.ops.settings import database_url_of
    from grader.service.queue.store import Store

    store = Store(database_url_of(data, None))
    try:
        files = {"backprop.py": (EXAMPLES / "starter" / "backprop.py").read_bytes()}
        store.add_submission(student_id=student_id, filename="earlier.py", files_zip=pack_files(files), sha256="0" * 64)
    finally:
        store.engine.dispose()


def test_the_chosen_file_stays_while_the_status_refreshes(idle_server, page, tmp_path):
    from playwright.sync_api import expect

    url, tokens, data = idle_server
    _queue_directly(data, "alice")  # queued for good: this service grades nothing
    sign_in(page, url, tokens["alice"])
    expect(page.locator("#status [data-active]")).to_have_count(1)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    chosen = tmp_path / "backprop.py"
    chosen.write_bytes((EXAMPLES / "correct" / "backprop.py").read_bytes())
    page.set_input_files("input[type=file]", str(chosen))
    # the list itself came back at least twice (no eval under this CSP: a polling assertion on the counter)
    expect(page.locator("#status")).to_have_attribute("data-refreshes", re.compile(r"^([2-9]|\d\d+)$"), timeout=60_000)
    assert page.evaluate("window.sameDocument") is True
    assert page.eval_on_selector("input[type=file]", "e => Array.from(e.files, f => f.name)") == ["backprop.py"]
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_load_state()
    rows = page.locator("table.subs tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("backprop.py")
    expect(rows.first.locator(".badge")).to_have_text("queued")
    expect(rows.nth(1)).to_contain_text("earlier.py")
    assert page.dialogs == []


def test_without_scripts_the_whole_page_refreshes(idle_server, chromium):
    url, tokens, data = idle_server
    _queue_directly(data, "bob")
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, url, tokens["bob"])
        assert page.locator("#status [data-active]").count() == 1
        with page.expect_navigation(timeout=30_000):  # the <noscript> meta refresh
            pass
        assert page.url.endswith("/me")
    finally:
        context.close()


def test_a_too_large_upload_ends_on_a_page_with_a_way_back(idle_server, page, tmp_path):
    from playwright.sync_api import expect

    url, tokens, _ = idle_server
    sign_in(page, url, tokens["bob"])
    big = tmp_path / "backprop.py"
    big.write_bytes(b"#" * (3 << 20))  # the limit is 1 MiB
    page.set_input_files("input[type=file]", str(big))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(re.compile(r"^413: .*Too Large$"))  # the phrase depends on Python
    expect(page.locator("p.error")).to_contain_text("larger than 1048576 bytes, the upload limit")
    shot(page, "upload-too-large")
    page.get_by_role("link", name="Back to your submissions").click()
    page.wait_for_load_state()
    assert page.url.endswith("/me")
    expect(page.get_by_role("button", name="Submit for grading")).to_be_visible()


RAISES = """
def conv_backward(x, w, dy):
    raise ValueError("the_shapes_of_x_and_w_do_not_agree_" * 6)

def fc_backward(x, W, dy):
    raise ValueError("no")

def softmax_loss_backward(s, y):
    raise ValueError("no")
"""


def test_no_page_scrolls_sideways_on_a_phone(server, chromium, tmp_path):
    url, tokens = server
    folder = tmp_path / "raises"
    folder.mkdir()
    (folder / "backprop.py").write_text(RAISES)
    sid = submit(url, tokens[LONG_ID], folder, name=LONG_NAME.replace(".py", ".zip"))
    assert wait(url, tokens[LONG_ID], sid)["report"]["errors"]
    pages = {  # who signs in -> name: path
        None: {"signin": "/signin"},
        LONG_ID: {
            "student": "/me",
            "report": f"/submissions/{sid}",
            "code": f"/submissions/{sid}/files",
            "error": "/submissions/999999",
        },
        "instructor": {"dashboard": "/dashboard", "one-student": f"/me?student_id={LONG_ID}"},
    }
    widths = {}
    for who, paths in pages.items():
        context = chromium.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            if who:
                sign_in(page, url, tokens[who])
            for name, path in paths.items():
                page.goto(url + path)
                shot(page, f"phone-{name}")
                widths[name] = page.evaluate("document.documentElement.scrollWidth")
        finally:
            context.close()
    assert widths == {name: min(w, 390) for name, w in widths.items()}, widths
