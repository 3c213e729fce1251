"""The code view: a submission's files as a highlighted page, a JSON list and the stored zip; a student sees only
their own, and another student's answers exactly as a missing one."""

import io
import re
import zipfile

import pytest

from grader.service.access.uploads import pack_files
from grader.service.web.code import MAX_FILE_SHOWN, MAX_PAGE_SHOWN, shown_files
from tests.grader.service.sample import make_report
from tests.grader.service.web import test_pages
from tests.grader.service.web.test_pages import GOOD, Tags, finish, upload

site, browser = test_pages.site, test_pages.browser  # the fixtures

EVIL_NAME = 'notes/<img src=x onerror="window.pwned=1">.txt'
BIG = "".join(f"# line {i:06d} of a long file\n" for i in range(12_000)).encode()  # over MAX_FILE_SHOWN
# What the student zips (a top folder, as zipping my_pa5/ gives); the service stores it without the folder.
FILES = {
    "backprop.py": GOOD,
    EVIL_NAME: b"hello <b>not bold</b>\n",
    "weights.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}\x00\xff\xfe",
    "big.txt": BIG,
    "latin1.txt": "caf\xe9\n".encode("latin-1"),
}


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"my_pa5/{name}", data)
    return buf.getvalue()


@pytest.fixture
def alices(site, browser):
    """Alice's submission of FILES, graded; returns (her browser, its id)."""
    b = browser()
    b.sign_in(site.tokens["alice"])
    assert upload(b, zipped(FILES), name="my_pa5.zip").status_code == 303
    return b, finish(site, make_report("alice"))


def test_the_page_shows_every_file_highlighted_and_escaped(site, alices):
    b, sid = alices
    r = b.get(f"/submissions/{sid}/files")
    assert r.status_code == 200
    page = r.text
    names = [re.sub(r"<.*?>", "", h) for h in re.findall(r"<h2><code>(.*?)</code>", page)]
    assert names == sorted(n.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") for n in FILES)
    assert "window.pwned" in page and "<img" not in page  # the name, escaped
    tags = [t for t, _ in Tags(page).tags]
    assert "img" not in tags and "script" not in tags and " style=" not in page
    section = page.split("<code>backprop.py</code>")[2]  # after the table of contents, the file's own heading
    assert '<span class="kn">import</span>' in section and '<span class="linenos">1</span>' in section
    assert "hello &lt;b&gt;not bold&lt;/b&gt;" in page
    assert f"binary, {len(FILES['weights.npy'])} bytes" in page
    assert f"binary, {len(FILES['latin1.txt'])} bytes" in page  # not UTF-8: not shown as text
    assert f"Showing the first {MAX_FILE_SHOWN} of {len(BIG)} bytes" in page
    assert "line 000000" in page and "line 011999" not in page
    assert f'href="/api/submissions/{sid}/files.zip"' in page
    css = b.get("/static/code.css")
    assert (
        css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ".highlight .kn" in css.text
    )


def test_the_report_and_the_list_link_the_files(site, alices):
    b, sid = alices
    link = f'href="{site.url}/submissions/{sid}/files"'
    assert link in b.get(f"/submissions/{sid}").text
    assert link in b.get("/me").text


def test_the_json_lists_names_and_sizes_and_the_zip_is_the_stored_one(site, alices):
    b, sid = alices
    listing = b.get(f"/api/submissions/{sid}/files").json()
    assert listing["files"] == [{"name": n, "size": len(FILES[n])} for n in sorted(FILES)]
    r = b.get(f"/api/submissions/{sid}/files.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == f'attachment; filename="submission-{sid}.zip"'
    assert r.content == site.store.files_zip(sid)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert {i.filename: z.read(i) for i in z.infolist()} == FILES


@pytest.mark.parametrize(
    "path", ["/submissions/{}/files", "/api/submissions/{}/files", "/api/submissions/{}/files.zip"]
)
def test_another_students_files_answer_as_a_missing_submission(site, browser, alices, path):
    _, sid = alices
    bob = browser()
    bob.sign_in(site.tokens["bob"])
    theirs, missing = bob.get(path.format(sid)), bob.get(path.format(sid + 1000))
    assert theirs.status_code == missing.status_code == 404
    assert re.sub(r"submission \d+", "", theirs.text) == re.sub(r"submission \d+", "", missing.text)
    assert "alice" not in theirs.text and "backprop" not in theirs.text
    instructor = browser()
    instructor.sign_in(site.instructor)
    assert instructor.get(path.format(sid)).status_code == 200
    if path.startswith("/api/"):  # with a bearer token, the same (pages take only the session cookie)
        with site.client("bob") as c:
            assert c.get(path.format(sid)).status_code == 404
        with site.client("instructor") as c:
            assert c.get(path.format(sid)).status_code == 200


def test_without_signing_in_there_are_no_files(site, browser, alices):
    _, sid = alices
    b = browser()
    r = b.get(f"/submissions/{sid}/files")
    assert r.status_code == 303 and r.headers["location"].endswith("/signin")
    assert b.get(f"/api/submissions/{sid}/files.zip").status_code == 401


def test_a_page_holds_at_most_its_budget_and_lists_the_rest():
    files = {f"part{i}.txt": BIG for i in range(6)}
    shown = shown_files(pack_files(files))
    assert [(f.name, f.size) for f in shown] == [(n, len(BIG)) for n in sorted(files)]
    assert [f.shown for f in shown] == [MAX_FILE_SHOWN] * 4 + [0, 0]
    assert [f.skipped for f in shown] == [False] * 4 + [True] * 2
    assert sum(f.shown for f in shown) <= MAX_PAGE_SHOWN
