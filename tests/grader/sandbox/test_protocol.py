"""What crosses the boundary: only the submission, the harness, inputs and a plan go in; status files are distrusted."""

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import protocol
from grader.sandbox.protocol import read_call, read_progress, write_job
from grader.submission import load_submission

ROOT = Path(__file__).resolve().parents[3]


def test_job_holds_inputs_only(tmp_path, public_cases):
    job = tmp_path / "job"
    job.mkdir()
    write_job(job, submission=load_submission(ROOT / "submissions_example" / "correct"), cases=public_cases)
    assert sorted(p.name for p in job.iterdir()) == ["box", "harness.py", "inputs.npz", "plan.json", "submission"]
    assert sorted(p.name for p in (job / "box").iterdir()) == ["out", "shm", "tmp", "work"]
    with np.load(job / "inputs.npz", allow_pickle=False) as z:
        keys = z.files
    names = {k.split(".", 1)[1] for k in keys}
    assert names == {"x", "w", "dy", "W", "s", "y"}
    expected_values = [v for c in public_cases for v in c.expected.values()]
    with np.load(job / "inputs.npz", allow_pickle=False) as z:
        for k in keys:
            assert not any(z[k].shape == e.shape and np.array_equal(z[k], e) for e in expected_values)
    plan = (job / "plan.json").read_text()
    assert "expected" not in plan and "secret" not in plan.lower() and "seed" not in plan


def test_harness_imports_only_stdlib_and_numpy():
    tree = ast.parse(protocol.HARNESS.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules - {"numpy"} <= set(sys.stdlib_module_names)
    assert "numpy" in modules and not modules & {"grader", "reference", "scipy", "pydantic"}


def test_progress_parsing_is_robust(tmp_path):
    (tmp_path / "box" / "out").mkdir(parents=True)
    (tmp_path / "box" / "out" / "progress").write_bytes(b"import\nstart 0\nend 0\nstart 1\ngarbage \xff\nend x\n")
    assert read_progress(tmp_path) == (True, 1, {0})


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100000 + "]" * 100000,
        json.dumps({"status": "ok", "extra": 1}),
        json.dumps({"status": "passed"}),
        json.dumps({"status": "ok", "message": "x" * 10000}),
        "x" * (protocol.MAX_STATUS_BYTES + 10),
    ],
    ids=["deep", "extra-field", "bad-status", "long-message", "huge"],
)
def test_malformed_status_files_become_errors(tmp_path, text):
    (tmp_path / "box" / "out").mkdir(parents=True)
    (tmp_path / "box" / "out" / "0.json").write_text(text)
    status, arrays = read_call(tmp_path, 0)
    assert status.status == "error" and arrays == {}


def test_missing_status_is_a_crash(tmp_path):
    (tmp_path / "box" / "out").mkdir(parents=True)
    status, _ = read_call(tmp_path, 3)
    assert status.status == "crashed"
