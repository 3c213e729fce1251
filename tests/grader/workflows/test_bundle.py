"""The Gradescope bundle, run against a fake /autograder root, and the student kit in a fresh venv."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.workflows.bundle import build_gradescope, build_student_kit
from tests.children import run

ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "submissions_example"
SECRET = "gs-SECRET-MARKER-42"

READ_SECRET = (
    (EX / "correct" / "backprop.py").read_text()
    + """
import glob
home = __import__("os").environ.get("HOME", "")
for path in glob.glob("/autograder*/source/secret") + glob.glob(home + "/../../source/secret"):
    try:
        print("READ", open(path).read()[::-1])
    except OSError as e:
        print("DENIED", path, e.strerror)
"""
)


def fake_root(tmp_path, zip_path, submission_source):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "submission" / "backprop.py").write_text(submission_source)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"id": 1234, "email": "a@b.c", "name": "A"}]}))
    (root / "results").mkdir()
    return root


def run_autograder(root):
    env = {**os.environ, "PA5_AUTOGRADER_ROOT": str(root), "PA5_PYTHON": sys.executable}
    return subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)


def test_bundle_layout(tmp_path):
    z = build_gradescope(out=tmp_path / "autograder.zip", secret=SECRET.encode())
    with zipfile.ZipFile(z) as zf:
        names, info = zf.namelist(), zf.getinfo("run_autograder")
    assert "setup.sh" in names and "run_autograder" in names and "secret" in names
    assert "pa5-grader/reference/layers.py" in names and "pa5-grader/test_cases/manifest.json" in names
    assert (info.external_attr >> 16) & 0o111


def test_run_autograder_grades_and_writes_results(tmp_path):
    z = build_gradescope(out=tmp_path / "autograder.zip", secret=SECRET.encode())
    root = fake_root(tmp_path, z, (EX / "correct" / "backprop.py").read_text())
    r = run_autograder(root)
    assert r.returncode == 0, r.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == pytest.approx(100)
    assert any(t["visibility"] == "after_due_date" for t in results["tests"])
    assert SECRET not in (root / "results" / "results.json").read_text()


def test_run_autograder_reports_a_missing_file_as_a_result(tmp_path):
    z = build_gradescope(out=tmp_path / "autograder.zip", secret=SECRET.encode())
    root = fake_root(tmp_path, z, "")
    (root / "submission" / "backprop.py").unlink()
    (root / "submission" / "solution.py").write_text("x = 1\n")
    r = run_autograder(root)
    results = json.loads((root / "results" / "results.json").read_text())
    assert r.returncode == 0 and results["score"] == 0
    assert "has no backprop.py, at its top or one folder down (found: solution.py)" in results["output"]


def test_student_code_cannot_read_the_secret(tmp_path, process_backend):
    if not process_backend.drop:
        pytest.skip(
            "needs root and a Python the sandbox user can run (CI's venv); "
            "otherwise student code runs as the grader's user"
        )
    z = build_gradescope(out=tmp_path / "autograder.zip", secret=SECRET.encode())
    root = fake_root(tmp_path, z, READ_SECRET)
    tmp_path.chmod(0o755)
    r = run_autograder(root)
    assert r.returncode == 0, r.stderr
    assert SECRET[::-1] not in r.stdout and SECRET not in r.stdout


def core_deps() -> dict[str, Path]:
    """The grader's core dependencies in this interpreter's site-packages (name -> path), so that a fresh venv can
    install the grader offline (pip sees them as installed) without seeing the grader or reference."""
    from importlib import metadata

    from packaging.requirements import Requirement

    out: dict[str, Path] = {}
    todo = [r for r in metadata.requires("pa5-grader") if "extra ==" not in r]
    seen = set()
    while todo:
        req = Requirement(todo.pop())
        if req.name.lower() in seen or (req.marker and not req.marker.evaluate()):
            continue
        seen.add(req.name.lower())
        dist = metadata.distribution(req.name)
        for top in {Path(str(f)).parts[0] for f in dist.files if not str(f).startswith("..")}:
            src = Path(dist.locate_file(top))
            if src.exists() and top not in ("bin", "__pycache__"):
                out[top] = src
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return out


def fresh_venv(path: Path) -> Path:
    """A venv whose site-packages links to the core dependencies (linked, not a .pth: the sandbox's site view
    takes numpy and scipy from site-packages itself, as from a real install)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    site = next(path.glob("lib/python3*/site-packages"))
    for name, src in core_deps().items():
        (site / name).symlink_to(src)
    return path / "bin"


def pip_install(bin_dir: Path, target, *extra) -> None:
    # build isolation fetches setuptools/wheel (the pip cache keeps it quick); the grader's deps are already there
    r = run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *extra, str(target)], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel of this checkout, built from a clean copy (a stale build/ folder must not leak into it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "tests", ".venv"
        ),
    )
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return next((tmp / "dist").glob("pa5_grader-*.whl"))


@pytest.mark.slow
def test_bundles_build_from_an_installed_wheel(tmp_path, wheel):
    """pip install (not -e) into a fresh venv, then both bundles, away from any checkout; each bundle installs."""
    bin1 = fresh_venv(tmp_path / "instructor")
    pip_install(bin1, wheel, "--no-index")
    work = tmp_path / "work"
    work.mkdir()
    exe = str(bin1 / "pa5-grader")
    kit = subprocess.run([exe, "bundle", "student", "--out", "kit"], cwd=work, capture_output=True, text=True)
    assert kit.returncode == 0, kit.stdout + kit.stderr
    zipped = subprocess.run(
        [exe, "bundle", "gradescope", "--out", "ag.zip", "--insecure-default-secret"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert zipped.returncode == 0, zipped.stdout + zipped.stderr
    with zipfile.ZipFile(work / "ag.zip") as zf:
        names = zf.namelist()
    assert "pa5-grader/reference/layers.py" in names and "pa5-grader/test_cases/manifest.json" in names
    assert "pa5-grader/grader/assets/test_cases/manifest.json" in names
    assert not list((work / "kit").rglob("reference")) and not list((work / "kit").rglob("layers.py"))
    assert (work / "kit" / "grader" / "assets" / "test_cases" / "manifest.json").exists()

    # the student kit, in another fresh venv: check passes on the correct example
    bin2 = fresh_venv(tmp_path / "student")
    pip_install(bin2, work / "kit")
    shutil.copy(EX / "correct" / "backprop.py", work / "kit" / "submission" / "backprop.py")
    ok = subprocess.run(
        [str(bin2 / "pa5-grader"), "check", "submission"], cwd=work / "kit", capture_output=True, text=True
    )
    assert ok.returncode == 0 and "score 100 / 100" in ok.stdout, ok.stdout + ok.stderr
    no_ref = subprocess.run([str(bin2 / "python"), "-c", "import reference"], cwd=work, capture_output=True, text=True)
    assert "No module named 'reference'" in no_ref.stderr

    # the autograder, installed as setup.sh installs it, grades through run_autograder
    root = fake_root(tmp_path, work / "ag.zip", (EX / "correct" / "backprop.py").read_text())
    bin3 = fresh_venv(tmp_path / "gradescope")
    pip_install(bin3, root / "source" / "pa5-grader")
    env = {**os.environ, "PA5_AUTOGRADER_ROOT": str(root), "PA5_PYTHON": str(bin3 / "python")}
    r = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads((root / "results" / "results.json").read_text())["score"] == pytest.approx(100)


@pytest.mark.slow
def test_student_kit_installs_and_checks_without_reference(tmp_path):
    kit = build_student_kit(out=tmp_path / "kit")
    assert not (kit / "reference").exists() and (kit / "submission" / "backprop.py").exists()
    assert (kit / ".github" / "workflows" / "pa5-selftest.yml").exists()
    venv = tmp_path / "venv"
    fresh_venv(venv)
    py = venv / "bin" / "python"
    pip_install(venv / "bin", kit)
    # Each command in a session of its own, its pipes closed and, past its timeout, its whole group killed.
    no_ref = run([str(py), "-c", "import reference"], cwd=kit, timeout=120)
    assert no_ref.returncode != 0 and "No module named 'reference'" in no_ref.stderr
    shutil.copy(EX / "correct" / "backprop.py", kit / "submission" / "backprop.py")
    exe = venv / "bin" / "pa5-grader"
    ok = run([str(exe), "check", "submission"], cwd=kit, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "score 100 / 100" in ok.stdout
    elsewhere = run([str(exe), "check", str(kit / "submission"), "--format", "junit"], cwd=tmp_path, timeout=300)
    assert elsewhere.returncode == 0 and "<testsuites" in elsewhere.stdout
    gen = run([str(exe), "generate", "--out", str(tmp_path / "x")], cwd=kit, timeout=120)
    assert gen.returncode == 2 and "reference implementation is not installed" in gen.stdout + gen.stderr
