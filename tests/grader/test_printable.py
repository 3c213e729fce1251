"""printable(): what a student wrote, with nothing left that a terminal, an XML parser or a viewer would act on."""

import unicodedata

import pytest

from grader.printable import printable, printable_model
from grader.report.model import Output

# Every code point a terminal or viewer acts on, by hand: C0 but newline and tab, DEL, C1, bidi and zero-width
# format characters, Unicode line and paragraph separators, a lone surrogate, noncharacters.
HOSTILE = (
    [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + ["\u200b", "\u200e", "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad", "\U000e0041"]
    + ["\u2028", "\u2029", "\ud800", "\ufffe", "\uffff", "\U0001ffff", "\ufdd0"]
)


@pytest.mark.parametrize("ch", HOSTILE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_each_hostile_character_becomes_a_visible_escape(ch):
    out = printable(f"a{ch}b")
    assert out.startswith("a\\") and out.endswith("b") and ch not in out
    assert all(0x20 <= ord(c) < 0x7F for c in out)


def test_the_escapes_name_the_code_point():
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable("x\ry") == "x\\ry"
    assert printable("\x9b31m") == "\\x9b31m"
    assert printable("\u202eevil") == "\\u202eevil"
    assert printable("\U000e0041") == "\\U000e0041"


def test_text_and_line_breaks_are_kept_and_it_is_idempotent():
    text = "conv_backward raised ValueError: größe 7x13 不对\n\tline two ✓ 😀"
    assert printable(text) == text
    hostile = "".join(HOSTILE) + text
    assert printable(printable(hostile)) == printable(hostile)


def test_one_line_also_shows_newlines_and_tabs():
    assert printable("a\nb\tc", one_line=True) == "a\\nb\\tc"
    assert "\n" not in printable("x\n\u2028\r\n", one_line=True)


def test_nothing_hostile_survives_in_any_character_of_the_unicode_range():
    everything = "".join(chr(c) for c in range(0x110000))
    out = printable(everything)
    for c in set(out):
        if c in "\n\t":
            continue
        assert unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), f"U+{ord(c):04X}"
        assert not (0xFDD0 <= ord(c) <= 0xFDEF or ord(c) & 0xFFFE == 0xFFFE), f"U+{ord(c):04X}"


def test_printable_model_reaches_every_string_field():
    o = printable_model(Output(text="a\x1b[2Jb", truncated=False))
    assert o == Output(text="a\\x1b[2Jb", truncated=False)
