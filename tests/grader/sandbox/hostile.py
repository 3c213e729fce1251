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

# After the harness has written its results, overwrite them with a pickle bomb, a zip bomb and deep JSON.
OVERWRITE_OUTPUTS = (
    CORRECT
    + """
import atexit, glob, io, os, zipfile
class Boom:
    def __reduce__(self):
        return (open, (os.environ.get("PA5_TEST_MARKER", "/tmp/pa5-unpickled"), "w"))
def _spoil():
    import numpy as np
    out = os.path.join(os.path.dirname(os.getcwd()), "out")
    for i, path in enumerate(sorted(glob.glob(os.path.join(out, "*.npz")))):
        if i % 2 == 0:
            np.savez(path, r0=np.array([Boom(), 1], dtype=object), r1=np.array([Boom()], dtype=object))
        else:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.zeros(20_000_000))
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("r0.npy", buf.getvalue())
    for path in glob.glob(os.path.join(out, "*.json")):
        if not path.endswith("import.json"):
            with open(path, "w") as f:
                f.write("[" * 100000 + "]" * 100000)
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
