"""`serve`'s embedded pool in a process of its own: the web server's interpreter answers requests, the worker
process's grades, and neither waits for the other's GIL (in a deadline burst the uploads held it most of the time,
and the graders waited).

The parent (WorkerProcess, a Dispatcher) starts `python -m grader.service.ops.workers` and talks to it over the
child's stdin and stdout, nothing else:
- stdin: one JSON line (the settings, the spec and the grading secret: never on a command line or in the
  environment), then `g` once the app starts, then one byte per notify; end of file means stop. A parent that
  dies, however it dies, so stops its workers.
- stdout: one line, `ready DESCRIPTION` once the sandbox is up (warm pool included), or `error MESSAGE`; so
  a sandbox that cannot start fails `serve` before its port opens, as it always did. The child's stdout is its
  stderr after that line.
The child runs the one EmbeddedDispatcher (leases, the keeper, stuck-thread replacement, recovery): what it did
in the server's process, it does here. A child that dies is started again; the jobs it held return to the queue
when their leases expire, as any dead worker's do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

from grader.errors import GraderError
from grader.service.ops.settings import ServiceSettings
from grader.spec import Spec

log = logging.getLogger("pa5-grader.service")

READY_SECONDS = 300  # a Docker warm pool of several workers can take a while; a hung start must not hang serve
STOP_SECONDS = 45  # the child's own stop waits 30 s for its grades to hand back
RESPAWN_SECONDS = 1.0
CHILD = [sys.executable, "-m", "grader.service.ops.workers"]  # the worker process's command line


class WorkerProcess:
    """A Dispatcher whose workers run in a child process (see the module's docstring)."""

    def __init__(self, settings: ServiceSettings, spec: Spec, secret: bytes, *, ready_seconds: float = READY_SECONDS):
        self.settings, self.spec, self.secret, self.ready_seconds = settings, spec, secret, ready_seconds
        self.proc: subprocess.Popen | None = None
        self.description = ""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = False

    def open(self) -> str:
        """Start the child and wait until its sandbox is up; raise GraderError (its message) if it cannot."""
        self.proc = self._spawn()
        return self.description

    def _spawn(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            CHILD,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C at a terminal reaches serve, which stops the child in order
        )
        try:
            config = {
                "settings": self.settings.model_dump(mode="json"),
                "spec": self.spec.model_dump(mode="json"),
                "secret": self.secret.hex(),
            }
            proc.stdin.write(json.dumps(config).encode() + b"\n")
            proc.stdin.flush()
            line = _read_line(proc, self.ready_seconds)
        except BaseException:
            _end(proc, 0)
            raise
        word, _, rest = line.partition(" ")
        if word != "ready":
            _end(proc, STOP_SECONDS)
            raise GraderError(rest if word == "error" else f"the worker process did not start ({line or 'no answer'})")
        self.description = f"{rest}, in worker process {proc.pid}"
        return proc

    def start(self) -> None:
        with self._lock:
            self._started = True
            self._go(self.proc)
        threading.Thread(target=self._watch, name="pa5-workers", daemon=True).start()

    @staticmethod
    def _go(proc: subprocess.Popen) -> None:
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.write(b"g")
            proc.stdin.flush()
            os.set_blocking(proc.stdin.fileno(), False)  # a notify never blocks a request, whatever the child does

    def notify(self, job_id: int) -> None:
        """A hint (the child also polls): one byte, dropped if the pipe is full or the child is being replaced."""
        proc = self.proc
        if proc is None or not self._started:
            return
        with contextlib.suppress(OSError, ValueError):
            os.write(proc.stdin.fileno(), b"n")

    def _watch(self) -> None:
        """Start the child again whenever it dies while the service runs."""
        while not self._stopping.is_set():
            proc = self.proc
            code = proc.wait()
            if self._stopping.is_set():
                return
            log.error("the worker process %s exited (%s); starting another", proc.pid, _how(code))
            _end(proc, 0)  # its pipes, closed: a child started again and again leaks no descriptors
            while not self._stopping.wait(RESPAWN_SECONDS):
                try:
                    new = self._spawn()
                except (GraderError, OSError) as e:
                    log.error("the worker process could not start again: %s; trying again", e)
                    continue
                with self._lock:
                    if self._stopping.is_set():
                        _end(new, STOP_SECONDS)
                        return
                    self.proc = new
                    self._go(new)
                log.warning("grading again, %s", self.description)
                break

    def stop(self) -> None:
        """End of file on the child's stdin: it stops claiming, hands its running jobs back, and exits."""
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is not None:
            _end(proc, STOP_SECONDS)


def _read_line(proc: subprocess.Popen, seconds: float) -> str:
    """The child's first line, or '' if it closed stdout or said nothing for `seconds`."""
    fd, deadline, buf = proc.stdout.fileno(), time.monotonic() + seconds, b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return ""
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def _end(proc: subprocess.Popen, seconds: float) -> None:
    """Close the child's stdin (its signal to stop) and wait for it; kill it after `seconds`."""
    with contextlib.suppress(OSError, ValueError):
        proc.stdin.close()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        log.error("the worker process %s did not stop within %s s; killing it", proc.pid, seconds)
        proc.kill()
        proc.wait()
    with contextlib.suppress(OSError, ValueError):
        proc.stdout.close()


def _how(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


# -- the child ----------------------------------------------------------------------------------------------------


def child_main() -> int:
    line = b""
    while not line.endswith(b"\n"):  # unbuffered: what follows the line is read by os.read below
        byte = os.read(0, 1)
        if not byte:
            return 2
        line += byte
    config = json.loads(line)
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to the log, never into the parent's pipe
    settings = ServiceSettings.model_validate(config["settings"])
    spec = Spec.model_validate(config["spec"])
    secret = bytes.fromhex(config["secret"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    from grader.service.ops.serve import embedded_pool

    try:
        from grader.service.ops.admin import open_store

        store = open_store(
            settings.data_dir, settings.database_url, max_attempts=settings.max_attempts, queue_cap=settings.queue_cap
        )
        pool = embedded_pool(settings, store, spec, secret)
        dispatcher, description = pool.__enter__()
    except GraderError as e:
        answer.write("error " + " ".join(str(e).split()) + "\n")
        answer.close()
        return 2
    try:
        answer.write(f"ready {description}\n")
        answer.close()
        first = os.read(0, 1)
        if first == b"g":
            dispatcher.start()
            threading.Thread(target=_read_notes, args=(dispatcher, stop), daemon=True).start()
            while not stop.wait(1.0):
                pass
    finally:
        dispatcher.stop()
        pool.__exit__(None, None, None)
        store.engine.dispose()
    return 0


def _read_notes(dispatcher, stop: threading.Event) -> None:
    """Each read of stdin is one notify however many bytes it brought; end of file stops the child."""
    try:
        while os.read(0, 4096):
            dispatcher.notify(0)
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(child_main())
