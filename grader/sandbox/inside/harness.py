"""Runs student functions on case inputs inside the sandbox; imports only the stdlib and numpy.

This file is copied into each job folder and run as `python -I -S -B harness.py JOB --calls 0,1,2 [--path DIR...]`,
or started early as `harness.py --await-job [--path DIR...]` and given {"job": ..., "calls": [...]} on stdin.
It gets the submission, the plan and the inputs (raw bytes; the plan gives each array's dtype, shape and
offset), never expected outputs. It reports through files in JOB/box/out: `progress` (a line before and
after each call; see _Progress), `import.json`, per call `N.result` (its status as a line of JSON, then the
bytes of the arrays it returned), `printed` (bytes printed, a line per run) and, when the plan asks for
"marks", `marks` (seconds per stage, for the benchmark's breakdown; read by nothing that grades). The grader
trusts none of them: it validates everything it reads back. When the plan says "rounds", the harness then
waits for JOB/round-1.json, round-2.json, ... ({"calls": [...]}; none: stop) and runs those calls in the same process.
"""

import collections
import errno
import json
import os
import sys
import threading
import time
import traceback

# Run with -S, the grader passes the site folders it may see (without grader/ or reference/) after "--path".
if "--path" in sys.argv:
    sys.path.extend(p for p in sys.argv[sys.argv.index("--path") + 1 :] if p)

import numpy as np

MAX_MESSAGE = 2000
ROUND_WAIT = 60  # seconds a harness with rounds waits for the next one before it ends
STOPPED = object()  # _run's answer when the grader said it wants no more rounds
SETUP = {}  # seconds per set-up step, filled in by the template's child before it runs main()


class _Marks:
    """Seconds per stage of this process, written to out/marks after each round when the plan asks for it."""

    def __init__(self, on):
        self.on, self.spent, self.t = on, dict(SETUP), time.perf_counter()

    def __call__(self, stage):
        if self.on:
            now = time.perf_counter()
            self.spent[stage] = self.spent.get(stage, 0.0) + now - self.t
            self.t = now

    def write(self, out):
        if self.on and self.spent:
            with open(os.path.join(out, "marks"), "a", encoding="utf-8") as f:
                f.writelines(f"{k} {v:.6f}\n" for k, v in self.spent.items())
            self.spent = {}


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _write_result(path, status, arrays):
    """`N.result`: the status as one line of JSON (with each array's dtype and shape), then the arrays' bytes."""
    status["arrays"] = [{"dtype": a.dtype.str, "shape": list(a.shape)} if a is not None else None for a in arrays]
    data = json.dumps(status).encode() + b"\n" + b"".join(a.tobytes() for a in arrays if a is not None)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _student_frames(tb, submission):
    """Traceback lines from the student's own files only, innermost last, with paths relative to the submission."""
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename).startswith(submission + os.sep)]
    for f in frames:
        f.filename = os.path.relpath(f.filename, submission)
    return "".join(traceback.format_list(frames[-3:]))


def _describe(exc, submission):
    if isinstance(exc, SyntaxError):
        name = os.path.basename(exc.filename or "backprop.py")
        return f"{type(exc).__name__} in {name} line {exc.lineno}: {exc.msg}"
    where = _student_frames(exc.__traceback__, submission)
    text = f"{type(exc).__name__}: {exc}"
    return (text + ("\n" + where if where else ""))[:MAX_MESSAGE]


def _convert(value):
    """One returned value as a plain ndarray, or a sentence saying why it cannot be one."""
    if value is None:
        return None, "returned None"
    try:
        a = np.asarray(value)
    except Exception as e:  # a lying __array__ can raise anything
        return None, f"returned a {type(value).__name__} that is not an array ({type(e).__name__})"
    if a.dtype.kind == "c":
        return None, f"returned complex numbers (dtype {a.dtype})"
    if a.dtype.kind not in "biuf" or a.dtype.fields is not None:
        return None, f"returned a {type(value).__name__} of dtype {a.dtype}, not numbers"
    if a.size > 1_000_000:
        return None, f"returned an array of shape {a.shape}, far larger than expected"
    return np.array(a, dtype=a.dtype, copy=True, order="C").view(np.ndarray), None


def _run_call(call, fn, inputs, submission, mark=lambda stage: None, stage="calls"):
    names = call["args"]
    originals = [inputs[n] for n in names]
    args = [int(a) if n in call["ints"] else a.copy() for n, a in zip(names, originals, strict=False)]
    mark("results")
    t0 = time.perf_counter()
    try:
        result = fn(*args)
    except MemoryError:
        return {"status": "crashed", "message": "memory limit exceeded (MemoryError)"}, []
    except Exception as e:
        return {"status": "error", "message": _describe(e, submission)}, []
    except SystemExit as e:
        return {"status": "crashed", "message": f"the function called sys.exit({e.code!r})"}, []
    except BaseException as e:
        return {"status": "crashed", "message": f"the function raised {type(e).__name__}"}, []
    finally:
        mark(stage)
    seconds = time.perf_counter() - t0
    n = call["n_outputs"]
    if n > 1:
        if not isinstance(result, (tuple, list)):
            return {
                "status": "error",
                "message": f"returned a {type(result).__name__}, expected a tuple of {n} arrays",
            }, []
        if len(result) != n:
            return {"status": "error", "message": f"returned {len(result)} values, expected {n}"}, []
        values = list(result)
    else:
        values = [result]
    arrays, problems = [], []
    for v in values:
        a, why = _convert(v)
        problems.append(why)
        arrays.append(a)
    modified = [
        n for n, o, a in zip(names, originals, args, strict=False) if n not in call["ints"] and not np.array_equal(o, a)
    ]
    status = {"status": "ok", "seconds": seconds, "output_problems": problems, "modified_inputs": modified}
    return status, arrays


class _OutputCap:
    """Routes fds 1 and 2 through a pipe read here: the first HEAD bytes go on to the grader, then only a
    rolling TAIL is kept and sent at the end. A flood then costs what it costs the student's own process:
    Docker's log and attach pipeline is several times slower than a pipe, and slows the writer down."""

    HEAD = TAIL = 1 << 20  # at least what the grader keeps (limits.output_kb)

    def __init__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.real = os.dup(1)
        self.r, w = os.pipe()
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.close(w)
        self.total = self.sent = self.tail_len = 0
        self.tail = collections.deque()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        while True:
            try:
                chunk = os.read(self.r, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.total += len(chunk)
            room = self.HEAD - self.sent
            if room > 0:
                _write_all(self.real, chunk[:room])
                self.sent += len(chunk[:room])
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail_len - len(self.tail[0]) >= self.TAIL:
                    self.tail_len -= len(self.tail.popleft())

    def finish(self, out):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # the student may have closed or replaced them
            pass
        os.dup2(self.real, 1)  # drops this process's write ends: the pump sees EOF unless a child holds one
        os.dup2(self.real, 2)
        self.thread.join(0.5)
        tail = b"".join(list(self.tail))[-self.TAIL :]
        cut = self.total - self.sent - len(tail)
        if cut > 0:
            _write_all(1, f"\n[... {cut} bytes of output discarded in the sandbox ...]\n".encode())
        _write_all(1, tail)
        try:
            fd = os.open(os.path.join(out, "printed"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, f"{self.total}\n".encode())
            os.close(fd)
        except OSError:  # the sandbox's writable space is full: the count is lost, the output is not
            pass


class _Progress:
    """out/progress, a line before and after each call; after each line a byte on JOB/events when that is a
    FIFO the grader reads (the template's), so it learns of progress without polling."""

    def __init__(self, job, out):
        self.fd = os.open(os.path.join(out, "progress"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:  # no such FIFO, or nobody reading it: no bytes
            self.events = os.open(os.path.join(job, "events"), os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            self.events = None

    def __call__(self, line):
        os.write(self.fd, line.encode() + b"\n")
        if self.events is not None:
            try:
                os.write(self.events, b".")
            except OSError:  # full: the grader has a wake-up waiting already
                pass


def _write_all(fd, data):
    while data:
        try:
            data = data[os.write(fd, data) :]
        except OSError:
            return


def main(argv):
    if "--await-job" in argv:
        # Started early, while the grader is still starting up: wait for the job, then run it.
        line = sys.stdin.readline()
        if not line.strip():
            return 0
        request = json.loads(line)
        argv = [argv[0], request["job"], "--calls", ",".join(map(str, request["calls"]))]
    job = os.path.abspath(argv[1])
    calls_wanted = [int(i) for i in argv[3].split(",") if i] if len(argv) > 3 and argv[2] == "--calls" else []
    out = os.path.join(job, "box", "out")
    cap = _OutputCap()
    try:
        code = _run(job, out, calls_wanted)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        # The student's files filled the sandbox's writable space: the grader names it from outside.
        _write_all(2, b"the harness could not write its results: no space left in the sandbox\n")
        code = 1
    finally:
        cap.finish(out)
    if code is STOPPED:
        os._exit(0)  # the grader has read everything: no interpreter teardown, no student atexit hooks
    return code


def _load(job):
    with open(os.path.join(job, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    with open(os.path.join(job, "inputs.bin"), "rb") as f:
        data = f.read()
    inputs = {}
    for name, (dtype, shape, offset) in plan["arrays"].items():
        count = 1
        for n in shape:
            count *= n
        inputs[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset).reshape(tuple(shape))
    return plan, inputs


def _await_round(job, number):
    """The calls of the next round (plan "rounds"): the grader renames round-N.json into the job folder.
    None when it asks for no more, or never does (the grader is gone)."""
    path = os.path.join(job, f"round-{number}.json")
    deadline = time.monotonic() + ROUND_WAIT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.002)
    with open(path, encoding="utf-8") as f:
        calls = [int(i) for i in json.load(f)["calls"]]
    return calls or None


def _run(job, out, calls_wanted):
    t0 = time.perf_counter()
    plan, inputs = _load(job)
    mark = _Marks(plan.get("marks"))
    mark.t = t0
    mark("load")
    submission = os.path.join(job, "submission")
    progress = _Progress(job, out)
    progress("import")
    sys.path.insert(0, submission)
    os.chdir(os.path.join(job, "box", "work"))
    try:
        module = __import__(plan["module"])
    except BaseException as e:  # anything at import time costs the whole submission, with a clear message
        if isinstance(e, SystemExit):
            message = f"backprop.py called sys.exit({e.code!r}) while being imported"
        elif isinstance(e, (Exception, KeyboardInterrupt)):
            message = _describe(e, submission)
        else:
            message = f"importing backprop.py raised {type(e).__name__}"
        _write_json(os.path.join(out, "import.json"), {"ok": False, "message": message})
        mark("import")
        mark.write(out)
        return 0
    _write_json(os.path.join(out, "import.json"), {"ok": True, "message": ""})
    mark("import")
    number = 0
    while True:
        for index in calls_wanted:
            _call(plan["calls"][index], index, module, inputs, submission, out, progress, mark, number)
        mark.write(out)
        if not plan.get("rounds"):
            return 0
        # The same process, module and imports serve the grader's next round (minimal-case candidates).
        number += 1
        calls_wanted = _await_round(job, number)
        mark("round wait")
        if calls_wanted is None:
            mark.write(out)
            return STOPPED
        plan, inputs = _load(job)
        mark("load")


def _call(call, index, module, inputs, submission, out, progress, mark, number):
    progress(f"start {index}")
    fn = getattr(module, call["function"], None)
    if not callable(fn):
        status, arrays = {"status": "error", "message": f"backprop.py does not define {call['function']}()"}, []
    else:
        status, arrays = _run_call(call, fn, inputs, submission, mark, "calls" if number == 0 else "feedback calls")
    _write_result(os.path.join(out, f"{index}.result"), status, arrays)
    progress(f"end {index}")
    mark("results")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
