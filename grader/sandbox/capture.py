"""Capped capture of a sandbox's output: keeps the head and the tail, counts and discards the rest.

Output never stops the sandbox: a flood costs the student only the time its own process spends printing.
"""

from __future__ import annotations

import threading
from collections import deque


class Capture:
    """Collects bytes from one or more streams, keeping `keep` bytes (half head, half tail)."""

    def __init__(self, *, keep: int):
        self.keep = keep
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            room = self.keep // 2 - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_len += len(chunk)
                while self.tail and self.tail_len - len(self.tail[0]) >= self.keep // 2:
                    self.tail_len -= len(self.tail.popleft())

    def drain(self, stream) -> threading.Thread:
        """Read a binary stream to its end in a daemon thread."""

        def pump():
            try:
                for chunk in iter(lambda: stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536), b""):
                    self.feed(chunk)
            except (OSError, ValueError):
                pass

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        return t

    def text(self, redact: tuple[str, ...] = (), paths: dict[str, str] | None = None) -> tuple[str, bool]:
        """The kept output as text, with a marker where the middle was cut, and whether it was cut.

        `redact` strings become [redacted]; `paths` rewrites job-folder paths so reports do not vary with them.
        """
        with self._lock:
            tail = b"".join(self.tail)[-(self.keep // 2) :] if self.tail else b""
            cut = self.total - len(self.head) - len(tail)
            body = self.head.decode("utf-8", "replace")
            if cut > 0:
                body += f"\n[... {cut} bytes of output cut ...]\n"
            body += tail.decode("utf-8", "replace")
        for old, new in (paths or {}).items():
            body = body.replace(old, new)
        for secret in redact:
            if secret:
                body = body.replace(secret, "[redacted]")
        return body, cut > 0
