"""One template: a bubblewrap sandbox running zygote.py, and the pipes that control it.

Its stdout carries only `ready` and `exit CODE`; when it misbehaves it is destroyed and replaced, never
trusted again (see template.py).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time

from grader.errors import SandboxUnavailable
from grader.sandbox import reaper, seccomp
from grader.sandbox.bwrap.wakeups import drain
from grader.sandbox.launch import sandbox_env

START_SECONDS = 30  # for a template to import numpy and scipy and say `ready`


class TemplateDied(Exception):
    pass


class Template:
    """One zygote sandbox and its control pipes."""

    def __init__(self, command: list[str], uid: int | None, numbers: dict[str, int]):
        self.uid, self.buffer, self.broken, self.ready = uid, b"", False, False
        # A file, not a pipe: nobody reads it until the template fails, and a full pipe would block a writer.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the template; closed in destroy)
        self.proc = subprocess.Popen(
            command,
            cwd="/",
            env=sandbox_env(job="/job", tmp="/tmp"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            start_new_session=True,
            preexec_fn=seccomp.new_session_keyring(numbers),  # not the grader's: each run then makes its own
            **reaper.ids(uid),
        )

    def wait_ready(self) -> None:
        """Once: wait for its `ready` (numpy and scipy imported); SandboxUnavailable, and destroyed, if it fails."""
        if self.ready:
            return
        try:
            line = self.line(START_SECONDS)
        except TemplateDied:
            line = None
        if line != "ready":
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                pass
            err = self.stderr()
            self.destroy()
            raise SandboxUnavailable(f"the bwrap template did not start ({err or line or 'no answer'})")
        self.ready = True

    def line(self, timeout: float, wake: int | None = None) -> str | None:
        """The next control line, None after `timeout` (or as soon as `wake`, a non-blocking fd, has bytes,
        which are read); TemplateDied when its stdout closed, or when its bwrap has exited (checked every
        0.1 s: what that bwrap started may still hold the pipe)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        watched = [fd] if wake is None else [fd, wake]
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select.select(watched, [], [], min(left, 0.1))[0]
            if not ready:
                if self.proc.poll() is not None:
                    self.broken = True
                    raise TemplateDied()
                continue
            if fd not in ready:
                drain(wake)
                return None
            data = os.read(fd, 4096)
            if not data:
                self.broken = True
                raise TemplateDied()
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip()

    def send(self, message: dict) -> bool:
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            self.broken = True
            return False

    def stderr(self) -> str:
        """The last line the template (or a child that failed to set up) wrote to its stderr."""
        self.errors.seek(max(0, os.fstat(self.errors.fileno()).st_size - 8000))
        lines = self.errors.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else ""

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def destroy(self) -> None:
        self.broken = True
        reaper.kill_group(self.proc)
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.errors):
            f.close()
        if self.uid is not None:
            reaper.kill_uid(self.uid)
            reaper.release_uid(self.uid)
            self.uid = None
