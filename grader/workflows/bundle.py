"""Building the Gradescope autograder zip and the student kit from the installed grader (or a checkout)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

from grader.errors import GraderError

PACKAGE = Path(__file__).resolve().parents[1]
CHECKOUT = PACKAGE.parent  # only meaningful for an editable install
# asset -> where a checkout keeps it; a built package carries it in grader/assets/ (see setup.py)
ASSETS = {"test_cases": CHECKOUT / "test_cases", "starter": CHECKOUT / "submissions_example" / "starter"}

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

BUNDLE_PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pa5-grader"
version = "{version}"
description = "{description}"
requires-python = ">=3.10"
dependencies = {dependencies}

[project.scripts]
pa5-grader = "grader.cli:cli"

[tool.setuptools.packages.find]
include = {packages}

[tool.setuptools.package-data]
grader = {package_data}
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


def _asset(name: str) -> Path:
    """A folder the bundles ship: from the installed package, else from the checkout of an editable install."""
    for path in (PACKAGE / "assets" / name, ASSETS[name]):
        if path.is_dir():
            return path
    raise GraderError(f"the grader's {name} folder is missing from {PACKAGE / 'assets'}: reinstall pa5-grader")


def _reference() -> Path:
    spec = importlib.util.find_spec("reference")
    if spec is None or spec.origin is None:
        raise GraderError("the reference solution is not installed: build the autograder from the instructor's install")
    return Path(spec.origin).parent


def _pyproject(*, packages: list[str], description: str, grader_files: list[str]) -> str:
    """A pyproject for the bundled grader: the installed distribution's own dependencies (not its extras), and
    every non-Python file of the bundled grader folder as package data."""
    from grader import __version__

    try:
        requires = metadata.requires("pa5-grader") or []
    except metadata.PackageNotFoundError:
        raise GraderError("pa5-grader is not installed: run pip install . first") from None
    data = {f"{Path(f).parent}/*" if "/" in f else f for f in grader_files if not f.endswith(".py")}
    return BUNDLE_PYPROJECT.format(
        version=__version__,
        description=description,
        dependencies=json.dumps([r for r in requires if "extra ==" not in r]),
        packages=json.dumps(packages),
        package_data=json.dumps(sorted(data)),
    )


def _files(root: Path) -> list[str]:
    """Files of a package folder, relative to it, without caches."""
    return sorted(
        str(f.relative_to(root))
        for f in root.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"
    )


def build_gradescope(*, out: Path, secret: bytes, spec_path: Path | None = None, per: str = "problem") -> Path:
    """A zip with setup.sh and run_autograder at its root, the grader, the reference, the cases and the secret."""
    from grader import __version__

    reference, cases = _reference(), _asset("test_cases")
    sources = {f: PACKAGE / f for f in _files(PACKAGE) if not f.startswith("assets/")}
    sources |= {f"assets/test_cases/{f}": cases / f for f in _files(cases)}  # where the installed grader looks
    grader_files = list(sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _add(zf, "setup.sh", SETUP_SH, 0o755)
        _add(zf, "run_autograder", RUN_AUTOGRADER, 0o755)
        description = "PA5 autograder (with the reference)."
        pyproject = _pyproject(packages=["grader*", "reference*"], description=description, grader_files=grader_files)
        _add(zf, "pa5-grader/pyproject.toml", pyproject, 0o644)
        _add(zf, "pa5-grader/README.md", "# pa5-grader\n\nThe PA5 autograder, as bundled for Gradescope.\n", 0o644)
        for f in grader_files:
            zf.write(sources[f], f"pa5-grader/grader/{f}")
        for f in _files(reference):
            zf.write(reference / f, f"pa5-grader/reference/{f}")
        for f in _files(cases):  # and at the top, where a checkout keeps them
            zf.write(cases / f, f"pa5-grader/test_cases/{f}")
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
    if out.exists() and any(out.iterdir()):
        raise GraderError(f"{out} exists and is not empty: choose a new folder")
    cases, starter = _asset("test_cases"), _asset("starter")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PACKAGE, out / "grader", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "assets"))
    shutil.copytree(cases, out / "test_cases")
    shutil.copytree(cases, out / "grader" / "assets" / "test_cases")
    (out / "submission").mkdir()
    shutil.copyfile(starter / "backprop.py", out / "submission" / "backprop.py")
    description = "PA5 self-test kit: the grader and the public cases (no reference solution)."
    pyproject = _pyproject(packages=["grader*"], description=description, grader_files=_files(out / "grader"))
    (out / "pyproject.toml").write_text(pyproject)
    (out / "README.md").write_text(KIT_README)
    (out / ".github" / "workflows").mkdir(parents=True)
    (out / ".github" / "workflows" / "pa5-selftest.yml").write_text(WORKFLOW)
    return out
