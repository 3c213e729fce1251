"""Minimal failing cases, errors, problem statuses and random-check summaries as plain text, shared by the text,
Gradescope and JUnit renderers (and, through filters, the web page)."""

from __future__ import annotations

import numpy as np

from grader.contract import LAYERS
from grader.report.model import CallError, MinimalCase, ProblemReport, Report
from grader.report.numbers import duration, points

NO_ANSWER = ("error", "crashed", "timeout")


def _array(value) -> str:
    if isinstance(value, int):
        return str(value)
    a = np.asarray(value, dtype=float)
    return np.array2string(a, separator=", ", formatter={"float_kind": lambda v: f"{v:.6g}"}, threshold=10**6)


def _shape(shape: list[int] | None) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def minimal_lines(p: ProblemReport) -> list[str]:
    """The inputs, what came back and what was expected, one block per value, in full."""
    m: MinimalCase | None = p.minimal_case
    if m is None:
        return []
    out_name = p.id.split(".", 1)[1]
    width = max(len(k) for k in m.inputs) + 1
    lines = [f"smallest failing input found: {m.call} with"]
    for name, value in m.inputs.items():
        shape = f" ({_shape(m.shapes.get(name))})" if name in m.shapes else ""
        lines += _block(f"  {name:<{width}}{shape} = ", _array(value))
    got = "nothing" if m.got is None else None
    if got:
        lines.append(f"  {out_name} returned: {got}")
    else:
        lines += _block(f"  {out_name} returned ({_shape(m.got_shape)}): ", _array(m.got))
    lines += _block(f"  {out_name} expected ({_shape(m.expected_shape)}): ", _array(m.expected))
    lines.append(f"  ({m.message.splitlines()[0] if m.message else 'wrong'})")
    return lines


def minimal_line(p: ProblemReport) -> str:
    """The same on one line, for places that hold one (JUnit properties)."""
    m = p.minimal_case
    if m is None:
        return ""
    args = ", ".join(f"{k}={_flat(v)}" for k, v in m.inputs.items())
    got = "nothing" if m.got is None else _flat(m.got)
    return f"{m.call.split('(')[0]}({args}) returned {got}, expected {_flat(m.expected)}"


def _flat(value) -> str:
    return " ".join(_array(value).split())


def _block(head: str, text: str) -> list[str]:
    first, *rest = text.splitlines()
    return [head + first] + [" " * len(head) + line for line in rest]


def explore_line(report: Report) -> str:
    """One line on check --explore: how many random cases, the seed, what failed and how to replay it."""
    e = report.explore
    if e is None:
        return ""
    head = f"random checks: {e.requested} cases, seed {e.seed}"
    failed = [p for p in e.problems if p.failed]
    if not failed:
        return f"{head}: all pass"
    which = ", ".join(f"{p.id} {p.failed} of {p.ran}" for p in failed)
    return f"{head}: failures in {which}; replay them with --explore {e.requested} --seed {e.seed}"


def output_note(report: Report) -> str:
    """What happened to a long output, when the middle was cut: it was discarded, and it costs nothing."""
    o = report.output
    if not o.truncated:
        return ""
    printed = f"{o.bytes / (1 << 20):.1f} MiB" if o.bytes >= 1 << 20 else f"{o.bytes} bytes"
    return f"your code printed {printed}: only its beginning and end are kept (output never costs points)"


def affected(e: CallError) -> str:
    """Which calls an error ended: every fc case (6), or 3 of 19 conv cases."""
    layer = next((name for name, layer in LAYERS.items() if layer.function == e.function), e.function)
    n = len(e.cases)
    if n == e.of:
        return f"every {layer} case ({n})"
    ids = ", ".join(e.cases[:4]) + (", ..." if n > 4 else "")
    return f"{n} of {e.of} {layer} case{'s' if e.of != 1 else ''} ({ids})"


def error_lines(report: Report) -> list[str]:
    """Each distinct error once: what and where, the calls it ended, its traceback, and what to do."""
    lines = []
    for e in report.errors:
        lines.append(f"{e.summary} \u2014 {affected(e)}")
        lines += ["  " + line for line in e.traceback.splitlines()]
        if e.note:
            lines.append(f"  note: {e.note}")
    return lines


def problem_status(p: ProblemReport) -> tuple[str, str] | None:
    """A failing problem's headline: its likely mistake, that its calls only raised, or that no mistake is known.
    None when it passes."""
    failing = [c for c in p.cases if c.status != "passed"]
    if not failing:
        return None
    answered = sum(c.status == "failed" for c in failing)
    raised = len(failing) - answered
    more = f"; {raised} more raised an error, told under Errors" if raised else ""
    d = p.diagnosis
    if d:
        cases = "failing cases that returned an answer" if d.raised else "failing cases"
        return "likely mistake:", f"{d.message} (see {d.section}; explains {d.explains} of {d.failing} {cases}{more})"
    if not answered:
        return "no answer to judge:", "every failing case ended without an answer (see Errors)"
    cases = "the failing case" if answered == 1 else f"most of the {answered} failing cases"
    if raised:
        cases = "the wrong answer" if answered == 1 else f"most of the {answered} wrong answers"
    return "no known mistake", f"explains {cases}{more}: the shapes and worst elements below may help"


def calendar_lines(report: Report) -> list[str]:
    """The service's calendar on this report: on time or how late and what it cost; what is withheld until when."""
    lines = []
    if report.late is not None:
        if report.late:
            lines.append(
                f"Accepted {duration(report.lateness_seconds or 0)} after the due date: late penalty "
                f"{points(report.penalty or 0)} of the raw score {points(report.raw_score or 0)}"
            )
        else:
            lines.append("Accepted on time")
    if report.withheld:
        lines.append(report.withheld)
    return lines
