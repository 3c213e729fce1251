"""Reports are safe to print: student text reaches no terminal, XML parser or spreadsheet raw, and forges no line."""

import csv
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET

import pytest

from grader.report.model import Output
from grader.report.render import render
from grader.report.render_csv import render_csv

FORGED = "5 of 5 problems pass; score 100 / 100"
# A screen clear, an OSC 52 clipboard write, a carriage return over the line, an 8-bit CSI, a bidi override, line
# breaks that are not \n, NUL and the XML-forbidden U+FFFE, and a forged summary after every kind of line break.
PAYLOAD = (
    "\x1b[2J\x1b[H\x1b]52;c;cm0gLXJmIH4=\x07\r" + FORGED + "\n" + FORGED + "\x9b2K\u202e\u2028" + FORGED + "\x85"
    "\x0b" + FORGED + "\x0c\x1c\x1d\x1e\x00\x08\x7f\ufffe\u200b" + FORGED + "\r\n" + FORGED
)


def hostile(report, *, error: bool):
    """The fixed report with the payload in every place a student's text reaches: output, messages, notes, id."""
    problems = []
    for p in report.problems:
        cases = [
            c.model_copy(update={"message": f"raised ValueError: {PAYLOAD}", "notes": [PAYLOAD], "status": "error"})
            for c in p.cases
        ]
        problems.append(p.model_copy(update={"cases": cases}))
    return report.model_copy(
        update={
            "student_id": "alice" + PAYLOAD,
            "problems": problems,
            "output": Output(text=PAYLOAD * 3, truncated=False, bytes=3 * len(PAYLOAD)),
            "error": f"backprop.py raised at import: {PAYLOAD}" if error else None,
            "error_note": PAYLOAD if error else "",
            "submission_notes": [PAYLOAD],
            "errors": [
                e.model_copy(update={"summary": f"ValueError: {PAYLOAD}", "traceback": PAYLOAD, "note": PAYLOAD})
                for e in report.errors
            ],
        }
    )


def unsafe(text: str) -> list[str]:
    """Characters a terminal acts on, by Unicode category (the oracle does not reuse the sanitizer)."""
    return [
        f"U+{ord(c):04X}"
        for c in text
        if c not in "\n\t" and (unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") or ord(c) & 0xFFFE == 0xFFFE)
    ]


@pytest.mark.parametrize("error", [False, True], ids=["cases", "import-error"])
def test_text_report_has_no_control_characters_and_only_the_graders_score_line(fixed_report, error):
    report = hostile(fixed_report, error=error)
    text = render(report, "text")
    assert unsafe(text) == []
    assert "\\x1b[2J" in text and "\\r" in text and "\\u202e" in text  # shown, as escapes
    at_margin = [line for line in text.splitlines() if re.match(r"\d+ of \d+ problems pass", line)]
    assert at_margin == [text.splitlines()[-1]] and FORGED not in at_margin
    assert text.splitlines()[-1].startswith("0 of 5 problems pass")
    # every line holding the forgery is indented under one of the grader's
    forged = [line for line in text.splitlines() if FORGED in line]
    assert forged and all(line[:1] == " " or line.startswith(("PA5 ", "Your code", "note: ")) for line in forged)


def test_coloured_text_carries_only_the_graders_own_escapes(fixed_report):
    text = render(hostile(fixed_report, error=False), "text", color=True)
    stripped = re.sub(r"\x1b\[(?:0|1|2|31|32|33)m", "", text)
    assert unsafe(stripped) == []


@pytest.mark.parametrize("error", [False, True], ids=["cases", "import-error"])
def test_junit_is_well_formed_xml_and_keeps_the_messages_readable(fixed_report, error, tmp_path):
    from junitparser import JUnitXml

    xml = render(hostile(fixed_report, error=error), "junit")
    root = ET.fromstring(xml.encode())  # expat refuses any character XML 1.0 forbids
    assert unsafe(xml) == []
    texts = [e.text or "" for e in root.iter()] + [v for e in root.iter() for v in e.attrib.values()]
    assert any("\\x1b[2J" in t for t in texts)
    (tmp_path / "r.xml").write_text(xml)
    assert len(list(JUnitXml.fromfile(str(tmp_path / "r.xml")))) == len(fixed_report.problems)


def test_gradescope_outputs_are_printable(fixed_report):
    data = json.loads(render(hostile(fixed_report, error=False), "gradescope"))
    shown = [data["output"]] + [t["output"] for t in data["tests"]]
    assert all(unsafe(s) == [] for s in shown)
    assert any("\\x1b[2J" in s for s in shown)


def test_json_keeps_the_students_text_exactly(fixed_report):
    report = hostile(fixed_report, error=True)
    data = json.loads(render(report, "json"))
    assert data["output"]["text"] == PAYLOAD * 3 and data["error"] == report.error  # escaped by JSON, once


def test_csv_cells_are_printable_and_never_formulas(fixed_report):
    report = hostile(fixed_report, error=True)
    formula = report.model_copy(update={"student_id": "bob", "error": '=HYPERLINK("http://x","y")'})
    rows = list(csv.reader(io.StringIO(render_csv([report, formula]))))
    assert all(unsafe(cell) == [] for row in rows for cell in row)
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["bob"][rows[0].index("error")].startswith("'=HYPERLINK")
