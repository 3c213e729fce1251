"""Building the Gradescope autograder zip and the student kit from this checkout."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from grader.errors import GraderError

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-venv >/dev/null
# A venv outside /root, so the sandbox's unprivileged user can run its Python.
python3 -m venv /opt/pa5-venv
/opt/pa5-venv/bin/pip install -q /autograder/source/pa5-grader scipy
chmod 700 /autograder/source
chmod 600 /autograder/source/secret
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this per submission. PA5_AUTOGRADER_ROOT and PA5_PYTHON exist for local tests.
set -uo pipefail
ROOT="${PA5_AUTOGRADER_ROOT:-/autograder}"
PY="${PA5_PYTHON:-/opt/pa5-venv/bin/python}"
exec "$PY" -m grader gradescope-run --root "$ROOT"
"""

KIT_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pa5-grader"
version = "{version}"
description = "PA5 self-test kit: the grader and the public cases (no reference solution)."
requires-python = ">=3.10"
dependencies = [
  "numpy>=1.24", "scipy>=1.10", "pydantic>=2.5,<3", "click>=8.1", "docker>=7.0",
  "tomli>=2.0; python_version < '3.11'",
]

[project.scripts]
pa5-grader = "grader.cli:cli"

[tool.setuptools.packages.find]
include = ["grader*"]

[tool.setuptools.package-data]
grader = ["sandbox/harness.py", "report/schema.json", "assets/test_cases/*"]
"""

KIT_README = """# PA5 self-test kit

Write your solution in `submission/backprop.py`, then:

    python3 -m pip install .
    pa5-grader check submission

The check runs your functions on the public cases in `test_cases/` and tells you, for each
problem, which cases fail and what the mistake most likely is. Your grade also uses hidden
cases, drawn the same way, so passing here is necessary but not sufficient.

Exit codes: 0 everything passes, 1 something fails, 2 the check itself could not run.
For CI, `.github/workflows/pa5-selftest.yml` runs `pa5-grader check submission --format junit`
on every push.
"""

WORKFLOW = """name: PA5 self-test
on: [push, pull_request]
jobs:
  selftest:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install .
      - run: pa5-grader check submission --format junit --output pa5-results.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: pa5-results
          path: pa5-results.xml
"""


def _need(path: Path) -> Path:
    if not path.exists():
        raise GraderError(f"{path} is missing: bundles are built from a checkout of pa5-grader")
    return path


def build_gradescope(*, out: Path, secret: bytes, spec_path: Path | None = None, per: str = "problem") -> Path:
    """A zip with setup.sh and run_autograder at its root, the grader, the reference, the cases and the secret."""
    from grader import __version__

    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _add(zf, "setup.sh", SETUP_SH, 0o755)
        _add(zf, "run_autograder", RUN_AUTOGRADER, 0o755)
        for name in ("pyproject.toml", "README.md"):
            zf.write(_need(ROOT / name), f"pa5-grader/{name}")
        for package in ("grader", "reference", "test_cases"):
            for f in sorted(_need(ROOT / package).rglob("*")):
                if f.is_file() and "__pycache__" not in f.parts:
                    zf.write(f, f"pa5-grader/{f.relative_to(ROOT)}")
        _add(zf, "secret", secret.decode() + "\n", 0o600)
        _add(zf, "config.json", json.dumps({"per": per, "grader_version": __version__}) + "\n", 0o644)
        if spec_path:
            zf.write(spec_path, "spec.toml")
    return out


def _add(zf: zipfile.ZipFile, name: str, text: str, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_student_kit(*, out: Path) -> Path:
    """The grader without reference/, the public cases, the starter file and a CI workflow."""
    from grader import __version__

    if out.exists() and any(out.iterdir()):
        raise GraderError(f"{out} exists and is not empty: choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(_need(ROOT / "grader"), out / "grader", ignore=IGNORE)
    shutil.copytree(_need(ROOT / "test_cases"), out / "test_cases")
    shutil.copytree(ROOT / "test_cases", out / "grader" / "assets" / "test_cases")
    (out / "submission").mkdir()
    shutil.copyfile(_need(ROOT / "submissions_example" / "starter" / "backprop.py"), out / "submission" / "backprop.py")
    (out / "pyproject.toml").write_text(KIT_PYPROJECT.format(version=__version__))
    (out / "README.md").write_text(KIT_README)
    (out / ".github" / "workflows").mkdir(parents=True)
    (out / ".github" / "workflows" / "pa5-selftest.yml").write_text(WORKFLOW)
    return out
