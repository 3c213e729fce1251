"""Hand-made reports for the page and chart tests: valid Report models without running a sandbox."""

from __future__ import annotations

from grader.report.model import CaseReport, Diagnosis, Output, ProblemReport, Report, Sandbox, Timing, Worst

PROBLEMS = [
    ("conv.dx", "Convolution: gradient wrt the input", "A.1"),
    ("conv.dw", "Convolution: gradient wrt the kernel", "A.2"),
    ("fc.dx", "Fully connected: gradient wrt the input", "B.1"),
    ("fc.dW", "Fully connected: gradient wrt the weights", "B.1 note"),
    ("softmax.ds", "Softmax loss: gradient wrt the scores", "C.1"),
]
UNFLIPPED = Diagnosis(
    id="conv.dx.unflipped",
    message="dx uses the kernel without flipping it: dL/dx is dL/dy convolved with the kernel flipped both ways",
    section="A.1",
)


def make_report(
    student_id: str | None = "alice",
    *,
    total: float | None = None,
    scores: dict[str, float] | None = None,
    diagnoses: dict[str, Diagnosis] | None = None,
    output: str = "",
    message: str = "relative error 1.52 is above the tolerance 0.0001",
    error: str | None = None,
) -> Report:
    """A report over the five problems (20 points each). `total` spreads evenly; `scores` sets each problem."""
    scores = dict(scores or {})
    for pid, _, _ in PROBLEMS:
        scores.setdefault(pid, 20.0 if total is None else total / len(PROBLEMS))
    diagnoses = diagnoses or {}
    problems = []
    for pid, title, section in PROBLEMS:
        ok = scores[pid] >= 20.0
        case = CaseReport(
            id=f"{pid.split('.')[0]}-p01",
            hidden=False,
            tags=["nonsquare"],
            shapes={"x": [7, 13], "w": [5, 7], "dy": [7, 13]},
            status="passed" if ok else "failed",
            weight=1.0,
            relative_error=0.0 if ok else 1.52,
            message="" if ok else message,
            mistake=None if ok or pid not in diagnoses else diagnoses[pid].id,
            worst=None if ok else Worst(index=[5, 9], got=-1711.84, expected=2007.88),
            points=scores[pid] / 2,  # half of each problem's points on its public case, half on its hidden one
            max_points=10.0,
        )
        hidden = CaseReport(
            id=f"{pid.split('.')[0]}-h01",
            hidden=True,
            tags=["large"],
            status=case.status,
            weight=1.0,
            message="",
            points=scores[pid] / 2,
            max_points=10.0,
        )
        problems.append(
            ProblemReport(
                id=pid,
                title=title,
                section=section,
                score=scores[pid],
                max_score=20.0,
                tol=1e-4,
                cases=[case, hidden],
                diagnosis=diagnoses.get(pid),
            )
        )
    return Report(
        grader_version="0.1.0",
        assignment="cs4670-pa5",
        student_id=student_id,
        submission_sha256="0" * 64,
        spec_sha256="1" * 64,
        mode="grade",
        sandbox=Sandbox(backend="process", isolated=False, note="not isolated: test"),
        score=sum(scores.values()),
        max_score=100.0,
        error=error,
        problems=problems,
        output=Output(text=output, truncated=False),
        timing=Timing(started="2026-11-26T12:00:00+00:00", seconds=1.25),
    )
