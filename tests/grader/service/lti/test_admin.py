"""`admin lti` through the command line: registering, listing and removing platforms, and rotating the tool's key
while the LMS keeps verifying what the tool signs (it fetches the JWKS again for each token request)."""

import os
import stat

import httpx
from click.testing import CliRunner

from grader.cli import cli
from grader.service.lti import keys
from tests.grader.service.lti.helpers import launched, posted, standing


def lti(data, *args):
    return CliRunner().invoke(cli, ["admin", "lti", *args, "--data", str(data)])


def test_add_list_and_remove_a_platform(service_data):
    data = service_data.data
    args = [
        "--issuer=https://moodle.uni.edu",
        "--client-id=AbC",
        "--deployment-id=4",
        "--auth-login-url=https://moodle.uni.edu/mod/lti/auth.php",
        "--auth-token-url=https://moodle.uni.edu/mod/lti/token.php",
        "--keyset-url=https://moodle.uni.edu/mod/lti/certs.php",
    ]
    r = lti(data, "add-platform", *args)
    assert r.exit_code == 0, r.output
    assert "platform 1: https://moodle.uni.edu, client id AbC, deployment 4" in r.output
    assert "framed by: https://moodle.uni.edu" in r.output
    (key,) = (data / keys.FOLDER).iterdir()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and stat.S_IMODE(os.stat(key.parent).st_mode) == 0o700

    again = lti(data, "add-platform", *args)
    assert again.exit_code == 2 and "registered already" in again.output
    bad = lti(data, "add-platform", *args[:-1], "--keyset-url=ftp://x")
    assert bad.exit_code == 2 and "the keyset URL" in bad.output

    canvas = lti(
        data,
        "add-platform",
        "--issuer=https://canvas.instructure.com",
        "--client-id=10000000000042",
        "--deployment-id=7:abc",
        "--auth-login-url=https://sso.canvaslms.com/api/lti/authorize_redirect",
        "--auth-token-url=https://sso.canvaslms.com/login/oauth2/token",
        "--keyset-url=https://sso.canvaslms.com/api/lti/security/jwks",
        "--frame-origin=https://uni.instructure.com",
    )
    assert canvas.exit_code == 0 and "framed by: https://uni.instructure.com" in canvas.output
    listed = lti(data, "list")
    assert "https://moodle.uni.edu\tclient AbC" in listed.output and "10000000000042" in listed.output
    assert "(signing)" in listed.output

    assert lti(data, "remove", "1").exit_code == 0
    assert "moodle" not in lti(data, "list").output
    gone = lti(data, "remove", "1")
    assert gone.exit_code == 2 and "no platform 1" in gone.output


def test_a_rotated_key_signs_while_the_old_one_stays_published(world, monkeypatch):
    from grader.service.lti import scores

    table = {"alice": standing(50.0)}
    monkeypatch.setattr(scores, "standing", lambda store, sid, now, **kw: table.get(sid))
    launched(world, "u-alice")
    assert world.tool.sweep().sent == 1
    old = keys.all_keys(world.service.data)[0].kid

    r = lti(world.service.data, "rotate-key")
    assert r.exit_code == 0 and "the older keys stay in the JWKS" in r.output
    new = keys.signing_key(world.service.data).kid
    published = {k["kid"] for k in httpx.get(f"{world.tool.url}/lti/jwks").json()["keys"]}
    assert published == {old, new} and old != new
    table["alice"] = standing(60.0, submission_id=8)
    assert world.tool.sweep().sent == 1  # the LMS verified the new key's assertion

    retired = lti(world.service.data, "rotate-key", "--retire")
    assert retired.exit_code == 0 and "retired 1 key(s)" in retired.output
    assert {k["kid"] for k in httpx.get(f"{world.tool.url}/lti/jwks").json()["keys"]} == {new}
    table["alice"] = standing(70.0, submission_id=9)
    assert world.tool.sweep().sent == 1
    assert [s["scoreGiven"] for s in posted(world)] == [50.0, 60.0, 70.0]


def test_a_real_serve_publishes_the_tool(service_data):
    """`pa5-grader serve` as a process: the LTI routes are there, with the key add-platform made."""
    from tests.grader.service.live import serve_process

    args = ["--issuer=https://lms.uni.edu", "--client-id=c", "--deployment-id=d"]
    args += [f"--{k}=https://lms.uni.edu/{k}" for k in ("auth-login-url", "auth-token-url", "keyset-url")]
    assert lti(service_data.data, "add-platform", *args).exit_code == 0
    kid = keys.signing_key(service_data.data).kid
    with serve_process(service_data.data, "--workers", "0") as (_, url):
        assert [k["kid"] for k in httpx.get(f"{url}/lti/jwks").json()["keys"]] == [kid]
        assert httpx.get(f"{url}/lti/config").json()["target_link_uri"] == f"{url}/lti/launch"
