"""check --explore: random cases from a printed seed, judged by the forward pass, in a kit without reference/."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import correlate2d

from grader.feedback.explore import explore_cases
from grader.workflows.bundle import build_student_kit
from tests.conftest import EXAMPLES


def test_same_seed_same_cases_and_varied_shapes(spec):
    a, b = explore_cases(spec, n=30, seed=4), explore_cases(spec, n=30, seed=4)
    assert all(np.array_equal(x.inputs[k], y.inputs[k]) for x, y in zip(a, b, strict=True) for k in x.inputs)
    assert {c.layer for c in a} == {"conv", "fc", "softmax"}
    assert len({c.inputs["x"].shape for c in a if c.layer == "conv"}) > 5
    assert not np.array_equal(a[0].inputs["x"], explore_cases(spec, n=1, seed=5)[0].inputs["x"])


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "kit"
    build_student_kit(out=out)
    assert not (out / "reference").exists()
    return out


def check_in_kit(kit, submission, *args):
    """pa5-grader from the kit's own grader/, with `import reference` made to fail as on a student's machine."""
    code = (
        f"import sys; sys.modules['reference'] = None; sys.path.insert(0, {str(kit)!r})\n"
        "import grader; assert grader.__file__.startswith(sys.path[0]), grader.__file__\n"
        "from grader.cli import cli; cli()"
    )
    shutil.rmtree(kit / "submission")
    shutil.copytree(submission, kit / "submission")
    argv = [sys.executable, "-c", code, "check", "submission", "--sandbox", "process", "--format", "json", *args]
    return subprocess.run(argv, cwd=kit, capture_output=True, text=True, timeout=300)


def test_explore_runs_in_a_kit_without_reference(kit):
    r = check_in_kit(kit, EXAMPLES / "correct", "--explore", "24")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    seed = report["explore"]["seed"]
    assert f"explore seed: {seed}" in r.stderr
    assert report["explore"]["requested"] == 24 and all(p["failed"] == 0 for p in report["explore"]["problems"])
    assert sum(p["ran"] for p in report["explore"]["problems"] if p["id"] in ("conv.dx", "fc.dx", "softmax.ds")) == 24


def test_explore_failures_are_found_and_shrunk_without_reference(kit):
    r = check_in_kit(kit, EXAMPLES / "unflipped_kernel", "--explore", "12", "--seed", "99")
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["explore"]["seed"] == 99
    dx = next(p for p in report["explore"]["problems"] if p["id"] == "conv.dx")
    assert dx["failed"] > 0
    m = next(p for p in report["problems"] if p["id"] == "conv.dx")["minimal_case"]
    x, w, dy = (np.array(m["inputs"][k]) for k in ("x", "w", "dy"))
    assert x.size <= 4 and all(np.array_equal(a, np.round(a)) for a in (x, w, dy))
    np.testing.assert_allclose(m["expected"], correlate2d(dy, w, mode="same"), atol=1e-12)
