"""Text a student controls, made safe to show a person: control and invisible characters become visible escapes."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the command line prints messages without importing pydantic
    from pydantic import BaseModel

# Everything outside printable ASCII is a candidate; most of it (letters, accents, CJK) is kept after a look-up.
_CANDIDATE = re.compile(r"[^\x20-\x7e\t\n]")
_ONE_LINE = re.compile(r"[^\x20-\x7e]")
# Cc: C0, DEL, C1 (ESC starts ANSI and OSC sequences, U+009B is an 8-bit CSI, \r overwrites a line);
# Cf: bidi overrides, zero-width characters; Zl, Zp: line breaks that str.splitlines() and some viewers honour;
# Cs: lone surrogates. Noncharacters (U+FFFE, U+FFFF, ...) are, with Cc and Cs, what XML 1.0 forbids.
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
M = TypeVar("M", bound="BaseModel")


def _unsafe(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) in _UNSAFE or 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def escape(ch: str) -> str:
    """One character as a visible escape: \\r, \\x1b, \\u202e, \\U000e0041."""
    cp = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _sub(match: re.Match) -> str:
    ch = match.group()
    return escape(ch) if ch in _NAMED or _unsafe(ch) else ch


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with every control, format and line-separator character shown as an escape.

    Newline and tab are kept, unless `one_line`, where a newline is shown as \\n too (a line the grader writes must
    not be split into one a student wrote). Idempotent: its output has nothing left to escape.
    """
    return (_ONE_LINE if one_line else _CANDIDATE).sub(_sub, text)


def _clean(value):
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def printable_model(model: M) -> M:
    """A copy of `model` whose every string, at any depth and in any field, new ones included, is printable()."""
    return type(model).model_validate(_clean(model.model_dump()))
