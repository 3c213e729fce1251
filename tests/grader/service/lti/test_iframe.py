"""A launch inside the LMS's iframe in Chromium: the course page (lti1p3platform, http://127.0.0.1) frames the tool
(TLS, https://localhost, another site), the OIDC login and launch run in the frame, the student lands signed in and
uploads through the frame's form, with its CSRF token. Skipped without Chromium unless PA5_REQUIRE_BROWSER=1."""

import datetime as dt
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.grader.service.live import EXAMPLES
from tests.grader.service.lti.conftest import world_at
from tests.grader.service.test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, _sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def self_signed(folder) -> dict:
    """A certificate for localhost and 127.0.0.1, and uvicorn's options to serve with it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "tls.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {"ssl_keyfile": str(folder / "tls.key"), "ssl_certfile": str(folder / "tls.crt")}


def test_a_launch_inside_the_lms_iframe_signs_in_and_uploads(tmp_path, monkeypatch):
    sync_playwright = _sync_playwright()
    ssl = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ssl["ssl_certfile"])  # the LMS fetches the tool's JWKS over TLS
    with world_at(tmp_path / "w", ssl=ssl) as world, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 800}, ignore_https_errors=True)
        page = context.new_page()
        page.goto(f"{world.lms.url}/course?user=u-alice")
        frame = page.frame_locator("#tool")
        frame.locator("h1").wait_for(timeout=30_000)
        assert "Your submissions" in frame.locator("main").inner_text(), frame.locator("main").inner_text()
        from playwright.sync_api import expect

        expect(frame.locator("header .who")).to_contain_text("alice")
        tool_frame = next(f for f in page.frames if f.url.startswith(world.tool.url))
        assert tool_frame.url == f"{world.tool.url}/me"

        cookies = {c["name"]: c for c in context.cookies(world.tool.url)}
        for name in ("pa5_session", "pa5_csrf"):
            assert (cookies[name]["sameSite"], cookies[name]["secure"], cookies[name]["httpOnly"]) == (
                "None",
                True,
                True,
            ), cookies[name]

        frame.locator("input[type=file]").set_input_files(str(EXAMPLES / "correct" / "backprop.py"))
        frame.get_by_role("button", name="Submit for grading").click()
        expect(frame.locator("table.subs")).to_contain_text("backprop.py", timeout=30_000)
        assert tool_frame.url == f"{world.tool.url}/me"
        (sub,) = world.tool.store.list_submissions(student_id="alice")
        assert sub.filename == "backprop.py"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "lti-iframe.png"), full_page=True)

        frame.get_by_role("button", name="Sign out").click()  # also inside the frame, where its cookie is partitioned
        expect(frame.locator("h1")).to_have_text("Sign in", timeout=30_000)
        assert "pa5_session" not in {c["name"] for c in context.cookies(world.tool.url)}

        browser.close()
