"""Gradescope's autograder results.json, per its specification (top-level score, tests[] entries).

Hidden cases never share an entry with public ones, so their visibility can differ.
"""

from __future__ import annotations

import json
from typing import Literal

from grader.printable import printable_model
from grader.report.model import CaseReport, Diagnosis, ProblemReport, Report
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


def render_gradescope(
    report: Report, *, per: Literal["problem", "case"] = "problem", hidden_visibility: str = "after_due_date"
) -> str:
    report = printable_model(report)  # Gradescope shows these outputs to people (and can render ANSI)
    tests = []
    for n, p in enumerate(report.problems, 1):
        groups = [("public", [c for c in p.cases if not c.hidden]), ("hidden", [c for c in p.cases if c.hidden])]
        told = bool(report.errors or report.error)
        if per == "case":
            for m, c in enumerate(p.cases, 1):
                tests.append(_entry(f"{p.id} {c.id}", f"{n}.{m}", p, [c], hidden_visibility, told))
        else:
            for m, (kind, cases) in enumerate([g for g in groups if g[1]], 1):
                name = f"{p.id}: {p.title} ({kind} cases)"
                tests.append(_entry(name, f"{n}.{m}", p, cases, hidden_visibility, told))
    lines = [f"Score: {points(report.score)} / {points(report.max_score)}", *calendar_lines(report)]
    lines += [f"Note: {n}" for n in report.submission_notes]
    if report.error:
        lines.append(f"Your code could not be graded: {report.error.rstrip()}")
        if report.error_note:
            lines.append(f"Note: {report.error_note}")
    if report.errors:
        lines += ["Errors (each told once, with the cases it ended):", *error_lines(report)]
    lines += [f"{p.id}: {explained(p.diagnosis)}" for p in report.problems if p.diagnosis]
    if report.explore:
        lines.append(explore_line(report))
    if report.output.truncated:
        note = output_note(report)
        lines.append(note[0].upper() + note[1:])
    for p in report.problems:
        if p.minimal_case:  # fresh inputs, never a hidden case: safe to show before the due date
            lines += ["", f"{p.id}: " + minimal_lines(p)[0], *minimal_lines(p)[1:]]
    result = {
        "score": report.score,
        "execution_time": round(report.timing.seconds, 3),
        "output": "\n".join(lines),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(result, indent=2) + "\n"


def explained(d: Diagnosis) -> str:
    raised = f"; {d.raised} more raised an error" if d.raised else ""
    return f"{d.message} (see {d.section}; explains {d.explains} of {d.failing} failing cases{raised})"


def _entry(
    name: str, number: str, p: ProblemReport, cases: list[CaseReport], hidden_visibility: str, told: bool
) -> dict:
    max_score = sum(c.max_points for c in cases)
    score = sum(c.points for c in cases)
    ok = all(c.status == "passed" for c in cases)
    out = [f"{sum(c.status == 'passed' for c in cases)} of {len(cases)} cases passed"]
    status = problem_status(p)
    if told and status and status[0].startswith("no answer"):
        status = ("no answer to judge:", "every failing case ended without an answer (see the summary above)")
    if status and not ok:
        head, rest = status
        out.append(f"{head[0].upper()}{head[1:]} {rest}")
    raised = 0
    for c in cases:
        if c.status != "passed":
            if told and c.status in NO_ANSWER:  # told once, in the summary
                raised += 1
                continue
            out.append(f"{c.id} [{c.status}] {c.message}".rstrip())
            if c.worst:  # public cases only
                out.append(f"    worst at {c.worst.index}: got {c.worst.got:.6g}, expected {c.worst.expected:.6g}")
        out += [f"{c.id} note: {n}" for n in c.notes]
    if raised and any(c.status == "failed" for c in cases):
        out.append(f"{raised} case(s) raised an error: see the summary above")
    return {
        "name": name,
        "number": number,
        "score": round(score, 4),
        "max_score": round(max_score, 4),
        "status": "passed" if ok else "failed",
        "output": "\n".join(out),
        "visibility": hidden_visibility if any(c.hidden for c in cases) else "visible",
    }
