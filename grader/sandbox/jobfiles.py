"""Touching what a sandbox could write: reads that never follow links or block, writes that never follow links,
and removal of any tree (depth, width, file types) without recursion.

A sandbox may replace any file it can write with a FIFO, a symlink, a device it found or a folder chain
thousands deep. Every path here is opened component by component from a folder the grader made, with
O_NOFOLLOW and O_NONBLOCK, and a file is read only when fstat on the open descriptor says it is a regular file.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("pa5-grader.sandbox")

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def _open_parent(top: Path, rel: str) -> tuple[int, str]:
    """An fd of the folder holding `top/rel` (every component opened without following links), and its name."""
    *folders, name = rel.split("/")
    fd = os.open(top, _DIR)
    try:
        for part in folders:
            nxt = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd, name


def read_capped(top: Path, rel: str, cap: int) -> bytes | None:
    """Up to cap + 1 bytes of the regular file `top/rel` (a longer read means: too large), or None when it is
    missing, is not a regular file, or cannot be read. Never blocks, never follows a link."""
    try:
        parent, name = _open_parent(top, rel)
    except OSError:
        return None
    try:
        fd = os.open(name, _FILE, dir_fd=parent)
    except OSError:
        return None
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def write_new(top: Path, rel: str, data: bytes) -> None:
    """Create `top/rel` afresh with `data`, whatever the sandbox left at that name: an existing file or link is
    unlinked, and the new file is created exclusively, so a planted link or FIFO is never written through."""
    parent, name = _open_parent(top, rel)
    try:
        for _ in range(5):
            try:
                fd = os.open(
                    name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent
                )
                break
            except FileExistsError:
                try:
                    os.unlink(name, dir_fd=parent)
                except IsADirectoryError:
                    remove_tree_at(parent, name)
                except FileNotFoundError:
                    pass
        else:
            raise OSError(errno.EEXIST, f"cannot create {rel}: something keeps taking its place")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def remove_tree(path: Path) -> bool:
    """Remove `path` and everything under it; True when it is gone. Never raises, never recurses, never follows
    a link; a folder its owner made unreadable is opened up first. What cannot be removed is logged and left."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError as e:
        log.warning("cannot remove %s: %s", path, e.strerror)
        return False
    try:
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return True
        parent = os.open(path.parent, _DIR)
        try:
            remove_tree_at(parent, path.name)
        finally:
            os.close(parent)
        return True
    except OSError as e:
        log.warning("cannot remove %s: %s", path, e.strerror or e)
        return False


def remove_tree_at(parent_fd: int, name: str) -> None:
    """Remove the folder `name` in `parent_fd` with everything under it, depth first, with a stack of names
    instead of recursion and only two descriptors open at a time. Raises OSError when something stays."""
    # Each level: (the folder's name in its parent, its (dev, ino), the names of its sub-folders still to do).
    top = _open_dir(parent_fd, name)
    stack = [(name, _ident(top), _clear(top))]
    fd = top
    while stack:
        pending = stack[-1][2]
        if pending:
            child_name = pending.pop()
            try:
                child = _open_dir(fd, child_name)
            except FileNotFoundError:
                continue
            except NotADirectoryError:  # replaced meanwhile by something else
                os.unlink(child_name, dir_fd=fd)
                continue
            os.close(fd)
            fd = child
            stack.append((child_name, _ident(child), _clear(child)))
            continue
        done_name, _, _ = stack.pop()
        if not stack:
            os.close(fd)
            os.rmdir(name, dir_fd=parent_fd)
            return
        up = os.open("..", _DIR, dir_fd=fd)
        os.close(fd)
        fd = up
        if _ident(fd) != stack[-1][1]:  # the tree was moved under us: stop rather than remove elsewhere
            os.close(fd)
            raise OSError(errno.ESTALE, "the folder tree changed while it was being removed")
        os.rmdir(done_name, dir_fd=fd)


def _open_dir(parent_fd: int, name: str) -> int:
    try:
        return os.open(name, _DIR, dir_fd=parent_fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
        return os.open(name, _DIR, dir_fd=parent_fd)


def _ident(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _clear(fd: int) -> list[str]:
    """Unlink every non-folder in the open folder `fd`; return its sub-folders' names."""
    try:
        os.fchmod(fd, 0o700)  # a folder without write permission for its owner cannot be emptied
    except OSError:
        pass
    folders = []
    with os.scandir(fd) as entries:
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    folders.append(e.name)
                else:
                    os.unlink(e.name, dir_fd=fd)
            except FileNotFoundError:
                continue
    return folders


def empty_folder(folder: Path, keep=lambda name: False) -> bool:
    """Remove everything in `folder` but the names `keep` accepts; True when nothing else is left. Never raises."""
    try:
        fd = os.open(folder, _DIR)
    except OSError as e:
        log.warning("cannot empty %s: %s", folder, e.strerror)
        return False
    try:
        with os.scandir(fd) as entries:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries if not keep(e.name)]
        for name, is_dir in names:
            if is_dir:
                remove_tree_at(fd, name)
            else:
                os.unlink(name, dir_fd=fd)
        return True
    except OSError as e:
        log.warning("cannot empty %s: %s", folder, e.strerror or e)
        return False
    finally:
        os.close(fd)
