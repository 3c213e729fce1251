"""Inside Gradescope: grade ROOT/submission and always leave ROOT/results/results.json behind."""

from __future__ import annotations

import json
import logging
import os
import stat
import traceback
from pathlib import Path

from grader.errors import GraderError
from grader.report.render import write
from grader.report.render_gradescope import render_gradescope
from grader.sandbox import make_backend
from grader.spec import default_spec, load_spec
from grader.workflows.grade import failed_report, grading_cases, public_cases
from grader.workflows.outcome import GRADER_FAILED, NoSandbox, grade_or_zero

log = logging.getLogger("pa5-grader")


def run_in_gradescope(*, root: Path) -> Path:
    """Grade, and render whatever came of it (a report, or the zero of a failure) as results.json."""
    results = root / "results" / "results.json"
    spec, per, secret, student = default_spec(), "problem", None, "unknown"
    try:
        _lock_down(root)
        source = root / "source"
        config = json.loads((source / "config.json").read_text()) if (source / "config.json").exists() else {}
        per = config.get("per", "problem")
        spec = load_spec(source / "spec.toml" if (source / "spec.toml").exists() else None)
        secret = _secret(source / "secret")
        student = _student_id(root / "submission_metadata.json")
        with _backend() as backend:
            report = grade_or_zero(
                submission=root / "submission", student_id=student, secret=secret, spec=spec, backend=backend
            ).report
    except GraderError as e:  # the set-up: a spec, a sandbox; the student still gets a result
        report = _zero(str(e), spec=spec, secret=secret, student=student)
    except Exception:  # a crash of the grader must still give the student a result, not a blank page
        log.error("autograder failed:\n%s", traceback.format_exc())
        report = _zero(GRADER_FAILED, spec=spec, secret=secret, student=student)
    text = render_gradescope(report, per=per, hidden_visibility=spec.hidden_visibility)
    write(results, text)
    print(text)
    return results


def _backend():
    """The one backend rule, with the process fallback: Gradescope's container is the isolation, thrown away after
    one submission, and may not allow user namespaces."""
    backend = make_backend("auto", process_fallback=True, single=True)
    if not backend.isolated:
        log.warning("pa5-grader: bwrap cannot run here; grading in the process sandbox (throwaway uid) instead")
    return backend


def _secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as e:
        secret, why = b"", e.strerror
    else:
        why = "it is empty"
    if not secret:
        raise GraderError(
            f"the autograder cannot read its grading secret ({why}): the instructor should rebuild the bundle "
            "with `pa5-grader bundle gradescope` and upload it again"
        )
    return secret


def _zero(message: str, *, spec, secret: bytes | None, student: str):
    """The zero report of a failure before grading could start (no hidden cases without the secret)."""
    cases = grading_cases(spec=spec, secret=secret, student_id=student) if secret else list(public_cases(spec))
    return failed_report(
        message=message, cases=cases, spec=spec, backend=NoSandbox(message), student_id=student, mode="grade"
    )


def _student_id(path: Path) -> str:
    try:
        users = json.loads(path.read_text()).get("users") or []
    except (OSError, ValueError):
        users = []
    if users:
        u = users[0]
        return str(u.get("id") or u.get("email") or u.get("name"))
    return "unknown"


def _lock_down(root: Path) -> None:
    """As root, make the secret and the reference unreadable to the sandbox's unprivileged user."""
    if os.geteuid() != 0:
        return
    os.chmod(root / "source", 0o700)
    try:
        import reference

        ref = Path(reference.__file__).parent
        for p in [ref, *ref.rglob("*")]:
            mode = p.stat().st_mode
            p.chmod(mode & ~(stat.S_IRWXG | stat.S_IRWXO))
    except ImportError:
        pass
