"""Roster sync with NRPS from lti1p3platform: learners become students linked to their LMS ids (instructors, TAs and
mentors do not), each with a passback row; a learner the launch does not identify is matched through NRPS."""

from click.testing import CliRunner

from grader.cli import cli


def admin_lti(world, *args):
    return CliRunner().invoke(cli, ["admin", "lti", *args, "--data", str(world.service.data)])


def test_a_sync_before_any_launch_says_what_to_do(world):
    r = admin_lti(world, "sync-roster")
    assert r.exit_code == 2 and "open the tool from the course" in r.output and "Traceback" not in r.output


def test_roster_sync_adds_the_learners_and_links_the_known_ones(world, browser):
    assert browser.launch(world.lms, "u-prof").url.path == "/dashboard"  # shows the tool the course's NRPS
    r = admin_lti(world, "sync-roster")
    assert r.exit_code == 0, r.output
    assert "1 student(s) added, 5 linked to the roster" in r.output
    lti = world.tool.store.lti
    users = {u.sub: u for u in lti.users()}
    assert {s: u.student_id for s, u in users.items() if u.role == "student"} == {
        "u-alice": "alice",
        "u-bob": "bob",
        "u-carol": "carol",
        "u-dave": "dave",
        "u-dora": "dora",
        "u-eve": "S-9999",  # new: their SIS id
    }
    assert "u-tess" not in users and "u-maya" not in users  # a TA and a mentor are not students
    assert world.tool.store.is_student("S-9999")
    assert {p.user.sub for p in lti.passbacks.rows()} == {s for s, u in users.items() if u.role == "student"}

    again = admin_lti(world, "sync-roster")
    assert "0 student(s) added, 0 linked to the roster, 6 known before" in again.output

    eve = world.browser()
    page = eve.launch(world.lms, "u-eve")  # unknown before the sync, signed in after it
    assert page.url.path == "/me" and "signed in as <b>S-9999</b>" in page.text
    eve.close()


def test_a_learner_the_launch_does_not_identify_is_matched_through_nrps(world, browser):
    r = browser.launch(world.lms, "u-dora")
    assert r.url.path == "/me" and "signed in as <b>dora</b>" in r.text
    linked = world.tool.store.lti.user(world.tool.store.lti.platforms()[0].id, "u-dora")
    assert linked.matched_by == "nrps-sourcedid"


def test_the_status_page_syncs_with_its_button_and_a_csrf_token(world, browser):
    browser.launch(world.lms, "u-prof")
    page = browser.http.get(f"{world.tool.url}/lti/status")
    assert page.status_code == 200 and "Sync the roster" in page.text
    refused = browser.http.post(f"{world.tool.url}/lti/status/sync", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    done = browser.http.post(f"{world.tool.url}/lti/status/sync", data={"csrf_token": browser.csrf(page)})
    assert done.status_code == 200 and "roster sync: 1 added, 5 linked" in done.text
    student = world.browser()
    student.launch(world.lms, "u-alice")
    assert student.http.get(f"{world.tool.url}/lti/status").status_code == 403
    assert student.http.get(f"{world.tool.url}/lti/status.json").status_code == 403
    student.close()


def test_contacts_come_from_a_roster_csv(world, tmp_path):
    csv = tmp_path / "contacts.csv"
    csv.write_text("student_id,email,lis_person_sourcedid\nalice,ALICE@uni.edu,S-1\ndave,,S-4\n")
    r = admin_lti(world, "contacts", str(csv))
    assert r.exit_code == 0 and "2 student(s)' contacts recorded" in r.output
    assert world.tool.store.lti.students_by_contact(email="alice@UNI.edu", sourcedid="S-4") == {
        "email": {"alice"},
        "sourcedid": {"dave"},
    }
    csv.write_text("student_id,email\nzed,zed@uni.edu\n")
    r = admin_lti(world, "contacts", str(csv))
    assert r.exit_code == 2 and "not on the roster" in r.output
