"""JUnit XML: a testsuite per problem, a testcase per case, points in properties; always well-formed XML 1.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.printable import printable_model
from grader.report.model import CaseReport, Report
from grader.report.numbers import points
from grader.report.render_minimal import NO_ANSWER, affected, minimal_line, output_note, problem_status


def render_junit(report: Report) -> str:
    # ElementTree writes any character as is; printable() leaves none that XML 1.0 forbids (and none a CI log
    # viewer or terminal would act on).
    report = printable_model(report)
    root = ET.Element("testsuites", name=f"pa5-grader {report.assignment}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    told = _errors_told_once(report)
    for p in report.problems:
        failures = sum(c.status == "failed" for c in p.cases)
        errors = sum(c.status in NO_ANSWER for c in p.cases)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=p.id,
            tests=str(len(p.cases)),
            failures=str(failures),
            errors=str(errors),
            skipped="0",
            time=f"{sum(c.seconds or 0 for c in p.cases):.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for k, v in (
            *(("submission_note", n) for n in (report.submission_notes if p is report.problems[0] else [])),
            *(_calendar(report) if p is report.problems[0] else []),
            ("title", p.title),
            ("section", p.section),
            ("score", points(p.score)),
            ("max_score", points(p.max_score)),
        ):
            ET.SubElement(props, "property", name=k, value=v)
        status = problem_status(p)
        if status and not p.diagnosis and not report.error:
            ET.SubElement(props, "property", name="status", value=" ".join(status))
        if p.diagnosis:
            ET.SubElement(
                props, "property", name="diagnosis", value=f"{p.diagnosis.message} (see {p.diagnosis.section})"
            )
            ET.SubElement(
                props, "property", name="diagnosis_explains", value=f"{p.diagnosis.explains} of {p.diagnosis.failing}"
            )
        if p.minimal_case:
            ET.SubElement(props, "property", name="minimal_case", value=minimal_line(p))
        explored = next((e for e in report.explore.problems if e.id == p.id), None) if report.explore else None
        if explored:
            value = f"{explored.failed} of {explored.ran} failed (seed {report.explore.seed})"
            ET.SubElement(props, "property", name="random_checks", value=value)
        for c in p.cases:
            case = ET.SubElement(suite, "testcase", classname=f"pa5.{p.id}", name=c.id, time=f"{c.seconds or 0:.3f}")
            cprops = ET.SubElement(case, "properties")
            ET.SubElement(cprops, "property", name="points", value=points(c.points))
            ET.SubElement(cprops, "property", name="max_points", value=points(c.max_points))
            ET.SubElement(cprops, "property", name="hidden", value=str(c.hidden).lower())
            message, detail = told.get((p.id, c.id)) or _message(c)
            if p.diagnosis and c.mistake == p.diagnosis.id:
                message += f"; likely mistake: {p.diagnosis.message} (see {p.diagnosis.section})"
                detail += f"\nlikely mistake: {p.diagnosis.message} (see {p.diagnosis.section})"
            if c.worst:
                detail += f"\nworst at {c.worst.index}: got {c.worst.got:.6g}, expected {c.worst.expected:.6g}"
            if c.status == "failed":
                ET.SubElement(case, "failure", message=message[:500], type="failed").text = detail
            elif c.status != "passed":
                ET.SubElement(case, "error", message=message[:500], type=c.status).text = detail
            if c.notes:
                ET.SubElement(case, "system-out").text = "\n".join(c.notes)
        totals["tests"] += len(p.cases)
        totals["failures"] += failures
        totals["errors"] += errors
    for k, v in totals.items():
        root.set(k, str(v))
    if report.output.text:
        note = output_note(report)
        text = f"[{note}]\n{report.output.text}" if note else report.output.text
        ET.SubElement(root[0] if len(root) else root, "system-out").text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _message(c: CaseReport) -> tuple[str, str]:
    """A failing case's message and detail; never empty, since a CI reader needs a reason."""
    if c.message:
        return c.message.splitlines()[0], c.message
    why = f"a hidden case {c.status}; its details are withheld until results are released" if c.hidden else c.status
    return why, why


def _errors_told_once(report: Report) -> dict[tuple[str, str], tuple[str, str]]:
    """(problem, case) -> (message, detail) for the cases that ended without an answer: every one carries its
    error's summary; its traceback goes with the first case it ended, the others point there."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    if report.error:  # the import failed: every call ended with it
        first, *rest = report.error.rstrip().splitlines()
        note = f"\nnote: {report.error_note}" if report.error_note else ""
        where = None
        for p in report.problems:
            for c in p.cases:
                if where is None:
                    where, out[(p.id, c.id)] = c.id, (first, "\n".join([first, *rest]) + note)
                else:
                    out[(p.id, c.id)] = (first, f"{first}; the whole message is with case {where}")
        return out
    by_case = {cid: e for e in report.errors for cid in e.cases}
    first_case: dict[int, str] = {}
    for p in report.problems:
        for c in p.cases:
            e = by_case.get(c.id)
            if e is None or c.status not in NO_ANSWER:
                continue
            head = f"{e.summary} \u2014 {affected(e)}"
            if id(e) in first_case:
                out[(p.id, c.id)] = (e.summary, f"{head}; its traceback is with case {first_case[id(e)]}")
            else:
                first_case[id(e)] = c.id
                note = f"\nnote: {e.note}" if e.note else ""
                out[(p.id, c.id)] = (e.summary, f"{head}\n{e.traceback}{note}".rstrip())
    return out


def _calendar(report: Report) -> list[tuple[str, str]]:
    """The service's calendar, on the first suite: lateness, penalty and what is withheld."""
    out = []
    if report.late is not None:
        out += [("late", str(report.late).lower()), ("lateness_seconds", str(report.lateness_seconds or 0))]
        out += [("raw_score", points(report.raw_score or 0)), ("penalty", points(report.penalty or 0))]
    if report.withheld:
        out.append(("withheld", report.withheld))
    return out
