"""One crash, told once: every renderer names each distinct error once, with the calls it ended, and its traceback
once; a problem whose calls all raised gets no diagnosis and no smallest failing input."""

import json
import xml.etree.ElementTree as ET

import pytest

from grader.report.render import render
from grader.workflows.grade import check
from tests.grader.sandbox.hostile import CORRECT, correct_except

NAME_ERROR = CORRECT.replace("return W.T @ dy, np.outer(dy, x)", "return W.T @ dy, np.outer(xx, x)")
# Raises on images taller than wide (H > W), answers the rest with the kernel unflipped.
PARTLY = correct_except(
    conv_backward="""
import numpy as np
from scipy.signal import convolve2d
x, w, dy = args
if x.shape[0] > x.shape[1]:
    raise IndexError("row index out of range")
return convolve2d(dy, w, mode="same"), conv_backward_ok(x, w, dy)[1]
"""
).replace("def conv_backward(x, w, dy):", "def conv_backward_ok(x, w, dy):", 1)
TORCH = "import torch\n" + CORRECT
FRAME = "np.outer(xx, x)"


@pytest.fixture(scope="module")
def reports(tmp_path_factory, spec, process_backend):
    out = {}
    for name, source in (("name_error", NAME_ERROR), ("partly", PARTLY), ("torch", TORCH)):
        folder = tmp_path_factory.mktemp(name)
        (folder / "backprop.py").write_text(source)
        out[name] = check(submission=folder, spec=spec, backend=process_backend)
    return out


def test_a_name_error_in_one_function_is_one_error_with_every_case_it_ended(reports):
    r = reports["name_error"]
    (e,) = r.errors
    assert e.function == "fc_backward" and e.problems == ["fc.dx", "fc.dW"]
    assert e.summary.startswith("NameError in fc_backward, line ") and e.summary.endswith("name 'xx' is not defined")
    fc = [c.id for c in next(p for p in r.problems if p.id == "fc.dx").cases]
    assert e.cases == fc and e.of == len(fc)
    assert FRAME in e.traceback
    for p in r.problems:
        if p.id.startswith("fc"):
            assert p.diagnosis is None and p.minimal_case is None, "nothing came back to diagnose or to show"


@pytest.mark.parametrize("fmt", ["text", "junit", "gradescope"])
def test_every_renderer_tells_the_traceback_once_and_no_diagnosis(reports, fmt):
    text = render(reports["name_error"], fmt)
    assert text.count(FRAME) == 1
    assert "name 'xx' is not defined" in text
    for words in ("no known mistake", "No known mistake", "smallest failing input", "returned: nothing"):
        assert words not in text
    if fmt == "text":
        assert text.count("NameError in fc_backward") == 1 and "every fc case (6)" in text


def test_json_holds_the_error_once_and_the_cases_keep_their_messages(reports):
    data = json.loads(render(reports["name_error"], "json"))
    assert len(data["errors"]) == 1 and data["errors"][0]["function"] == "fc_backward"
    fc = [c for p in data["problems"] if p["id"].startswith("fc") for c in p["cases"]]
    assert all(c["status"] == "error" and "NameError" in c["message"] for c in fc)


def test_junit_cases_all_carry_the_error_and_point_to_its_traceback(reports):
    root = ET.fromstring(render(reports["name_error"], "junit"))
    errors = [e for suite in root for case in suite.iter("testcase") for e in case.iter("error")]
    assert len(errors) == 12 and all("NameError in fc_backward" in e.get("message") for e in errors)
    assert sum(FRAME in (e.text or "") for e in errors) == 1
    assert sum("its traceback is with case fc-p01" in (e.text or "") for e in errors) == 11


def test_calls_that_raised_are_counted_apart_from_the_answers_a_mistake_explains(reports):
    r = reports["partly"]
    (e,) = r.errors
    assert e.summary.startswith("IndexError in conv_backward") and 0 < len(e.cases) < e.of
    dx = next(p for p in r.problems if p.id == "conv.dx")
    assert dx.diagnosis.id == "conv.dx.unflipped"
    raised = sum(c.status == "error" for c in dx.cases)
    assert dx.diagnosis.raised == raised and dx.diagnosis.failing == sum(c.status == "failed" for c in dx.cases)
    assert dx.minimal_case is not None and dx.minimal_case.got is not None
    text = render(r, "text")
    assert f"{len(e.cases)} of {e.of} conv cases" in text and f"{raised} more raised an error" in text


def test_an_import_of_a_missing_module_says_which_modules_there_are(reports):
    r = reports["torch"]
    assert "No module named 'torch'" in r.error and not r.errors
    assert "numpy, scipy and the Python standard library" in r.error_note and "'torch'" in r.error_note
    for fmt in ("text", "gradescope"):
        text = render(r, fmt)
        assert text.count("import torch") == 1 and text.count("numpy, scipy and the Python standard library") == 1
