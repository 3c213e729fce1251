"""A per-user cache of what the grader works out once per machine (the compiled seccomp filter), checked on read.

The folder is $XDG_CACHE_HOME/pa5-grader, else ~/.cache/pa5-grader, made 0700. An entry is used only when the
folder and the file are ours and neither is group- or world-writable, the file is a regular one of sane size,
it was written for exactly this key, and its contents match the hash stored beside them; anything else is
ignored (the caller builds afresh and overwrites it). Entries are written to a new file and renamed into place,
so a reader never sees half of one. The cache holds no secret, and is trusted as far as the user's own files
are: whoever can write them runs as this user already.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat

log = logging.getLogger("pa5-grader")

MAX_BYTES = 1 << 20
_FIELDS = {"key", "sha256", "content"}


def folder() -> str | None:
    """Where the cache lives (it may not exist yet); None without a home folder."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the XDG spec says ignore it
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pa5-grader") if os.path.isabs(base) else None


def read(name: str, key: dict) -> dict | None:
    """The content stored under `name` for `key`, or None where there is none we may trust."""
    fd = _open_folder(create=False)
    if fd is None:
        return None
    try:
        f = os.open(_file(name, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        st = os.fstat(f)
        if not stat.S_ISREG(st.st_mode) or not _ours(st) or st.st_size > MAX_BYTES:
            return _ignored(name, "not a regular file of ours, or writable by others")
        data = os.read(f, MAX_BYTES + 1)
    finally:
        os.close(f)
    try:
        entry = json.loads(data)
    except ValueError:
        return _ignored(name, "not JSON")
    if not isinstance(entry, dict) or set(entry) != _FIELDS or not isinstance(entry["content"], dict):
        return _ignored(name, "not an entry")
    if entry["key"] != key:
        return _ignored(name, "written for another key")
    if entry["sha256"] != _digest(entry["content"]):
        return _ignored(name, "its contents do not match their hash")
    return entry["content"]


def write(name: str, key: dict, content: dict) -> None:
    """Store `content` under `name` for `key`; a failure only costs the next process the work again."""
    fd = _open_folder(create=True)
    if fd is None:
        return
    final, tmp = _file(name, key), f".{name}-{secrets.token_hex(8)}.tmp"
    data = json.dumps({"key": key, "sha256": _digest(content), "content": content}).encode()
    try:
        f = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fd)
        try:
            with open(f, "wb", closefd=False) as out:
                out.write(data)
        finally:
            os.close(f)
        os.replace(tmp, final, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as e:
        log.debug("pa5-grader: cannot write the %s cache entry: %s", name, e)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
    finally:
        os.close(fd)


def _open_folder(*, create: bool) -> int | None:
    """A descriptor of the cache folder if it is ours and only ours to write; entries are opened relative to it,
    so a folder swapped in after this check is never read."""
    path = folder()
    if path is None:
        return None
    if create:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    if not _ours(os.fstat(fd)):
        os.close(fd)
        log.debug("pa5-grader: ignoring the cache folder %s: not ours, or writable by others", path)
        return None
    return fd


def _ours(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _file(name: str, key: dict) -> str:
    return f"{name}-{_digest(key)[:32]}.json"


def _digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _ignored(name: str, why: str) -> None:
    log.debug("pa5-grader: ignoring the %s cache entry: %s", name, why)
    return None
