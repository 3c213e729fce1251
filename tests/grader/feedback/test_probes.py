"""Probe cases: fixed, never scored, and they make the diagnosis the same whatever hidden cases a student draws."""

import numpy as np

from grader.feedback.probes import probe_cases
from grader.spec import Spec, default_spec
from grader.workflows.grade import grade

# The empty crop found in real code: full[r:-r] is empty when the kernel has one row or column (r = 0).
EMPTY_CROP = """
import numpy as np

def conv_backward(x, w, dy):
    (H, W), (Kh, Kw) = x.shape, w.shape
    rh, rw = Kh // 2, Kw // 2
    full = np.zeros((H + Kh - 1, W + Kw - 1))  # the full correlation of dy with w
    dyp = np.pad(dy, ((Kh - 1, Kh - 1), (Kw - 1, Kw - 1)))
    for i in range(Kh):
        for j in range(Kw):
            full += w[i, j] * dyp[i:i + H + Kh - 1, j:j + W + Kw - 1]
    dx = full[rh:-rh, rw:-rw]
    dyp = np.pad(dy, ((rh, rh), (rw, rw)))
    dw = np.array([[np.sum(x * dyp[i:i + H, j:j + W]) for j in range(Kw)] for i in range(Kh)])
    return dx, dw
"""


def test_probes_are_fixed_small_and_cover_the_shapes_mistakes_need():
    a, b = probe_cases(default_spec()), probe_cases(default_spec())
    assert [c.id for c in a] == [c.id for c in b]
    assert all(np.array_equal(x.inputs[k], y.inputs[k]) for x, y in zip(a, b, strict=True) for k in x.inputs)
    conv = [c for c in a if c.layer == "conv"]
    shapes = {(c.inputs["x"].shape, c.inputs["w"].shape) for c in conv}
    assert any(w == (1, 1) and x[0] == x[1] for x, w in shapes), "a 1x1 kernel on a square image"
    assert any(1 in w and w != (1, 1) for _, w in shapes), "a kernel with one row or column"
    assert any(x[0] == x[1] and w[0] != w[1] for x, w in shapes), "a square image with a non-square kernel"
    assert any(w == (5, 5) for _, w in shapes), "a square kernel other than 3x3"
    assert max(c.inputs["x"].size for c in conv) <= 64
    assert all(c.weight == 0 and not c.hidden for c in a)


def test_one_bug_one_diagnosis_for_twenty_students(process_backend, tmp_path):
    (tmp_path / "backprop.py").write_text(EMPTY_CROP)
    spec = Spec(problems=tuple(p for p in default_spec().problems if p.layer == "conv"))
    diagnoses = set()
    for n in range(20):
        report = grade(submission=tmp_path, student_id=f"s{n:03d}", secret=b"k", spec=spec, backend=process_backend)
        dx = report.problems[0]
        assert dx.id == "conv.dx" and dx.score < dx.max_score and report.problems[1].score == 20
        diagnoses.add(dx.diagnosis.id if dx.diagnosis else None)
    assert diagnoses == {"conv.empty_crop"}, "one diagnosis, and not 'square images' (not about squares at all)"
