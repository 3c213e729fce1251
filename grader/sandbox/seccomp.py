"""The system calls no sandbox may make: one rule table, compiled to BPF by libseccomp and written as a Docker profile.

Namespaces separate files, processes, the network and IPC; what they cannot separate (the kernel's key
store, io_uring, perf, userfaultfd, BPF, mounts, tracing, new namespaces, kexec, modules, sockets of families
other than Unix and IP, among them vsock, which no network namespace covers) is refused here. Everything else
is allowed. The BPF is built with libseccomp's Python bindings (Debian's python3-seccomp), by this interpreter
when it has them, else by the system's, and kept in the user's cache (usercache.py) under a key naming everything
it depends on, so a `check` need not start an interpreter for it.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import threading

from grader import __version__
from grader.errors import SandboxUnavailable
from grader.sandbox import usercache

EPERM, ENOSYS, EAFNOSUPPORT = 1, 38, 97
KEYCTL_JOIN_SESSION_KEYRING, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 1, 38, 22, 2
DENIED = (
    # the kernel's key store: a key added by one sandbox would be found by the next through a shared keyring
    "add_key", "keyctl", "request_key",
    # large kernel attack surfaces a numpy program never needs
    "io_uring_setup", "io_uring_enter", "io_uring_register", "perf_event_open", "userfaultfd", "bpf",
    # mounts and namespaces
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    # other processes' memory and files
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
    # the machine itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "uselib", "ioperm", "iopl", "lookup_dcookie",
    "name_to_handle_at", "open_by_handle_at", "fanotify_init", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "vhangup", "nfsservctl",
)  # fmt: skip
# clone3 passes its flags in memory, where a filter cannot see them: ENOSYS makes glibc fall back to clone.
UNSUPPORTED = ("clone3",)
# clone is allowed (threads, fork) but not with a flag that makes a namespace.
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# socket(): AF_UNIX (1), AF_INET (2) and AF_INET6 (10) only.
SOCKET_FAMILIES = (1, 2, 10)
# System calls without a libc wrapper that the sandboxes make through syscall(2) before the filter applies.
NUMBERS = ("clone", "keyctl", "pivot_root")

# Run in this interpreter when it has the bindings, else by SYSTEM_PYTHON with _MAIN: the same code either way.
_BUILD = r"""
import json, tempfile
import seccomp
def build(rules):
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    def deny(err, name, *args):
        try:
            f.add_rule(seccomp.ERRNO(err), name, *args)
        except (ValueError, RuntimeError, OSError):
            pass  # not a system call on this architecture
    for name in rules["denied"]:
        deny(rules["eperm"], name)
    for name in rules["unsupported"]:
        deny(rules["enosys"], name)
    for flag in rules["clone_flags"]:
        deny(rules["eperm"], "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    allowed = rules["families"]
    for family in range(max(allowed) + 1):
        if family not in allowed:
            deny(rules["eafnosupport"], "socket", seccomp.Arg(0, seccomp.EQ, family))
    deny(rules["eafnosupport"], "socket", seccomp.Arg(0, seccomp.GT, max(allowed)))
    with tempfile.TemporaryFile() as t:
        f.export_bpf(t)
        t.flush()
        t.seek(0)
        program = t.read()
    numbers = {n: seccomp.resolve_syscall(seccomp.Arch.NATIVE, n) for n in rules["numbers"]}
    return {"numbers": numbers, "bpf": program.hex()}
"""
_MAIN = "\nimport sys\nprint(json.dumps(build(json.loads(sys.stdin.read()))))\n"
# Debian's python3-seccomp; and where the system's Python keeps such bindings (Debian, Fedora, /usr/local).
SYSTEM_PYTHON = "/usr/bin/python3"
SYSTEM_BINDINGS = ("/usr/lib*/python3*/*-packages/seccomp*.so", "/usr/local/lib*/python3*/*-packages/seccomp*.so")
_cache: dict = {}
_lock = threading.Lock()


def _rules() -> dict:
    return {
        "denied": list(DENIED),
        "unsupported": list(UNSUPPORTED),
        "clone_flags": list(CLONE_NAMESPACE_FLAGS),
        "families": list(SOCKET_FAMILIES),
        "eperm": EPERM,
        "enosys": ENOSYS,
        "eafnosupport": EAFNOSUPPORT,
        "numbers": list(NUMBERS),
    }


def compiled() -> tuple[bytes, dict[str, int]]:
    """(the filter as BPF, the NUMBERS of system calls here); SandboxUnavailable without libseccomp."""
    with _lock:
        if "bpf" not in _cache:
            _cache["bpf"] = _cached_or_built()
        return _cache["bpf"]


def _cached_or_built() -> tuple[bytes, dict[str, int]]:
    here = _bindings_here()
    key = _key(here)
    found = _parsed(usercache.read("seccomp", key)) if key is not None else None
    if found is not None:
        return found
    program, numbers = _build(here)
    if key is not None:
        usercache.write("seccomp", key, {"bpf": program.hex(), "numbers": numbers})
    return program, numbers


def _key(here: str | None) -> dict | None:
    """Everything the BPF depends on: the rules and the code applying them, the bindings (which carry
    libseccomp, linked in or beside them), the interpreter running them, the architecture, the kernel (libseccomp
    asks it what it supports) and the grader's version; None where the bindings cannot be found without
    starting an interpreter (the filter is then built every time)."""
    python, bindings = (sys.executable, [here]) if here else (SYSTEM_PYTHON, _system_bindings())
    if not bindings:
        return None
    try:
        files = [[os.path.realpath(b), _sha256(b)] for b in bindings]
        python = os.path.realpath(python)
    except OSError:
        return None
    return {
        "grader": __version__,
        "rules": _rules(),
        "code": hashlib.sha256(_BUILD.encode()).hexdigest(),
        "python": python,
        "bindings": files,
        "libseccomp": _libseccomp_version(),
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def _parsed(content: dict | None) -> tuple[bytes, dict[str, int]] | None:
    """A cache entry's (BPF, numbers), or None unless it has exactly the shape _build() returns."""
    if content is None or set(content) != {"bpf", "numbers"}:
        return None
    try:
        program = bytes.fromhex(content["bpf"])
    except (TypeError, ValueError):
        return None
    numbers = content["numbers"]
    if not program or len(program) % 8 or not isinstance(numbers, dict) or set(numbers) != set(NUMBERS):
        return None
    if not all(type(n) is int and n >= 0 for n in numbers.values()):
        return None
    return program, numbers


def _build(here: str | None = None) -> tuple[bytes, dict[str, int]]:
    """Compile the rules: in this interpreter where it has the bindings (`here`), else with SYSTEM_PYTHON."""
    tried = []
    if here:
        try:
            return _result(_build_here())
        except Exception as e:  # broken bindings: the system's may still work
            tried.append(f"{sys.executable}: {type(e).__name__}: {e}"[:200])
    if os.path.exists(SYSTEM_PYTHON):
        try:
            r = subprocess.run(
                [SYSTEM_PYTHON, "-I", "-c", _BUILD + _MAIN],
                input=json.dumps(_rules()),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"{SYSTEM_PYTHON}: {e}")
        else:
            if r.returncode == 0:
                return _result(json.loads(r.stdout))
            tried.append(f"{SYSTEM_PYTHON}: {(r.stderr.strip().splitlines() or ['failed'])[-1][:160]}")
    if not here:
        tried.insert(0, f"{sys.executable}: No module named 'seccomp'")
    raise SandboxUnavailable(
        "the sandbox's seccomp filter needs libseccomp's Python bindings: install the package `python3-seccomp` "
        f"({'; '.join(tried)})"
    )


def _build_here() -> dict:
    scope: dict = {}
    exec(_BUILD, scope)  # our own constant: the code SYSTEM_PYTHON would run
    return scope["build"](_rules())


def _result(out: dict) -> tuple[bytes, dict[str, int]]:
    return bytes.fromhex(out["bpf"]), {k: int(v) for k, v in out["numbers"].items()}


def _bindings_here() -> str | None:
    """This interpreter's seccomp bindings, if it has them where it is installed (never a seccomp.py that
    happens to lie in the current folder)."""
    try:
        spec = importlib.util.find_spec("seccomp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isabs(spec.origin):
        return None
    origin = os.path.realpath(spec.origin)
    tops = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    return origin if any(origin.startswith(t.rstrip("/") + "/") for t in tops) else None


def _system_bindings() -> list[str]:
    return sorted({f for pattern in SYSTEM_BINDINGS for f in glob.glob(pattern)})


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _libseccomp_version() -> str | None:
    """The shared libseccomp's version (bindings that do not link it in use this one)."""
    try:
        version = ctypes.CDLL("libseccomp.so.2").seccomp_version
    except (OSError, AttributeError):
        return None
    version.restype = ctypes.POINTER(ctypes.c_uint * 3)
    major, minor, micro = version().contents
    return f"{major}.{minor}.{micro}"


def docker_profile() -> str:
    """The same rules as a Docker seccomp profile (JSON), for security_opt=["seccomp=..."]."""
    denied = [{"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}]
    denied.append({"names": list(UNSUPPORTED), "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    for flag in CLONE_NAMESPACE_FLAGS:
        arg = {"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}
        denied.append({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM, "args": [arg]})
    top = max(SOCKET_FAMILIES)
    families = [{"index": 0, "value": f, "op": "SCMP_CMP_EQ"} for f in range(top + 1) if f not in SOCKET_FAMILIES]
    families.append({"index": 0, "value": top, "op": "SCMP_CMP_GT"})
    for arg in families:
        denied.append({"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": EAFNOSUPPORT, "args": [arg]})
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "architectures": _docker_arches(), "syscalls": denied})


def _docker_arches() -> list[str]:
    machine = platform.machine()
    if machine in ("x86_64", "amd64"):
        return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    if machine in ("aarch64", "arm64"):
        return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    return []


def bpf_fd() -> int:
    """A fresh pipe's read end holding the BPF, for bwrap's --seccomp FD (bwrap reads it to its end)."""
    program, _ = compiled()
    r, w = os.pipe()
    try:
        os.write(w, program)  # a few KiB: within a pipe's buffer
    finally:
        os.close(w)
    return r


def child_setup(program: bytes, numbers: dict[str, int]):
    """A preexec_fn for a sandbox started with Popen: a session keyring of its own, then no new privileges and
    the filter. Everything it calls is resolved before the fork, as preexec_fn must not allocate much."""
    libc, keyctl = ctypes.CDLL(None, use_errno=True), numbers["keyctl"]
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))

    def apply():
        if libc.syscall(keyctl, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
            raise OSError(ctypes.get_errno(), "cannot make a session keyring for the sandbox")
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot load the seccomp filter")

    apply.keep = (buf, prog)  # alive as long as the function
    return apply


def new_session_keyring(numbers: dict[str, int]):
    """A preexec_fn that gives a process (a bwrap sandbox, a template) a new, empty session keyring."""
    libc, keyctl = ctypes.CDLL(None, use_errno=True), numbers["keyctl"]

    def apply():
        if libc.syscall(keyctl, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
            raise OSError(ctypes.get_errno(), "cannot make a session keyring for the sandbox")

    return apply


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
