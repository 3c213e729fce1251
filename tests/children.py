"""Children a test will signal start with the default dispositions, whatever the shell that started pytest ignores.

A non-interactive shell starts background jobs with SIGINT and SIGQUIT ignored, and a child inherits that: a
Python started so never installs its KeyboardInterrupt handler, and a Ctrl-C test would wait for nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess

SIGNALED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP)


def default_signals() -> None:
    """Popen(preexec_fn=default_signals): runs in the child between fork and exec."""
    for sig in SIGNALED:
        signal.signal(sig, signal.SIG_DFL)


def run(cmd: list[str], *, timeout: float, **kw) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) in a session of its own: on a timeout its whole group is
    killed (the sandboxes a `pa5-grader check` started included) and its pipes are read to the end and closed,
    so nothing it started outlives the test, and the test fails with what it printed."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # not yet reaped, so the group is still this child's
            out, err = proc.communicate()
            raise AssertionError(f"{cmd[:3]} did not end within {timeout:g} s:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
