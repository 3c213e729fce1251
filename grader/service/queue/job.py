"""Grading one claimed job: the same grade() as `pa5-grader grade`, for the embedded pool and Celery workers alike."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from grader.errors import SubmissionError
from grader.report.model import Report
from grader.sandbox import Backend
from grader.service.access.uploads import unpack_files
from grader.spec import Spec
from grader.submission import load_submission
from grader.workflows.grade import failed_grade, grade


def run_job(
    *,
    files_zip: bytes,
    student_id: str,
    secret: bytes,
    spec: Spec,
    backend: Backend,
    tmp_dir: Path,
    cancel: threading.Event | None = None,
) -> Report:
    """Unpack the stored files into a temporary folder and grade them; grader failures raise, student ones report."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="job-") as d:
        folder = Path(d) / "submission"
        unpack_files(files_zip, folder)
        try:
            sub = load_submission(folder)
        except SubmissionError as e:  # accepted uploads hold backprop.py, but a spec or limit change may differ
            return failed_grade(message=str(e), student_id=student_id, secret=secret, spec=spec, backend=backend)
        return grade(submission=sub, student_id=student_id, secret=secret, spec=spec, backend=backend, cancel=cancel)
