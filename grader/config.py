"""Where the grader's inputs come from: the grading secret, and the folder of public cases."""

from __future__ import annotations

import os
from pathlib import Path

from grader.errors import GraderError

SECRET_ENV = "PA5_GRADER_SECRET"
INSECURE_DEFAULT_SECRET = b"pa5-insecure-demo-secret"


def default_cases_dir() -> Path:
    """$PA5_CASES, else ./test_cases, else the cases installed with the student kit, else the checkout's."""
    if os.environ.get("PA5_CASES"):
        return Path(os.environ["PA5_CASES"])
    package = Path(__file__).resolve().parent
    for candidate in (Path("test_cases"), package / "assets" / "test_cases", package.parent / "test_cases"):
        if (candidate / "manifest.json").exists():
            return candidate
    return package.parent / "test_cases"


def read_secret(*, secret_file: str | Path | None, insecure_default: bool) -> bytes:
    """The grading secret from a file or $PA5_GRADER_SECRET; refuses to run without one unless told to."""
    if secret_file:
        try:
            data = Path(secret_file).read_bytes().strip()
        except OSError as e:
            raise GraderError(f"cannot read the secret file {secret_file}: {e.strerror}") from None
        if not data:
            raise GraderError(f"the secret file {secret_file} is empty")
        return data
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        return env.encode()
    if insecure_default:
        return INSECURE_DEFAULT_SECRET
    raise GraderError(
        f"no grading secret: pass --secret-file FILE or set {SECRET_ENV} "
        "(or --insecure-default-secret for a demo; hidden cases are then predictable)"
    )
