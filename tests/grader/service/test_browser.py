"""The pages in a real browser: Playwright drives Debian's chromium against a real `pa5-grader serve` grading with
the process sandbox. Screenshots go to tests/.artifacts/screenshots (PA5_SCREENSHOTS overrides; with
PA5_DOCS_SCREENSHOTS=1 they are also copied to docs/screenshots for the README)."""

import csv
import io
import os
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
    roster = ["alice", "bob", "carol", *CLASS]
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


def submit(url: str, token: str, folder: Path) -> int:
    """Submit a folder through the API as `pa5-grader submit` does (a .zip); returns the submission id."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(folder.glob("*.py")):
            z.write(f, f.name)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        r = c.post("/api/submissions", files={"file": ("submission.zip", buf.getvalue())})
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
    """Upload from the student page, then let its meta refresh bring the report link (no reload by the test)."""
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
    row = page.locator("table.students tr", has_text="carol")
    row.get_by_role("button", name="regrade").click()
    page.wait_for_load_state()
    assert page.url.endswith("/dashboard")
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
