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


def _inputs(job):
    plan = json.loads((job / "plan.json").read_text())
    data = (job / "inputs.bin").read_bytes()
    return {
        k: np.frombuffer(data, dtype=d, count=int(np.prod(shape)), offset=o).reshape(tuple(shape))
        for k, (d, shape, o) in plan["arrays"].items()
    }


def test_job_holds_inputs_only(tmp_path, public_cases):
    job = tmp_path / "job"
    job.mkdir()
    write_job(job, submission=load_submission(ROOT / "submissions_example" / "correct"), cases=public_cases)
    assert sorted(p.name for p in job.iterdir()) == ["box", "harness.py", "inputs.bin", "plan.json", "submission"]
    assert sorted(p.name for p in (job / "box").iterdir()) == ["out", "shm", "tmp", "work"]
    inputs = _inputs(job)
    assert {k.split(".", 1)[1] for k in inputs} == {"x", "w", "dy", "W", "s", "y"}
    for i, c in enumerate(public_cases):  # each input is the case's own, bit for bit
        for arg, value in c.inputs.items():
            got = inputs[f"{i}.{arg}"]
            assert got.dtype == np.asarray(value).dtype and np.array_equal(got, value)
    expected_values = [v for c in public_cases for v in c.expected.values()]
    for a in inputs.values():
        assert not any(a.shape == e.shape and np.array_equal(a, e) for e in expected_values)
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


def _result(job, head, body=b""):
    (job / "box" / "out").mkdir(parents=True, exist_ok=True)
    text = head if isinstance(head, str) else json.dumps(head)
    (job / "box" / "out" / "0.result").write_bytes(text.encode() + b"\n" + body)


def test_a_result_reads_back_as_its_arrays(tmp_path):
    a, b = np.arange(6.0).reshape(2, 3), np.array(7, dtype=np.int32)
    heads = [{"dtype": x.dtype.str, "shape": list(x.shape)} for x in (a, b)]
    _result(tmp_path, {"status": "ok", "arrays": [heads[0], None, heads[1]]}, a.tobytes() + b.tobytes())
    status, arrays = read_call(tmp_path, 0)
    assert status.status == "ok" and sorted(arrays) == ["r0", "r2"]
    assert np.array_equal(arrays["r0"], a) and arrays["r2"].dtype == np.int32 and arrays["r2"] == 7
    arrays["r0"][0, 0] = 1.0  # a copy of its own, not a view of what was read


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100000 + "]" * 100000,
        json.dumps({"status": "ok", "extra": 1}),
        json.dumps({"status": "passed"}),
        json.dumps({"status": "ok", "message": "x" * 10000}),
        "x" * (protocol.MAX_STATUS_BYTES + 10),
        json.dumps({"status": "ok", "arrays": [{"dtype": "|O8", "shape": [2]}]}),
        json.dumps({"status": "ok", "arrays": [{"dtype": "<f8", "shape": [1 << 30]}]}),
        json.dumps({"status": "ok", "arrays": [{"dtype": "<f8", "shape": [-1]}]}),
        json.dumps({"status": "ok", "arrays": [{"dtype": "<c16", "shape": [1]}]}),
        json.dumps({"status": "ok", "arrays": [{"dtype": "<f8", "shape": [1] * 40}]}),
    ],
    ids=[
        "deep",
        "extra-field",
        "bad-status",
        "long-message",
        "huge",
        "object",
        "vast",
        "negative",
        "complex",
        "deep-shape",
    ],
)
def test_malformed_status_files_become_errors(tmp_path, text):
    _result(tmp_path, text, bytes(64))
    status, arrays = read_call(tmp_path, 0)
    assert status.status == "error" and arrays == {}


@pytest.mark.parametrize(
    "dtype, shape, body",
    [
        ("<f8", [4], bytes(8)),  # shorter than it says
        ("<f8", [1], bytes(16)),  # longer
        ("<i3", [1], bytes(3)),  # no such dtype
        ("<f8", [1 << 20, 2], b""),  # more elements than any answer has
    ],
    ids=["short", "long", "unknown-dtype", "too-many-elements"],
)
def test_arrays_that_do_not_match_their_bytes_are_rejected(tmp_path, dtype, shape, body):
    _result(tmp_path, {"status": "ok", "arrays": [{"dtype": dtype, "shape": shape}]}, body)
    status, arrays = read_call(tmp_path, 0)
    assert status.status == "error" and "rejected" in status.message and arrays == {}


def test_missing_status_is_a_crash(tmp_path):
    (tmp_path / "box" / "out").mkdir(parents=True)
    status, _ = read_call(tmp_path, 3)
    assert status.status == "crashed"
