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
    names = zipfile.ZipFile(z).namelist()
    assert "setup.sh" in names and "run_autograder" in names and "secret" in names
    assert "pa5-grader/reference/layers.py" in names and "pa5-grader/test_cases/manifest.json" in names
    info = zipfile.ZipFile(z).getinfo("run_autograder")
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
    assert "has no backprop.py (found: solution.py)" in results["output"]


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


@pytest.mark.slow
def test_student_kit_installs_and_checks_without_reference(tmp_path):
    kit = build_student_kit(out=tmp_path / "kit")
    assert not (kit / "reference").exists() and (kit / "submission" / "backprop.py").exists()
    assert (kit / ".github" / "workflows" / "pa5-selftest.yml").exists()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(kit)], check=True, timeout=600)
    no_ref = subprocess.run([str(py), "-c", "import reference"], capture_output=True, text=True, cwd=kit)
    assert no_ref.returncode != 0 and "No module named 'reference'" in no_ref.stderr
    shutil.copy(EX / "correct" / "backprop.py", kit / "submission" / "backprop.py")
    exe = venv / "bin" / "pa5-grader"
    ok = subprocess.run([str(exe), "check", "submission"], cwd=kit, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "score 100 / 100" in ok.stdout
    elsewhere = subprocess.run(
        [str(exe), "check", str(kit / "submission"), "--format", "junit"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert elsewhere.returncode == 0 and "<testsuites" in elsewhere.stdout
    gen = subprocess.run([str(exe), "generate", "--out", str(tmp_path / "x")], capture_output=True, text=True, cwd=kit)
    assert gen.returncode == 2 and "reference implementation is not installed" in gen.stdout + gen.stderr
