"""Launch from an LMS (lti1p3platform on loopback) into a real app: learners land signed in on their submissions,
instructors and TAs on the dashboard; a forged, replayed or expired id_token is refused with a page; an unknown
learner is told what to ask for."""

import json

import jwt
import pytest

from tests.grader.service.lti.lms import rsa_pem


def test_a_learner_lands_signed_in_on_their_submissions(world, browser):
    r = browser.launch(world.lms, "u-alice")
    assert r.status_code == 200, r.text
    assert r.url.path == "/me"
    assert "Your submissions" in r.text and "signed in as <b>alice</b>" in r.text
    api = browser.http.get(f"{world.tool.url}/api/submissions")  # the session cookie works for the API too
    assert api.status_code == 200 and api.json()["submissions"] == []


def test_an_instructor_and_a_ta_land_on_the_dashboard(world):
    for user in ("u-prof", "u-tess"):
        b = world.browser()
        r = b.launch(world.lms, user)
        assert r.status_code == 200, r.text
        assert r.url.path == "/dashboard" and "Class dashboard" in r.text
        assert b.http.get(f"{world.tool.url}/api/class/summary").status_code == 200
        b.close()


@pytest.mark.parametrize(
    ("user", "student", "step"),
    [("u-alice", "alice", "sourcedid"), ("u-bob", "bob", "contact-email"), ("u-carol", "carol", "contact-sourcedid")],
)
def test_each_step_of_the_matching_rule_signs_in_its_student(world, browser, user, student, step):
    r = browser.launch(world.lms, user)
    assert f"signed in as <b>{student}</b>" in r.text
    linked = world.tool.store.lti.user(world.tool.store.lti.platforms()[0].id, user)
    assert (linked.student_id, linked.matched_by) == (student, step)
    other = world.browser()
    again = other.launch(world.lms, user)  # step 1 from now on: the linked sub
    assert f"signed in as <b>{student}</b>" in again.text
    other.close()


def test_an_unknown_learner_gets_a_page_saying_what_to_ask(world, browser):
    r = browser.launch(world.lms, "u-eve")
    assert r.status_code == 403
    assert "ask your instructor to add you" in r.text
    for shown in ("Eve Unknown", "eve@uni.edu", "S-9999", "u-eve", "sync-roster"):
        assert shown in r.text
    assert "Traceback" not in r.text
    assert browser.http.get(f"{world.tool.url}/api/submissions").status_code == 401  # not signed in


def test_a_mentor_is_refused_with_their_role(world, browser):
    r = browser.launch(world.lms, "u-maya")
    assert r.status_code == 403 and "Mentor" in r.text and "learners, instructors and teaching assistants" in r.text


def test_a_replayed_launch_is_refused(world, browser):
    assert browser.launch(world.lms, "u-alice").url.path == "/me"
    replay = browser.post_form()  # the same id_token and state, with the same cookies
    assert replay.status_code == 403, replay.text
    assert "used already" in replay.text and "Traceback" not in replay.text


def _resign(token: str, key: str, **changes) -> str:
    header = jwt.get_unverified_header(token)
    body = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": header["kid"]})


@pytest.mark.parametrize(
    ("what", "changes", "words"),
    [
        ("forged", {}, "Signature verification failed"),
        ("expired", {"exp": 1_000_000_000, "iat": 999_999_000}, "expired"),
        ("no exp", {"exp": None}, "exp"),
        ("other audience", {"aud": "someone-else", "azp": None}, "Registration not found"),
        ("admin claims", {"https://purl.imsglobal.org/spec/lti/claim/roles": ["Administrator"]}, "Signature"),
    ],
)
def test_a_tampered_id_token_is_refused(world, browser, what, changes, words):
    browser.open_from_lms(world.lms, "u-alice")
    _, fields = browser.form
    key = rsa_pem()[0] if what in ("forged", "admin claims") else world.lms.private_pem
    forged = {**fields, "id_token": _resign(fields["id_token"], key, **changes)}
    r = browser.post_form(forged)
    assert 400 <= r.status_code < 500, r.text
    assert words in r.text and "Traceback" not in r.text, r.text[r.text.find("<main>") :]
    assert browser.http.get(f"{world.tool.url}/api/submissions").status_code == 401


def test_a_launch_without_the_login_state_cookie_is_refused(world, browser):
    browser.open_from_lms(world.lms, "u-alice")
    browser.http.cookies.clear()
    r = browser.post_form()
    assert r.status_code == 403 and "cookie did not come back" in r.text


def test_garbage_is_a_4xx_page(world, browser):
    for data in ({}, {"state": "x"}, {"state": "state-x", "id_token": "a.b"}, {"state": "s", "id_token": "@@.@@.@@"}):
        r = browser.http.post(f"{world.tool.url}/lti/launch", data=data)
        assert 400 <= r.status_code < 500 and "Traceback" not in r.text, (data, r.status_code, r.text)


def test_opening_the_launch_url_by_hand_says_where_to_start(world, browser):
    r = browser.http.get(f"{world.tool.url}/lti/launch")
    assert r.status_code == 405 and "open the PA5 grader from your course" in r.text


def test_a_login_from_an_unregistered_platform_says_so(world, browser):
    r = browser.http.get(
        f"{world.tool.url}/lti/login", params={"iss": "https://lms.elsewhere.edu", "login_hint": "x", "client_id": "c"}
    )
    assert r.status_code == 400 and "not registered" in r.text and "add-platform" in r.text


def test_the_jwks_and_the_config_name_the_tool(world, browser):
    keys = browser.http.get(f"{world.tool.url}/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    config = browser.http.get(f"{world.tool.url}/lti/config").json()
    assert config["oidc_initiation_url"] == f"{world.tool.url}/lti/login"
    assert config["target_link_uri"] == config["redirect_uris"][0] == f"{world.tool.url}/lti/launch"
    assert config["public_jwk_url"] == f"{world.tool.url}/lti/jwks"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    json.dumps(config)


def test_only_lti_pages_may_be_framed_and_only_by_the_platform(world, browser):
    plain = browser.http.get(f"{world.tool.url}/signin")
    assert "frame-ancestors 'none'" in plain.headers["content-security-policy"]
    r = browser.launch(world.lms, "u-alice")
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {world.lms.url}" in csp and "default-src 'none'" in csp
    api = browser.http.get(f"{world.tool.url}/api/submissions")
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]
