"""One run forked from a template: its request, its FIFOs (the student's output, the harness's progress)
and how it ended."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox.bwrap.control import Template, TemplateDied
from grader.sandbox.bwrap.wakeups import Wakeups, fifo
from grader.sandbox.exits import describe_signal_exit
from grader.sandbox.launch import rlimits
from grader.sandbox.storage import box_quota, capped, give

if TYPE_CHECKING:
    from grader.sandbox.bwrap.template import ForkBackend
    from grader.sandbox.capture import Capture
    from grader.spec import Limits

SETUP_FAILED = 71  # zygote.py's exit code when a child could not build its sandbox


class ForkAttempt:
    def __init__(self, template: Template, fifos: list[int], stream, reader: threading.Thread, events: int):
        self.template, self.fifos, self.stream, self.reader, self.events = template, fifos, stream, reader, events
        self.code: int | None = None
        self.wakeups = Wakeups()

    def poll(self, timeout: float, *, progress: bool = False) -> int | None:
        """The exit code, None after `timeout`; with `progress`, None also as soon as the harness reports
        progress (JOB/events), but at most every WAKE_GAP: student code can write there too."""
        if self.code is None:
            try:
                line = self._line(timeout) if progress else self.template.line(timeout)
            except TemplateDied:
                line = f"exit {128 + 9}"
            if line is None:
                return None
            if not line.startswith("exit "):  # not a line the template writes: never trust it again
                self.template.broken = True
                line = f"exit {128 + 9}"
            code = int(line.split()[1])
            self.code = -(code - 128) if code > 128 else code
        return self.code

    def _line(self, timeout: float) -> str | None:
        return self.wakeups.wait(timeout, self.template.line, lambda t: self.template.line(t, self.events))

    def kill(self) -> None:
        if self.code is None and not self.template.send({"kill": True}):
            self.template.destroy()

    def describe_exit(self, code: int) -> str:
        if code == SETUP_FAILED:
            return "the sandbox could not be set up for this run"
        return describe_signal_exit(code)


class ForkSession:
    def __init__(self, backend: ForkBackend, job: Path, template: Template):
        self.backend, self.job, self.template = backend, job, template

    def start(self, calls: list[int], capture: Capture, limits: Limits) -> ForkAttempt:
        if not self.template.alive():  # it died or was destroyed in an earlier attempt
            self.template.destroy()
            self.template = self.backend.take()
            give(self.job, self.template.uid)
        read_fd, write_fd = fifo(self.job / "stdout", self.template.uid)
        events, events_writer = fifo(self.job / "events", self.template.uid)  # see harness.py's _Progress
        os.set_blocking(read_fd, True)
        stream = os.fdopen(read_fd, "rb", buffering=0)
        reader = capture.drain(stream)
        pairs = rlimits(limits, count_processes=self.template.uid is not None)
        request = {
            "job": self.job.name,
            "calls": calls,
            "rlimits": [[w, s, h] for w, (s, h) in pairs],
            "quota": None if capped(self.job) else box_quota(limits),
        }
        attempt = ForkAttempt(self.template, [write_fd, events, events_writer], stream, reader, events)
        if not self.template.send(request):
            attempt.code = -9
        return attempt

    def finish(self, attempt: ForkAttempt) -> None:
        if attempt.poll(0) is None:
            attempt.kill()
            if attempt.poll(5) is None:  # it would not end: the template goes
                self.template.destroy()
        for fd in attempt.fifos:
            os.close(fd)
        attempt.reader.join(5)
        attempt.stream.close()
        for name in ("stdout", "events"):
            (self.job / name).unlink(missing_ok=True)

    def close(self) -> None:
        template, self.template = self.template, None
        if template is not None:
            self.backend._put(template)
