"""Plain sentences for how a sandbox process ended."""

from __future__ import annotations

import signal

_NAMES = {
    signal.SIGSEGV: "segmentation fault",
    signal.SIGXCPU: "killed: CPU time limit exceeded",
    signal.SIGXFSZ: "killed: file size limit exceeded",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGKILL: "killed",
}


def describe_signal_exit(code: int) -> str:
    """How a process ended during a call, from its exit code (negative: killed by that signal)."""
    if code >= 0:
        return f"the process exited during the call (exit code {code})"
    sig = -code
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return f"{_NAMES[sig]} ({name})" if sig in _NAMES else f"killed by {name}"
