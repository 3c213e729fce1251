"""What the command line prints of a student's text (reports, messages, progress lines) reaches no terminal raw."""

import unicodedata
from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli
from grader.service.ops import client

ROOT = Path(__file__).resolve().parents[3]
CORRECT = (ROOT / "submissions_example" / "correct" / "backprop.py").read_text()
ESCAPES = "\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\r\x9b2K\u202e"
FORGED = "5 of 5 problems pass; score 100 / 100"


def unsafe(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_check_prints_a_students_escapes_and_forged_lines_as_text(tmp_path):
    (tmp_path / "backprop.py").write_text(f"print({ESCAPES + FORGED!r})\nprint({FORGED!r})\n" + CORRECT)
    r = invoke("check", tmp_path, "--sandbox", "process")
    assert r.exit_code == 0, r.output
    assert unsafe(r.output) == [] and "\\x1b[2J" in r.output
    assert [line for line in r.output.splitlines() if line.startswith(FORGED[:8])] == [FORGED]  # the grader's, last


def test_an_import_error_message_is_shown_printable_and_indented(tmp_path):
    (tmp_path / "backprop.py").write_text(f"raise ValueError({ESCAPES + chr(10) + FORGED!r})\n")
    r = invoke("check", tmp_path, "--sandbox", "process")
    assert r.exit_code == 1
    assert unsafe(r.output) == [] and "\\x1b[2J" in r.output
    assert all(not line.startswith(FORGED) for line in r.output.splitlines())


def test_an_error_message_quoting_a_file_name_is_printable(tmp_path):
    (tmp_path / f"x{ESCAPES}.py").write_text("x = 1\n")
    r = invoke("check", tmp_path, "--sandbox", "process")
    assert r.exit_code == 2 and "has no backprop.py" in r.output
    assert unsafe(r.output) == [] and "x\\x1b[2J" in r.output


def test_batch_progress_shows_a_hostile_student_folder_name_printable(tmp_path):
    klass = tmp_path / "class"
    (klass / f"eve{ESCAPES}\nforged").mkdir(parents=True)
    (klass / f"eve{ESCAPES}\nforged" / "backprop.py").write_text(CORRECT)
    secret = tmp_path / "secret"
    secret.write_text("s\n")
    r = invoke(
        "batch", klass, "--out", tmp_path / "out", "--sandbox", "process", "--jobs", "1", "--secret-file", secret
    )
    assert r.exit_code == 0, r.output
    assert unsafe(r.output) == [] and "eve\\x1b[2J" in r.output and "\\nforged" in r.output


def test_submit_prints_what_a_service_answers_printable(tmp_path, monkeypatch):
    def fake(**kw):
        kw["on_status"]({"id": 7, "status": f"queued{ESCAPES}", "queue_position": 1})
        return client.Outcome(7, "done", 1, f"report {ESCAPES}\n", f"submission 7: {ESCAPES}")

    monkeypatch.setattr(client, "submit", fake)
    (tmp_path / "backprop.py").write_text(CORRECT)
    r = invoke("submit", tmp_path, "--server", "http://127.0.0.1:9", "--token", "t", "--wait")
    assert r.exit_code == 1
    assert unsafe(r.output) == [] and r.output.count("\\x1b[2J") == 3
