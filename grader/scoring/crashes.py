"""Errors told once: the graded calls that returned no answer, grouped by what they raised and where.

A bug that raises in every call would otherwise print its traceback once per case and per problem. Here each
distinct error becomes one CallError with the cases it cost, its traceback once, and a word on what to do.
"""

from __future__ import annotations

import re

from grader.contract import ALLOWED_PACKAGES, LAYERS, layer_of
from grader.report.model import CallError, ProblemReport

NO_ANSWER = ("error", "crashed", "timeout")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*): (?P<text>.*)$")
_MISSING = re.compile(r"(?:ModuleNotFoundError|ImportError)\b[^\n]*?No module named '(?P<module>[^']+)'")


def call_errors(problems: list[ProblemReport]) -> list[CallError]:
    """Each distinct error of the graded calls, once, in the order of the problems and cases it first cost."""
    groups: dict[tuple, dict] = {}
    # Public cases first, so an error they share with hidden ones is told in a public case's words.
    ordered = [(p, c) for hidden in (False, True) for p in problems for c in p.cases if c.hidden == hidden]
    for p, c in ordered:
        layer = layer_of(p.id)
        if c.status in NO_ANSWER and c.message:
            key, summary, traceback = _parse(layer.function, c.message)
            g = groups.setdefault(
                (layer.function, *key),
                {"summary": summary, "traceback": traceback, "layer": layer.name, "cases": {}, "problems": {}},
            )
            g["cases"][c.id] = None
            g["problems"][p.id] = None
    order = {c.id: n for n, c in enumerate(c for p in problems for c in p.cases)}
    totals = {
        layer.name: max((len(p.cases) for p in problems if layer_of(p.id) is layer), default=0)
        for layer in LAYERS.values()
    }
    return [
        CallError(
            function=key[0],
            summary=g["summary"],
            traceback=g["traceback"],
            note=missing_module_note(g["summary"]),
            cases=sorted(g["cases"], key=order.__getitem__),
            of=totals[g["layer"]],
            problems=[p.id for p in problems if p.id in g["problems"]],
        )
        for key, g in groups.items()
    ]


def _parse(function: str, message: str) -> tuple[tuple, str, str]:
    """(grouping key, one-line summary, traceback) of one call's message, as the harness writes it:
    `Type: text` and the student's own frames, innermost last; or a plain sentence."""
    first, *rest = message.splitlines()
    frames = [m for m in map(_FRAME.match, rest) if m]
    exc = _EXCEPTION.match(first)
    if exc and frames:
        f = frames[-1]
        where = (
            f"{f['func']}, line {f['line']}"
            if f["file"] == "backprop.py"
            else f"{f['func']} ({f['file']}, line {f['line']})"
        )
        key = (exc["type"], f["file"], f["line"])
        return key, f"{exc['type']} in {where}: {exc['text']}", "\n".join(rest)
    summary = first if function in first else f"{function}: {first}"
    return (first,), summary, "\n".join(rest)


def missing_module_note(message: str | None) -> str:
    """For an import of a module the sandbox lacks: which modules there are."""
    m = _MISSING.search(message or "")
    if not m:
        return ""
    have = ", ".join(ALLOWED_PACKAGES)
    return (
        f"the grader runs your code with {have} and the Python standard library only (and your own modules beside "
        f"backprop.py): '{m['module'].split('.')[0]}' is not available, so write that part with numpy"
    )
