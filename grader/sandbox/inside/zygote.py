"""A pre-imported template inside a bubblewrap sandbox: it forks one fresh sandbox per harness run.

Stdlib, numpy and ctypes only; it runs inside the sandbox next to harness.py, as
`python -I -S -B -u zygote.py --syscalls NUMBERS --path SITES...` beside seccomp.bpf (the grader's filter), and never
runs student code itself. It imports the harness, numpy and scipy.signal once, then for each request on stdin,
{"job": NAME, "calls": [...], "rlimits": [...], "quota": null or [bytes, inodes]}, forks a child that gets a
session keyring and user, mount, PID, network, IPC and UTS namespaces of its own, sees only its own job folder
(/jobs/NAME at /job, read-only but for box/, which also gives it /tmp, /dev/shm and its working folder), a /proc
of its own PID namespace, no capabilities, no way to make user namespaces, and the seccomp filter; PID 2
there runs the harness with its output on the job's FIFO /job/stdout. Everything it started dies with it.
To stdout the template writes `ready`, then `exit CODE` per request (CODE: the exit code, or 128 + the signal
that killed it).
{"kill": true} on stdin kills the running request.
"""

import ctypes
import importlib.util
import json
import os
import resource
import select
import signal
import sys
import time


def _load_harness():
    """harness.py from beside this file, without putting this folder on the students' sys.path (-I leaves it
    off); loading it adds the --path site folders and imports numpy."""
    spec = importlib.util.spec_from_file_location("harness", os.path.join(os.path.dirname(__file__), "harness.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vm_bytes():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))


harness = _load_harness()
_numpy_vm = _vm_bytes()
PRELOAD = ("scipy.signal",)  # what most students import; half a second each time otherwise
for name in PRELOAD:
    try:
        __import__(name)
    except ImportError:
        pass
# The memory limit counts address space; a fresh harness starts with numpy's, a fork with the preloads'
# too. Each run gets that much more, so a student's room is what it would be in a fresh harness.
PRELOADED_VM = max(0, _vm_bytes() - _numpy_vm)

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SETUP_FAILED = 71
# The grader's seccomp filter and the keyctl call's number, from the files and arguments it started us with.
with open(os.path.join(os.path.dirname(__file__), "seccomp.bpf"), "rb") as _f:
    FILTER = _f.read()
_FILTER_BUF = ctypes.create_string_buffer(FILTER, len(FILTER))
SYSCALLS = json.loads(sys.argv[sys.argv.index("--syscalls") + 1])  # numbers of keyctl and pivot_root here


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


def _enter_namespaces():
    """In the forked child: new namespaces, mapped to the same uid and gid. Returns once in the grandchild."""
    uid, gid = os.getuid(), os.getgid()
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the template is not dumpable; this child must write its uid_map
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    _check(libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    pid = os.fork()
    if pid:  # stays outside, waits for PID 1 of the new namespace, and passes on how it ended
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _, status = os.waitpid(pid, 0)
        os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def _filesystem(job, quota):
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


def _new_session_keyring():
    """A session keyring of this run's own, so nothing the template inherited is reachable from here."""
    if libc.syscall(SYSCALLS["keyctl"], 1, None) < 0:  # KEYCTL_JOIN_SESSION_KEYRING, an anonymous one
        err = ctypes.get_errno()
        raise OSError(err, f"keyctl: {os.strerror(err)}")


def _load_filter():
    """The grader's seccomp filter (BPF, built with libseccomp outside), for this process and all it starts."""
    prog = _SockFprog(len(FILTER) // 8, ctypes.cast(_FILTER_BUF, ctypes.c_void_p))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def _drop_capabilities():
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _child(request, forked, ended):
    """Never returns: builds a fresh sandbox, whose PID 1 reaps and whose PID 2 runs the harness.
    `forked`: when the template forked it; the set-up steps' seconds go to the harness's marks. `ended`: the
    pipe on which PID 1 tells the template how the harness ended."""
    steps, t = harness.SETUP, time.perf_counter()
    steps["fork"] = t - forked
    try:
        _new_session_keyring()
        _enter_namespaces()
        steps["namespaces"], t = time.perf_counter() - t, time.perf_counter()
        _filesystem(request["job"], request.get("quota"))
        steps["mounts"], t = time.perf_counter() - t, time.perf_counter()
        out = os.open("/job/stdout", os.O_WRONLY)  # the grader holds the other end
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, ended)  # the template's pipes to the grader above all
        os.closerange(ended + 1, 1 << 16)
        os.chdir("/job/box/work")
        _drop_capabilities()
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        pid = os.fork()
    except BaseException as e:
        try:
            os.write(2, f"sandbox set-up failed: {e}\n".encode())
        finally:
            os._exit(SETUP_FAILED)
    if pid:
        _init(pid, ended)
    os.close(ended)
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as any process: its own uid may trace it (it is all student code)
    _run_harness(request, t)


def _init(pid, ended):
    """PID 1: a namespace's init ignores signals it has no handler for (SIGXCPU, SIGTERM), so the harness
    runs as PID 2. This reaps whatever is orphaned and ends with the harness, which ends everything left.
    It tells the template at once on `ended`: the exits of its forked interpreters (this one and the one
    outside) take some milliseconds that nobody need wait for. It holds no end of the job's FIFO."""
    os.closerange(0, 3)
    while True:
        try:
            child, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        if child == pid:
            code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            os.write(ended, f"{code}\n".encode())
            os._exit(code)


def _run_harness(request, t):
    """Never returns: the harness's exit code, whatever the student's code raised or registered."""
    code = 1
    try:
        for which, soft, hard in request["rlimits"]:
            if which == resource.RLIMIT_AS:
                soft, hard = (v + PRELOADED_VM if v != resource.RLIM_INFINITY else v for v in (soft, hard))
            resource.setrlimit(which, (soft, hard))
        _load_filter()
        harness.SETUP["limits"] = time.perf_counter() - t  # descriptors, capabilities, PID 2, rlimits, seccomp
        sys.argv = ["/job/harness.py", "/job", "--calls", ",".join(map(str, request["calls"]))]
        code = harness.main(sys.argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        code = 1
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # the student's own hooks, as at the end of a harness process
        finally:
            os._exit(code if isinstance(code, int) else 0)


def _wait(pid, buffered, ended):
    """Wait for the request's harness to end (PID 1's word on `ended`) or its child to, killing it if asked;
    returns the code and what stdin said meanwhile. The child is reaped by the caller, after it answered."""
    pidfd = os.pidfd_open(pid)
    watched = [0, pidfd, ended]
    try:
        while True:
            ready, _, _ = select.select(watched, [], [])
            if ended in ready:
                word = os.read(ended, 16).split()
                if word and word[0].isdigit() and int(word[0]) < 256:
                    return int(word[0]), buffered
                watched.remove(ended)  # PID 1 is gone without a word: the child's own exit says how it ended
                continue
            if pidfd in ready:
                _, status = os.waitpid(pid, 0)
                return (128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)), buffered
            data = os.read(0, 1 << 16)
            if not data:  # the grader is gone
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os._exit(0)
            buffered += data
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                if line.strip() and json.loads(line).get("kill"):
                    os.kill(pid, signal.SIGKILL)
    finally:
        os.close(pidfd)


def _reap(pid):
    """The request's child, if _wait left it: it ends with PID 1, which ended with the harness."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def main():
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nothing of the same uid may trace it or read its memory
    os.chdir("/")
    os.write(1, b"ready\n")
    buffered = b""
    while True:
        while b"\n" not in buffered:
            data = os.read(0, 1 << 16)
            if not data:
                return
            buffered += data
        line, buffered = buffered.split(b"\n", 1)
        request = json.loads(line) if line.strip() else {}
        if "job" not in request:
            continue  # a kill that came after its request ended
        forked = time.perf_counter()
        ended, told = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ended)
            _child(request, forked, told)
        os.close(told)
        try:
            code, buffered = _wait(pid, buffered, ended)
            os.write(1, f"exit {code}\n".encode())
        finally:
            os.close(ended)
            _reap(pid)


if __name__ == "__main__":
    main()
