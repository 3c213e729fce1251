"""Job folders: a jobs folder per grader process, a size- and inode-capped tmpfs per job, removal that never fails.

Stdlib only (backends import it before the grader's heavy imports). Where the grader may mount (root with
CAP_SYS_ADMIN), each job is two tmpfs mounts of its own: the job folder (what the grader writes: harness,
plan, inputs, submission; read-only to the sandbox) and, inside it, `box/` (everything the sandbox may write:
out/, work/, tmp/, shm/), capped at limits.disk_mb and limits.files. Filling it costs that submission its
own call; no other job, and no other place, shares the space. Removal is an unmount. Elsewhere both are
plain folders and the sandboxes cap what they can (see the README's security model).
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import logging
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GraderError
from grader.sandbox.jobfiles import empty_folder, remove_tree

if TYPE_CHECKING:
    from grader.spec import Limits

log = logging.getLogger("pa5-grader.sandbox")

BOX = "box"  # the only part of a job the sandbox writes to
BOX_DIRS = ("out", "work", "tmp", "shm")  # results, working folder (HOME), /tmp, /dev/shm
JOB_BYTES = 256 << 20  # a cap on what the grader itself writes into a job (submissions are at most 20 MiB)
JOB_INODES = 16384
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_SHARED = 0x2, 0x4, 0x8, 0x1000, 0x4000, 1 << 20
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_state: dict = {}  # pid -> this process's jobs folder; a forked worker makes its own
_lock = threading.Lock()


def jobs_parent() -> Path:
    """Where jobs folders go: $PA5_JOBS_DIR; else the temp folder when $TMPDIR names one; else /dev/shm
    where it is a tmpfs with room (a grade creates and deletes a hundred small files, and on ext4 finding a
    free inode that was not recently deleted cost a third of the CPU of a 2-core batch: measured with perf);
    else the temp folder."""
    if os.environ.get("PA5_JOBS_DIR"):
        return Path(os.environ["PA5_JOBS_DIR"])
    if not os.environ.get("TMPDIR") and _roomy_tmpfs("/dev/shm"):
        return Path("/dev/shm")
    return Path(tempfile.gettempdir())


def _roomy_tmpfs(path: str, room: int = 1 << 30) -> bool:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            tmpfs = any(line.split()[1:3] == [path, "tmpfs"] for line in f)
        st = os.statvfs(path)
    except OSError:
        return False
    return tmpfs and st.f_bavail * st.f_frsize >= room and os.access(path, os.W_OK | os.X_OK)


def graders_folder() -> Path:
    """The folder of every grader of this user on this machine: `pa5-grader-UID` in jobs_parent()."""
    top = jobs_parent() / f"pa5-grader-{os.getuid()}"
    try:
        top.mkdir(mode=0o711)
    except FileExistsError:
        st = top.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise GraderError(f"{top} exists but is not a folder of this user's; remove it") from None
    top.chmod(0o711)  # a sandbox user may pass through to its own job folder, not list the others
    return top


def jobs_root() -> Path:
    """This grader process's own jobs folder, made on first use: no other grader, service or worker ever puts
    a job in it or takes one from it, and its lock tells a later grader whether its owner is still alive."""
    with _lock:
        mine = _state.get(os.getpid())
        if mine is not None and mine.is_dir():
            return mine
        top = graders_folder()
        sweep_stale_graders(top)
        root = top / f"g{os.getpid()}-{secrets.token_hex(4)}"
        root.mkdir(mode=0o711)
        root.chmod(0o711)
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until this process ends
        _share(root)
        _state[os.getpid()] = root
        _state[("lock", os.getpid())] = fd
        atexit.register(_remove_own, os.getpid(), root)
        return root


def _remove_own(pid: int, root: Path) -> None:
    """At exit: this process's jobs folder goes (a forked child inherits the hook, not the folder)."""
    if os.getpid() == pid:
        remove_folder(root)


def _share(root: Path) -> None:
    """Make `root` a shared mount, so that job mounts made in it later reach templates started earlier (their
    bwrap holds a slave copy of it). Without mount privileges there are no job mounts to pass on."""
    if can_mount() and _mount(str(root), str(root), None, MS_BIND) == 0:
        _mount(None, str(root), None, MS_SHARED)


def sweep_stale_graders(top: Path) -> None:
    """Remove the jobs folders of graders that are gone (their lock is free); log and skip what will not go."""
    try:
        folders = list(top.glob("g*"))
    except OSError as e:
        log.warning("cannot list %s: %s", top, e)
        return
    for folder in folders:
        try:
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None  # made but not locked yet, or its lock is gone: judge it by its owner's pid
            pid = folder.name[1:].split("-")[0]
            if pid.isdigit() and Path(f"/proc/{pid}").exists():
                continue
        except OSError:
            continue
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # alive
            finally:
                os.close(fd)
        remove_folder(folder)


def can_mount() -> bool:
    """Whether this process may mount tmpfs (checked once: root with CAP_SYS_ADMIN, outside any user namespace
    that would hide the mounts from the sandboxes' view of the jobs folder)."""
    if "can_mount" not in _state:
        ok = False
        if os.geteuid() == 0 and os.environ.get("PA5_JOB_MOUNTS") != "0":
            probe = tempfile.mkdtemp(prefix="pa5-mount-probe-")
            try:
                ok = _mount("tmpfs", probe, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,nr_inodes=8") == 0
                if ok:
                    _libc.umount2(probe.encode(), MNT_DETACH)
            finally:
                os.rmdir(probe)
        _state["can_mount"] = ok
    return _state["can_mount"]


def _mount(source, target, fstype, flags, data=None) -> int:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    r = _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    if r != 0:
        log.debug("mount %s failed: %s", target, os.strerror(ctypes.get_errno()))
    return r


def new_job_dir(limits: Limits | None = None) -> Path:
    """A fresh job folder in this grader's jobs folder, with box/ and its folders; capped where we may mount."""
    job = Path(tempfile.mkdtemp(prefix="job-", dir=jobs_root()))
    try:
        if can_mount():
            opts = "mode=0711,size={},nr_inodes={}"
            if _mount("tmpfs", str(job), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.format(JOB_BYTES, JOB_INODES)):
                raise OSError(ctypes.get_errno(), f"cannot mount the job folder {job}")
            (job / BOX).mkdir()
            disk, files = box_quota(limits)
            if _mount("tmpfs", str(job / BOX), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.format(disk, files)):
                raise OSError(ctypes.get_errno(), f"cannot mount the job's writable folder {job / BOX}")
        else:
            job.chmod(0o711)
            (job / BOX).mkdir()
        for d in BOX_DIRS:
            (job / BOX / d).mkdir()
    except BaseException:
        remove_job(job)
        raise
    return job


def box_quota(limits: Limits | None) -> tuple[int, int]:
    """(bytes, inodes) of a job's box: limits.disk_mb and limits.files, plus the box's own four folders."""
    if limits is None:
        from grader.spec import Limits

        limits = Limits()
    return limits.disk_mb << 20, limits.files + len(BOX_DIRS) + 1


def capped(job: Path) -> bool:
    """Whether the job's box is a tmpfs of its own (a quota, and removal by unmounting)."""
    return os.path.ismount(job / BOX)


def remove_job(job: Path) -> bool:
    """Unmount and remove a job folder; True when it is gone. Never raises."""
    return remove_folder(job)


def remove_folder(folder: Path) -> bool:
    """Unmount whatever is mounted in `folder` (deepest first), then remove it. Never raises; logs what stays."""
    try:
        for target in sorted(_mounts_under(folder), key=len, reverse=True):
            _libc.umount2(target.encode(), MNT_DETACH)
    except OSError as e:
        log.warning("cannot list the mounts under %s: %s", folder, e)
    ok = remove_tree(folder)
    if not ok:
        log.warning("left %s behind: it could not be removed", folder)
    return ok


def _mounts_under(folder: Path) -> list[str]:
    prefix = os.path.realpath(folder)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            target = line.split()[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            target = target.replace("\\134", "\\")
            if target == prefix or target.startswith(prefix + "/"):
                found.append(target)
    return found


def give(job: Path, uid: int | None) -> None:
    """Make a job usable by the sandbox's user: what the grader wrote stays the grader's and read-only to the
    sandbox (so no planted link is ever written through); box/ and its folders become `uid`'s (None: ours).
    Nothing the sandbox made is touched: this runs before it starts."""
    for p in [job, *job.rglob("*")]:
        if p.parts[len(job.parts) : len(job.parts) + 1] == (BOX,):
            continue
        st = p.lstat()
        if stat.S_ISDIR(st.st_mode):
            p.chmod(0o711 if p == job else 0o755)
        elif stat.S_ISREG(st.st_mode):
            p.chmod(0o644)
    for p in [job / BOX, *(job / BOX / d for d in BOX_DIRS)]:
        if uid is not None:
            os.chown(p, uid, uid, follow_symlinks=False)
        p.chmod(0o700)


def box_full(job: Path, limits: Limits) -> bool:
    """Whether the box is (nearly) out of space or inodes: why a call could not report its result. Without a
    capped box of its own, out/ (the one writable place the sandbox shares with the host) is measured."""
    if not capped(job):
        return out_over_quota(job, limits)
    try:
        st = os.statvfs(job / BOX)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < (256 << 10) or st.f_favail < 8


def out_over_quota(job: Path, limits: Limits) -> bool:
    """Whether out/ holds more than limits.disk_mb or limits.files; stops counting as soon as it does, and
    follows no link."""
    size, files = 0, 0
    todo = [job / BOX / "out"]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for e in entries:
            files += 1
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            size += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                todo.append(Path(e.path))
            if files > limits.files or size > limits.disk_mb << 20:
                return True
    return False


def fresh_scratch(job: Path, keep_out, limits: Limits) -> None:
    """Before an attempt: empty work/, tmp/ and shm/ (each attempt starts with them empty, as a new tmpfs would),
    and when the box is still full, whatever in out/ is not a file of the protocol (`keep_out` says which)."""
    for d in ("work", "tmp", "shm"):
        empty_folder(job / BOX / d)
    if box_full(job, limits):
        empty_folder(job / BOX / "out", keep=keep_out)
