"""JUnit XML: a testsuite per problem, a testcase per case, points in properties; always well-formed XML 1.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.printable import printable_model
from grader.report.model import Report
from grader.report.render_minimal import minimal_line, output_note


def render_junit(report: Report) -> str:
    # ElementTree writes any character as is; printable() leaves none that XML 1.0 forbids (and none a CI log
    # viewer or terminal would act on).
    report = printable_model(report)
    root = ET.Element("testsuites", name=f"pa5-grader {report.assignment}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for p in report.problems:
        failures = sum(c.status == "failed" for c in p.cases)
        errors = sum(c.status in ("error", "timeout", "crashed") for c in p.cases)
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
            ("title", p.title),
            ("section", p.section),
            ("score", f"{p.score:g}"),
            ("max_score", f"{p.max_score:g}"),
        ):
            ET.SubElement(props, "property", name=k, value=v)
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
            ET.SubElement(cprops, "property", name="points", value=f"{c.points:g}")
            ET.SubElement(cprops, "property", name="max_points", value=f"{c.max_points:g}")
            ET.SubElement(cprops, "property", name="hidden", value=str(c.hidden).lower())
            message = c.message
            if p.diagnosis and c.mistake == p.diagnosis.id:
                message += f"; likely mistake: {p.diagnosis.message} (see {p.diagnosis.section})"
            detail = message
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
