"""Text for terminals: errors once, a compact table per problem, the diagnosis, and the worst element of failing
public cases."""

from __future__ import annotations

from grader.printable import printable_model
from grader.report.model import CaseReport, ProblemReport, Report
from grader.report.numbers import points
from grader.report.render_minimal import (
    NO_ANSWER,
    calendar_lines,
    error_lines,
    explore_line,
    minimal_lines,
    output_note,
    problem_status,
)

_CODES = {"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}
_STATUS_COLOUR = {"passed": "green", "failed": "red", "error": "red", "timeout": "yellow", "crashed": "red"}


def render_text(report: Report, *, color: bool = False, max_failures: int = 3) -> str:
    """The report for a terminal. Every string of the report is printable() first, so nothing a student wrote can
    move the cursor or clear the screen; what it writes over several lines is indented under a grader's line, so it
    can never pass for one (the grader's summary is the only score line at the left margin)."""

    def paint(s: str, style: str) -> str:
        return f"\033[{_CODES[style]}m{s}\033[0m" if color else s

    report = printable_model(report)
    title = "self-test on the public cases" if report.mode == "check" else f"grade of {_one_line(report.student_id)}"
    lines = [paint(f"PA5 {title}", "bold")]
    if not report.sandbox.isolated:
        lines.append(paint(f"sandbox: {report.sandbox.backend} ({report.sandbox.note})", "dim"))
    for n in report.submission_notes:
        lines += _hanging(paint(f"note: {n}", "yellow"))
    if report.error:
        lines += _hanging(paint(f"Your code could not be graded: {report.error.rstrip()}", "red"))
        if report.error_note:
            lines += _hanging(paint(f"note: {report.error_note}", "yellow"))
    if report.errors:
        lines += ["", paint("Errors (each told once, with the cases it ended):", "red")]
        for line in error_lines(report):
            lines += _hanging("  " + line)
    lines.append("")
    width = max(len(p.id) for p in report.problems) if report.problems else 8
    for p in report.problems:
        passed = sum(c.status == "passed" for c in p.cases)
        random_failed = _random_failed(report, p.id)
        mark = paint("PASS", "green") if passed == len(p.cases) and not random_failed else paint("FAIL", "red")
        score = f"{points(p.score):>6}/{points(p.max_score):<6}"
        lines.append(f"{mark}  {p.id:<{width}}  {passed:>2}/{len(p.cases):<2} cases  {score} {p.title} ({p.section})")
        if report.error:
            continue
        lines += ["      " + line for line in _diagnosis_lines(p, paint)]
        if random_failed:
            lines.append(f"      random checks: {random_failed} failed (--explore)")
        # Calls that raised are told once, in Errors; here only the answers that came back wrong.
        failing = [c for c in p.cases if c.status != "passed" and not (report.errors and c.status in NO_ANSWER)]
        shown = failing[:max_failures]
        for c in shown:
            lines += ["      " + line for line in _case_lines(c, paint)]
        more = len(failing) - len(shown)
        if more > 0:
            lines.append(paint(f"      ... and {more} more failing case(s)", "dim"))
        lines += ["      " + line for line in minimal_lines(p)]
        notes = sorted({n for c in p.cases for n in c.notes})
        lines += [paint(f"      note: {_one_line(n)}", "dim") for n in notes[:3]]
    if report.explore:
        lines += ["", explore_line(report)]
    if report.output.text.strip():
        cut = f" ({output_note(report)})" if report.output.truncated else ""
        lines += ["", paint(f"Output of your code{cut}:", "dim")]
        lines += ["  | " + line for line in _capped(report.output.text)]
    calendar = calendar_lines(report)
    if calendar:
        lines += ["", *(paint(_one_line(line), "yellow") for line in calendar)]
    ok = sum(all(c.status == "passed" for c in p.cases) and not _random_failed(report, p.id) for p in report.problems)
    summary = f"{ok} of {len(report.problems)} problems pass; score {points(report.score)} / {points(report.max_score)}"
    lines += ["", paint(summary, "green" if report.passed else "red")]
    return "\n".join(lines) + "\n"


def _one_line(text: str | None) -> str:
    """A printable() string for a slot of one line: its newlines shown as \\n."""
    return str(text).replace("\n", "\\n")


def _capped(text: str, max_lines: int = 40, max_line: int = 200, max_chars: int = 4000) -> list[str]:
    """The output as the terminal shows it: so many lines, each so long, so many characters in all."""
    out, used = [], 0
    lines = text.rstrip().splitlines()
    for n, line in enumerate(lines):
        if n == max_lines or used >= max_chars:
            out.append(f"[... {len(lines) - n} more line(s) not shown; the JSON report has the kept output]")
            break
        if len(line) > max_line:
            line = line[:max_line] + f" [... {len(line) - max_line} more characters]"
        out.append(line)
        used += len(line)
    return out


def _random_failed(report: Report, pid: str) -> int:
    return sum(e.failed for e in report.explore.problems if e.id == pid) if report.explore else 0


def _diagnosis_lines(p: ProblemReport, paint) -> list[str]:
    status = problem_status(p)
    if status is None:
        return []
    head, rest = status
    return [f"{paint(head, 'yellow')} {rest}"]


def _shapes(c: CaseReport) -> str:
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in c.shapes.items())


def _hanging(text: str) -> list[str]:
    """A line of the grader's and what follows it: any further lines (a student's text) indented under it, never at
    the margin, where a printed line could pass for the grader's own."""
    first, *rest = text.split("\n")
    return [first, *("      " + line for line in rest)]


def _case_lines(c: CaseReport, paint) -> list[str]:
    kind = "hidden" if c.hidden else "public"
    first = c.message.splitlines()[0] if c.message else ""
    about = ", ".join(c.tags) + (f"; {_shapes(c)}" if c.shapes else "")
    # A case's own match is not shown: one case is not evidence enough for a name (and its id is no words).
    out = [f"{paint(c.status, _STATUS_COLOUR[c.status])} {c.id} ({kind}{', ' + about if about else ''}): {first}"]
    out += ["    " + line for line in c.message.splitlines()[1:6]]
    if c.worst and not c.hidden:
        out.append(f"    worst at index {c.worst.index}: got {c.worst.got:.6g}, expected {c.worst.expected:.6g}")
    return out
