"""Throwaway uids for sandboxes, and ending a sandbox: kill every process it left and sweep its stray files."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from pathlib import Path

from grader.sandbox.jobfiles import remove_tree
from grader.sandbox.launch import TOKEN_VAR

TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
UID_BASE = int(os.environ.get("PA5_SANDBOX_UID_BASE", "61000"))
# One lock file per uid, shared by every grader on the machine (whatever its TMPDIR): a uid held by
# another grader's sandbox is never handed out here, so neither grader kills the other's processes.
UID_LOCKS = Path(os.environ.get("PA5_SANDBOX_UID_LOCKS", "/run/pa5-grader/uids"))
_held: dict[int, int] = {}  # uid -> fd of its lock
_slots_lock = threading.Lock()


def ids(uid: int | None) -> dict:
    """Popen keywords that run a child as `uid` (None: as us), with no supplementary groups."""
    return {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}


def allocate_uid() -> int:
    """A uid no live sandbox on this machine has, so that killing "everything of that uid" is exact.

    A uid is handed out only once no task of it is left, zombies included: killed children of a
    process-backend sandbox are orphans that PID 1 reaps when it gets round to it (seconds, on some
    machines), and until then they count against the next sandbox's process limit."""
    UID_LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    for uid in range(UID_BASE, UID_BASE + 10_000):
        with _slots_lock:
            if uid in _held:
                continue
            fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _held[uid] = fd
        kill_uid(uid)  # what a crashed grader may have left under it
        if not pids_where(lambda d, uid=uid: uid_of(d, zombies=True) == uid):
            return uid
        release_uid(uid)  # still being reaped: take the next one
    raise RuntimeError("no free sandbox uid")


def uid_in_use(uid: int) -> bool:
    """Whether a live sandbox of any grader on this machine holds `uid`."""
    if uid in _held:
        return True
    try:
        fd = os.open(UID_LOCKS / str(uid), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False  # closing the fd below drops the lock again
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def release_uid(uid: int) -> None:
    with _slots_lock:
        fd = _held.pop(uid, None)
    if fd is not None:
        os.close(fd)  # drops the lock


def kill_group(proc) -> None:
    """SIGKILL the process group that the Popen `proc` leads, unless `proc` has been reaped: its pid, and so
    the group's id, may then be somebody else's (pid_max is 32768 here, and a test run wraps it). What is left
    of a reaped leader's group goes by the sandbox's own means: its uid, its PID namespace, its token."""
    if proc.returncode is None:
        killpg(proc.pid)


def killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pids_where(test) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if test(d):
                    out.append(int(d))
            except OSError:
                continue
    return out


def uid_of(d: str, zombies: bool = False) -> int:
    """The real uid of a process; -1 for a zombie (already dead, only waiting to be reaped) unless `zombies`."""
    with open(f"/proc/{d}/status", "rb") as f:
        for line in f:
            if line.startswith(b"State:") and line.split()[1] == b"Z" and not zombies:
                return -1
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    return -1


def kill_until_none(test, rounds: int) -> None:
    """SIGKILL every process that passes `test`, again until none is left: a fork bomb races the killer,
    its process limit bounds it, and a few rounds finish it."""
    for _ in range(rounds):
        pids = pids_where(test)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def kill_uid(uid: int) -> None:
    kill_until_none(lambda d: uid_of(d) == uid, rounds=50)


def kill_marked(sid: int, token: str) -> None:
    """Without a uid of its own: kill what is left of the session `sid` (-1: none; pass it only while its
    leader is unreaped), and any process carrying the token in its environment (double forks that called
    setsid). One that cleared its environment and exec'd escapes."""
    me, mark = os.getuid(), f"{TOKEN_VAR}={token}".encode()

    def ours(d: str) -> bool:
        if int(d) == os.getpid() or uid_of(d) != me:
            return False
        with open(f"/proc/{d}/stat", "rb") as f:
            session = int(f.read().rsplit(b")", 1)[1].split()[3])
        if session == sid:
            return True
        with open(f"/proc/{d}/environ", "rb") as f:
            return mark in f.read().split(b"\0")

    kill_until_none(ours, rounds=20)


def sweep_files(uid: int) -> None:
    for top in TMP_DIRS:
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            try:
                if e.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if e.is_dir(follow_symlinks=False):
                    remove_tree(Path(e.path))
                else:
                    os.unlink(e.path)
            except OSError:
                continue
