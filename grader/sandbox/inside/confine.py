"""How the template's child confines a run: namespaces, its own root, keyring, capabilities and seccomp.

Stdlib and ctypes only; zygote.py loads it from beside itself, inside the template's sandbox, and calls it in
each forked child before the harness runs (see zygote.py).
"""

import ctypes
import json
import os
import signal
import sys

libc = ctypes.CDLL(None, use_errno=True)
_holding_gil = ctypes.PyDLL(None, use_errno=True)  # libc called without releasing the GIL, as os.fork calls fork()
_holding_gil.syscall.restype = ctypes.c_long
_python = ctypes.pythonapi
UID, GID = os.getuid(), os.getgid()  # the template's, read before a child's new user namespace hides them
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# The grader's seccomp filter and the keyctl call's number, from the files and arguments it started us with.
with open(os.path.join(os.path.dirname(__file__), "seccomp.bpf"), "rb") as _f:
    FILTER = _f.read()
_FILTER_BUF = ctypes.create_string_buffer(FILTER, len(FILTER))
SYSCALLS = json.loads(sys.argv[sys.argv.index("--syscalls") + 1])  # numbers of clone, keyctl and pivot_root here


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enc(s):
    return s.encode() if s is not None else None


def _mount(source, target, fstype, flags, data=None):
    _check(libc.mount(_enc(source), _enc(target), _enc(fstype), ctypes.c_ulong(flags), _enc(data)), f"mount {target}")


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def fork_into_namespaces():
    """os.fork(), but the child is PID 1 of new user, mount, PID, network, IPC and UTS namespaces: clone(2) with
    those flags, with Python's fork hooks around it as os.fork runs them (the GIL held throughout; the template
    is single-threaded). unshare() then fork() would cost a second copy of this 75 MiB interpreter: the
    unsharing process stays outside the new PID namespace. Returns 0 in the child, which calls settle() next,
    and its pid in the template; OSError there if the kernel refuses."""
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | signal.SIGCHLD
    _python.PyOS_BeforeFork()
    pid = _holding_gil.syscall(ctypes.c_long(SYSCALLS["clone"]), ctypes.c_ulong(flags), None, None, None, None)
    err = ctypes.get_errno()
    if pid == 0:
        _python.PyOS_AfterFork_Child()
        return 0
    _python.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def settle():
    """First in fork_into_namespaces()'s child: killed if the template dies, and mapped to the template's uid and
    gid. Only os.fork's children have their thread id in glibc's thread block: this one never raise()s or
    pthread_kill()s itself (as PID 1 it only waits), and the harness is forked from it by os.fork."""
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the template is not dumpable; this child must write its uid_map
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{UID} {UID} 1")
    _write("/proc/self/gid_map", f"{GID} {GID} 1")


def filesystem(job, quota):
    """A root of this run's own: the template's file system but for the other jobs and the template's files,
    this job's folder (read-only but for box/), its box as /tmp and /dev/shm, a /proc of this PID namespace.
    `quota` (bytes, inodes): the box is a plain folder, not a capped tmpfs of its own, so its scratch folders
    get capped tmpfs mounts here instead. The old root is detached whole, so /proc/self/mountinfo shows
    nothing of the template's jobs folder."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    new = "/tmp"  # a mount point the template has; the tmpfs on it becomes this run's /
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=65536,nr_inodes=256,mode=0755")
    for name in sorted(os.listdir("/")):
        src, dst = f"/{name}", f"{new}/{name}"
        if name in ("jobs", "zygote", "tmp", "proc", "job"):
            continue
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            os.mkdir(dst)
            _mount(src, dst, None, MS_BIND | MS_REC)
    for name in ("job", "tmp", "proc"):
        os.mkdir(f"{new}/{name}", 0o755)
    _mount(f"/jobs/{job}", f"{new}/job", None, MS_BIND | MS_REC)
    # A /proc of this PID namespace, mounted while the template's is still in view (the kernel mounts a new
    # proc in a user namespace only beside a fully visible one); no /proc at all where that is refused.
    try:
        _mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        has_proc = True
    except OSError:
        _mount("tmpfs", f"{new}/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=0")
        has_proc = False
    os.chdir(new)
    _check(libc.syscall(SYSCALLS["pivot_root"], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/")
    _mount(None, "/job", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | _noexec("/job"))
    if quota is not None:
        _mount("/job/box", "/job/box", None, MS_BIND)
        _mount(None, "/job/box", None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | _noexec("/job/box"))
    for scratch, target in (("tmp", "/tmp"), ("shm", "/dev/shm"), ("work", "/job/box/work")):
        if quota is not None:
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={quota[0]},nr_inodes={quota[1]},mode=0700")
        elif target != f"/job/box/{scratch}":
            _mount(f"/job/box/{scratch}", target, None, MS_BIND)
    if has_proc:
        _write("/proc/sys/user/max_user_namespaces", "0")  # no further user namespaces in here
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _noexec(path):
    """MS_NOEXEC where the mount already has it: a remount in a user namespace may not clear a locked flag."""
    return MS_NOEXEC if os.statvfs(path).f_flag & os.ST_NOEXEC else 0


def new_session_keyring():
    """A session keyring of this run's own, so nothing the template inherited is reachable from here."""
    if libc.syscall(SYSCALLS["keyctl"], 1, None) < 0:  # KEYCTL_JOIN_SESSION_KEYRING, an anonymous one
        err = ctypes.get_errno()
        raise OSError(err, f"keyctl: {os.strerror(err)}")


def load_filter():
    """The grader's seccomp filter (BPF, built with libseccomp outside), for this process and all it starts."""
    prog = _SockFprog(len(FILTER) // 8, ctypes.cast(_FILTER_BUF, ctypes.c_void_p))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def drop_capabilities():
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def dumpable(on):
    """Whether processes of the same uid may trace this one or read its memory."""
    libc.prctl(PR_SET_DUMPABLE, 1 if on else 0, 0, 0, 0)
