"""The per-user cache: an entry is read back only from a folder and a file that are ours, for its own key, intact."""

import json
import os

import pytest

from grader.sandbox import usercache

KEY = {"rules": [1, 2, 3], "version": "1"}
CONTENT = {"value": "the real one"}
FORGED = {"value": "forged"}
OTHER_UID = 61999


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pa5-grader"


def the_entry(folder):
    (path,) = folder.glob("seccomp-*.json")
    return path


def entry_bytes(content, *, key=KEY, sha=None, **extra):
    return json.dumps({"key": key, "sha256": sha or usercache._digest(content), "content": content, **extra}).encode()


def test_a_written_entry_reads_back_from_a_private_folder(folder):
    assert usercache.read("seccomp", KEY) is None
    usercache.write("seccomp", KEY, CONTENT)
    assert usercache.read("seccomp", KEY) == CONTENT
    assert folder.stat().st_mode & 0o777 == 0o700 and the_entry(folder).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in folder.iterdir()] == [the_entry(folder).name], "no temporary file is left behind"
    assert usercache.read("seccomp", {**KEY, "version": "2"}) is None


def test_the_folder_follows_xdg_and_falls_back_to_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert usercache.folder() == str(tmp_path / "pa5-grader")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert usercache.folder() == str(tmp_path / "home" / ".cache" / "pa5-grader")


def _truncated(path):
    path.write_bytes(path.read_bytes()[:20])


def _garbage(path):
    path.write_bytes(b"\0" * 64)


def _changed_but_not_rehashed(path):
    path.write_bytes(entry_bytes(FORGED, sha=usercache._digest(CONTENT)))


def _for_another_key(path):
    path.write_bytes(entry_bytes(FORGED, key={**KEY, "version": "0"}))


def _with_a_field_more(path):
    path.write_bytes(entry_bytes(FORGED, note="x"))


def _rehashed_but_group_writable(path):
    path.write_bytes(entry_bytes(FORGED))
    path.chmod(0o620)


def _rehashed_but_world_writable(path):
    path.write_bytes(entry_bytes(FORGED))
    path.chmod(0o602)


def _rehashed_but_another_users(path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    path.write_bytes(entry_bytes(FORGED))
    os.chown(path, OTHER_UID, OTHER_UID)


def _a_link_to_a_rehashed_entry(path):
    forged = path.parent.parent / "forged.json"
    forged.write_bytes(entry_bytes(FORGED))
    forged.chmod(0o600)
    path.unlink()
    path.symlink_to(forged)


def _a_fifo(path):
    path.unlink()
    os.mkfifo(path, 0o600)  # opened without blocking, refused as not a regular file


def _too_large(path):
    path.write_bytes(entry_bytes({"value": "x" * usercache.MAX_BYTES}))


UNTRUSTED = [
    _truncated,
    _garbage,
    _changed_but_not_rehashed,
    _for_another_key,
    _with_a_field_more,
    _rehashed_but_group_writable,
    _rehashed_but_world_writable,
    _rehashed_but_another_users,
    _a_link_to_a_rehashed_entry,
    _a_fifo,
    _too_large,
]


@pytest.mark.parametrize("tamper", UNTRUSTED, ids=lambda f: f.__name__.strip("_"))
def test_an_entry_that_cannot_be_trusted_is_ignored_and_replaced_on_write(folder, tamper):
    usercache.write("seccomp", KEY, CONTENT)
    tamper(the_entry(folder))
    assert usercache.read("seccomp", KEY) is None
    usercache.write("seccomp", KEY, CONTENT)
    path = the_entry(folder)
    assert not path.is_symlink() and path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o777 == 0o600
    assert usercache.read("seccomp", KEY) == CONTENT


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o722])
def test_a_folder_others_may_write_is_neither_read_nor_written(folder, mode):
    folder.mkdir(parents=True)
    (folder / the_name()).write_bytes(entry_bytes(CONTENT))
    (folder / the_name()).chmod(0o600)
    folder.chmod(mode)
    assert usercache.read("seccomp", KEY) is None
    (folder / the_name()).unlink()
    usercache.write("seccomp", KEY, CONTENT)
    assert list(folder.iterdir()) == []


def test_a_folder_of_another_user_is_neither_read_nor_written(folder):
    if os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    folder.mkdir(parents=True, mode=0o700)
    (folder / the_name()).write_bytes(entry_bytes(CONTENT))
    os.chown(folder, OTHER_UID, OTHER_UID)
    assert usercache.read("seccomp", KEY) is None
    (folder / the_name()).unlink()
    usercache.write("seccomp", KEY, CONTENT)
    assert list(folder.iterdir()) == []


def test_a_link_in_place_of_the_folder_is_not_followed(folder, tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    folder.parent.mkdir(parents=True)
    folder.symlink_to(real)
    usercache.write("seccomp", KEY, CONTENT)
    assert usercache.read("seccomp", KEY) is None and list(real.iterdir()) == []


def the_name():
    return usercache._file("seccomp", KEY)
