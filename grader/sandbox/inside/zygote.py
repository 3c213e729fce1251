"""A pre-imported template inside a bubblewrap sandbox: it forks one fresh sandbox per harness run.

Stdlib and numpy only (its kernel calls are confine.py's); it runs inside the sandbox next to harness.py, as
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

import gc
import importlib.util
import json
import os
import resource
import select
import signal
import sys
import time


def _load(name):
    """NAME.py from beside this file, without putting this folder on the students' sys.path (-I leaves it
    off); loading the harness adds the --path site folders and imports numpy."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vm_bytes():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))


harness = _load("harness")
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
confine = _load("confine")
SETUP_FAILED = 71
# Everything imported so far lives as long as the template: out of the collector's sight, a collection in a run
# (or in the template) does not write to those objects' headers, which would copy their pages from the template.
gc.collect()
gc.freeze()


def _child(request, forked, ended):
    """Never returns: PID 1 of a fresh sandbox; it reaps, and its child, PID 2, runs the harness.
    `forked`: when the template forked it; the set-up steps' seconds go to the harness's marks. `ended`: the
    pipe on which PID 1 tells the template how the harness ended."""
    steps, t = harness.SETUP, time.perf_counter()
    steps["fork"] = t - forked  # with the namespaces the kernel made in that clone
    try:
        confine.settle()
        confine.new_session_keyring()
        steps["namespaces"], t = time.perf_counter() - t, time.perf_counter()
        confine.filesystem(request["job"], request.get("quota"))
        steps["mounts"], t = time.perf_counter() - t, time.perf_counter()
        out = os.open("/job/stdout", os.O_WRONLY)  # the grader holds the other end
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, ended)  # the template's pipes to the grader above all
        os.closerange(ended + 1, 1 << 16)
        os.chdir("/job/box/work")
        confine.drop_capabilities()
        confine.dumpable(False)
        pid = os.fork()
    except BaseException as e:
        try:
            os.write(2, f"sandbox set-up failed: {e}\n".encode())
        finally:
            os._exit(SETUP_FAILED)
    if pid:
        _init(pid, ended)
    os.close(ended)
    confine.dumpable(True)  # as any process: its own uid may trace it (it is all student code)
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
        confine.load_filter()
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
    confine.dumpable(False)  # nothing of the same uid may trace it or read its memory
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
        try:
            pid = confine.fork_into_namespaces()
        except OSError as e:  # e.g. the user namespace limit: this run fails, the next may not
            os.close(ended)
            os.close(told)
            os.write(2, f"sandbox set-up failed: {e}\n".encode())
            os.write(1, f"exit {SETUP_FAILED}\n".encode())
            continue
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
