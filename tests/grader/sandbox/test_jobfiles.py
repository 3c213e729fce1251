"""What the trusted side does with files a sandbox could have made: reads that never block or follow links,
writes that never follow links, removal of any tree."""

import os
import shutil
import stat
import threading

import pytest

from grader.sandbox.jobfiles import empty_folder, read_capped, remove_tree, write_new


def _finishes(fn, *args, seconds=10):
    """Run fn in a thread; (whether it returned within `seconds`, its result). A hang detector, not a timing."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), (out[0] if out else None)


@pytest.fixture
def top(tmp_path):
    (tmp_path / "out").mkdir()
    return tmp_path


def test_a_regular_file_is_read_up_to_one_byte_past_the_cap(top):
    (top / "out" / "f").write_bytes(b"x" * 100)
    assert read_capped(top, "out/f", 1000) == b"x" * 100
    assert read_capped(top, "out/f", 10) == b"x" * 11  # longer than the cap: the caller sees it is too large
    assert read_capped(top, "out/missing", 10) is None


def test_a_fifo_in_place_of_a_result_is_refused_without_blocking(top):
    os.mkfifo(top / "out" / "progress")
    done, data = _finishes(read_capped, top, "out/progress", 1000)
    assert done and data is None


def test_links_are_never_followed_at_any_depth(top, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret").write_text("grader's own file")
    os.symlink(outside / "secret", top / "out" / "link")
    assert read_capped(top, "out/link", 1000) is None
    shutil.rmtree(top / "out")
    os.symlink(outside, top / "out")  # the folder itself replaced by a link
    assert read_capped(top, "out/secret", 1000) is None


def test_folders_and_devices_are_not_regular_files(top):
    (top / "out" / "d").mkdir()
    assert read_capped(top, "out/d", 10) is None
    if os.geteuid() == 0:  # a device node the sandbox could have made (a root process-backend sandbox can)
        os.mknod(top / "out" / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        done, data = _finishes(read_capped, top, "out/zero", 10)
        assert done and data is None


def test_write_new_replaces_a_planted_link_or_fifo_without_writing_through(top, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    target = outside / "victim"
    target.write_text("unchanged")
    os.symlink(target, top / ".round-1.tmp")
    write_new(top, ".round-1.tmp", b'{"calls": []}')
    assert target.read_text() == "unchanged"
    assert (top / ".round-1.tmp").read_bytes() == b'{"calls": []}' and not (top / ".round-1.tmp").is_symlink()
    os.unlink(top / ".round-1.tmp")
    os.mkfifo(top / ".round-1.tmp")
    done, _ = _finishes(write_new, top, ".round-1.tmp", b"x")
    assert done and stat.S_ISREG(os.lstat(top / ".round-1.tmp").st_mode)


def _chain(top, depth: int, name: str = "d") -> None:
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.mkfifo("fifo", dir_fd=fd)
    os.symlink("/", "root-link", dir_fd=fd)
    os.fchmod(fd, 0)  # its owner cannot even list it
    os.close(fd)


def test_remove_tree_takes_any_depth_width_and_file_type(tmp_path, tmp_path_factory):
    victim = tmp_path_factory.mktemp("outside") / "keep"
    victim.write_text("not the sandbox's")
    tree = tmp_path / "job"
    tree.mkdir()
    _chain(tree, 3000)  # far past Python's recursion limit, and longer than PATH_MAX as one path
    with pytest.raises(RecursionError):  # the oracle: what shutil does with it (issue 16)
        shutil.rmtree(tree)
    for i in range(3000):
        (tree / f"f{i}").touch()
    for i in range(300):
        (tree / f"w{i}").mkdir()
    os.symlink(victim, tree / "link-out")
    os.symlink(victim.parent, tree / "dir-link-out")
    os.mkfifo(tree / "fifo")
    done, ok = _finishes(remove_tree, tree, seconds=120)
    assert done and ok and not tree.exists()
    assert victim.read_text() == "not the sandbox's"


def test_remove_tree_of_nothing_or_a_file(tmp_path):
    assert remove_tree(tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    assert remove_tree(tmp_path / "f") and not (tmp_path / "f").exists()


def test_empty_folder_keeps_what_it_is_told_to(tmp_path):
    (tmp_path / "keep.json").write_text("{}")
    (tmp_path / "junk").write_text("x")
    _chain(tmp_path, 50, name="deep")
    assert empty_folder(tmp_path, keep=lambda name: name.endswith(".json"))
    assert sorted(os.listdir(tmp_path)) == ["keep.json"]
