"""Minimal failing cases and random-check summaries as plain text, shared by the text, Gradescope and JUnit
renderers."""

from __future__ import annotations

import numpy as np

from grader.report.model import MinimalCase, ProblemReport, Report


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
