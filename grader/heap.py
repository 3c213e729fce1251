"""Giving freed heap memory back to the system, for processes that grade one submission after another."""

from __future__ import annotations

import ctypes
import ctypes.util

try:
    _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
except (AttributeError, OSError):  # not glibc
    _malloc_trim = None


def trim() -> None:
    """glibc keeps what a process frees for its own later use, and with grading threads allocating numpy's
    temporaries in arenas of their own that keeps growing with the number of submissions graded (a 1,000-student
    batch: 62 MiB at 200, 80 MiB at 1,000); malloc_trim hands it back. A no-op without glibc."""
    if _malloc_trim is not None:
        _malloc_trim(0)
