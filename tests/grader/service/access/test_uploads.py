import io
import os
import stat
import zipfile

import pytest

from grader.service.access.uploads import UploadRejected, check_upload, pack_files, unpack_files
from grader.submission import load_submission
from tests.grader.service.live import EXAMPLES

GOOD = b"def conv_backward(x, w, dy):\n    return x, w\n"
LIMITS = dict(max_bytes=1 << 20, max_members=20, max_unpacked=1 << 20)


def zip_of(*entries) -> bytes:
    """entries: (name, bytes) or (ZipInfo, bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def symlink_entry(name: str, target: str):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def check(tmp_path, filename, data, **limits):
    return check_upload(filename=filename, data=data, tmp_dir=tmp_path / "tmp", **{**LIMITS, **limits})


BAD = [
    ("too large", "backprop.py", b"#" * ((1 << 20) + 1), {}, 413, "limit is 1048576"),
    ("empty", "backprop.py", b"", {}, 400, "empty"),
    ("not py or zip", "backprop.txt", b"x = 1\n", {}, 400, "a .py file, a Jupyter notebook (.ipynb) or a .zip"),
    ("not a zip", "sub.zip", b"PK\x03\x04 this is not a zip", {}, 400, "not a readable zip"),
    ("absolute path", "sub.zip", zip_of(("backprop.py", GOOD), ("/etc/cron.d/x", b"x")), {}, 422, "absolute path"),
    ("windows drive", "sub.zip", zip_of(("backprop.py", GOOD), ("C:/x.py", GOOD)), {}, 422, "absolute path"),
    ("dot dot", "sub.zip", zip_of(("backprop.py", GOOD), ("a/../../evil.py", GOOD)), {}, 422, "leaving its folder"),
    ("backslash dot dot", "sub.zip", zip_of(("backprop.py", GOOD), ("..\\evil.py", GOOD)), {}, 422, "leaving"),
    ("symlink", "sub.zip", zip_of(("backprop.py", GOOD), symlink_entry("data", "/etc/passwd")), {}, 422, "link"),
    ("too many members", "sub.zip", zip_of(*[(f"f{i}.txt", b"x") for i in range(21)]), {}, 413, "21 entries"),
    (
        "zip bomb",
        "sub.zip",
        zip_of(("backprop.py", GOOD), ("zeros.bin", b"\0" * (2 << 20))),
        {},
        413,
        "unpacks to",
    ),
    ("no backprop.py", "sub.zip", zip_of(("solution.py", GOOD)), {}, 422, "no backprop.py"),
    ("two below", "sub.zip", zip_of(("a/backprop.py", GOOD), ("b/backprop.py", GOOD)), {}, 422, "more than one"),
    (
        "two down",
        "sub.zip",
        zip_of(("a/b/backprop.py", GOOD), ("c.py", GOOD)),
        {},
        422,
        "the one in a/b/backprop.py lies deeper",
    ),
    ("latin-1 py", "backprop.py", "# caf\xe9\nx = 1\n".encode("latin-1"), {}, 422, "not UTF-8"),
    ("syntax error", "backprop.py", b"def f(:\n", {}, 422, "not valid Python"),
    ("null byte", "backprop.py", b"x = 1\0\n", {}, 422, "not valid Python"),
    ("bad helper", "sub.zip", zip_of(("backprop.py", GOOD), ("helpers.py", b"def (")), {}, 422, "helpers.py"),
    # Names a file system refuses (ENAMETOOLONG), refused before anything is written: the rule is per component
    # (255 bytes, counted in UTF-8) and per path (depth and length), wherever the long part sits.
    ("300-char name", "sub.zip", zip_of(("backprop.py", GOOD), ("a" * 300 + ".py", GOOD)), {}, 422, "255 bytes"),
    ("300-char folder", "sub.zip", zip_of(("backprop.py", GOOD), ("a" * 300 + "/x.py", GOOD)), {}, 422, "255 bytes"),
    ("long in bytes", "sub.zip", zip_of(("backprop.py", GOOD), ("\xe9" * 200 + ".txt", b"x")), {}, 422, "255 bytes"),
    ("deep path", "sub.zip", zip_of(("backprop.py", GOOD), ("d/" * 1100 + "x.py", GOOD)), {}, 422, "deeper than"),
    ("long path", "sub.zip", zip_of(("backprop.py", GOOD), (("n" * 200 + "/") * 6 + "x", b"x")), {}, 422, "1024 bytes"),
    ("long skipped dir", "sub.zip", zip_of(("backprop.py", GOOD), ("__pycache__/" + "c" * 300, b"x")), {}, 422, "255"),
    ("long upload name", "a" * 300 + ".py", GOOD, {}, 422, "file name is longer than 255 bytes"),
    ("control in name", "back\x1bprop.py", GOOD, {}, 422, "control characters"),
    ("file and folder", "sub.zip", zip_of(("backprop.py", GOOD), ("x", b"1"), ("x/y.py", GOOD)), {}, 422, "x both"),
    ("backprop as folder", "sub.zip", zip_of(("backprop.py", GOOD), ("backprop.py/y.py", GOOD)), {}, 422, "both"),
]


@pytest.mark.parametrize(("what", "filename", "data", "limits", "status", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_with_a_clear_status(tmp_path, what, filename, data, limits, status, message):
    with pytest.raises(UploadRejected) as e:
        check(tmp_path, filename, data, **limits)
    assert e.value.status == status
    assert message in str(e.value)
    tmp = tmp_path / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_zip_understating_its_size_is_refused(tmp_path):
    # zipfile stops at the declared size, so the extra bytes are never unpacked and the CRC check fails.
    data = bytearray(zip_of(("backprop.py", GOOD), ("big.bin", b"\0" * 5000)))
    # Patch the declared uncompressed size of big.bin in both headers to 10 bytes.
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            size_at = i + (22 if sig == b"PK\x03\x04" else 24)
            if data[name_at : name_at + 7] == b"big.bin":
                data[size_at : size_at + 4] = (10).to_bytes(4, "little")
            start = i + 4
    with pytest.raises(UploadRejected) as e:
        check(tmp_path, "sub.zip", bytes(data), max_unpacked=2000)
    assert e.value.status == 400
    assert "big.bin" in str(e.value)


def test_single_py_gets_the_digest_grade_gives_a_py_file(tmp_path):
    src = EXAMPLES / "correct" / "backprop.py"
    accepted = check(tmp_path, "mine.py", src.read_bytes())
    assert accepted.sha256 == load_submission(src).sha256
    assert accepted.files == 1


def test_zip_of_a_folder_matches_grading_the_folder(tmp_path):
    folder = EXAMPLES / "helpers_split"
    sub = load_submission(folder)
    data = zip_of(*[(f"helpers_split/{rel}", content) for rel, content in sub.files], ("__MACOSX/._x", b"junk"))
    accepted = check(tmp_path, "helpers_split.zip", data)
    assert accepted.sha256 == sub.sha256
    out = tmp_path / "unpacked"
    unpack_files(accepted.files_zip, out)
    assert load_submission(out).files == sub.files


def test_normalized_zip_is_deterministic_and_regular_files_only():
    a = pack_files({"b.py": b"2", "backprop.py": b"1"})
    b = pack_files({"backprop.py": b"1", "b.py": b"2"})
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        assert [i.filename for i in zf.infolist()] == ["b.py", "backprop.py"]
        assert all(stat.S_ISREG(i.external_attr >> 16) for i in zf.infolist())


def test_unpack_refuses_paths_outside_its_folder(tmp_path):
    evil = zip_of(("../outside.py", b"x"))
    with pytest.raises(UploadRejected):
        unpack_files(evil, tmp_path / "dest")
    assert not (tmp_path / "outside.py").exists()


def test_nothing_is_left_in_tmp_after_a_check(tmp_path):
    check(tmp_path, "backprop.py", GOOD)
    assert os.listdir(tmp_path / "tmp") == []


def test_long_names_within_the_limits_are_accepted(tmp_path):
    name = "/".join(["d" * 250] * 3) + "/" + "h" * 240 + ".py"  # 4 components near 255 bytes, under 1024 in all
    accepted = check(tmp_path, "sub.zip", zip_of(("backprop.py", GOOD), (name, GOOD)))
    assert accepted.files == 2


def test_a_byte_order_mark_and_a_notebook_are_accepted_as_check_takes_them(tmp_path):
    import nbformat

    assert check(tmp_path, "backprop.py", b"\xef\xbb\xbf" + GOOD).files == 1
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\n" + GOOD.decode())])
    accepted = check(tmp_path, "pa5.ipynb", nbformat.writes(nb).encode())
    assert accepted.sha256 == load_submission(_written(tmp_path / "nb", "pa5.ipynb", nbformat.writes(nb))).sha256
    with pytest.raises(UploadRejected) as e:
        check(tmp_path, "pa5.ipynb", b"{not json")
    assert e.value.status == 422 and "jupyter nbconvert --to script pa5.ipynb" in str(e.value)


def _written(folder, name, text):
    folder.mkdir()
    (folder / name).write_text(text)
    return folder / name
