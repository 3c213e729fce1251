"""The public case store: committed files regenerate byte for byte, and a mismatched spec is refused."""

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest

from grader.cases.store import load_cases
from grader.errors import CaseStoreError
from grader.spec import Cases, Spec, default_spec
from grader.workflows.generate import generate_public

ROOT = Path(__file__).resolve().parents[3]


def test_committed_cases_regenerate_with_the_same_inputs_and_answers(tmp_path):
    """Inputs and the manifest regenerate byte for byte. Expected answers and known wrong answers come out of
    BLAS, whose last bit depends on the CPU's kernel (W.T @ dy differed by 1 ulp between two machines here),
    so they must agree to 1e-12 of their scale, far inside every tolerance."""
    generate_public(spec=default_spec(), out=tmp_path)
    committed = sorted(p.name for p in (ROOT / "test_cases").iterdir())
    assert committed == sorted(p.name for p in tmp_path.iterdir())
    npz = [n for n in committed if n.endswith(".npz")]
    _match, mismatch, errors = filecmp.cmpfiles(ROOT / "test_cases", tmp_path, sorted(set(committed) - set(npz)))
    assert mismatch == [] and errors == []
    for name in npz:
        with np.load(ROOT / "test_cases" / name) as old, np.load(tmp_path / name) as new:
            assert old.files == new.files
            for key in old.files:
                a, b = old[key], new[key]
                assert a.dtype == b.dtype and a.shape == b.shape, (name, key)
                if key.startswith("in."):
                    assert np.array_equal(a, b), (name, key)
                else:
                    assert np.allclose(a, b, rtol=0, atol=1e-12 * max(1.0, float(np.abs(a).max()))), (name, key)


def test_public_cases_are_small_plain_arrays_without_pickle():
    total = sum(p.stat().st_size for p in (ROOT / "test_cases").iterdir())
    assert total < 1_000_000
    for p in (ROOT / "test_cases").glob("*.npz"):
        with np.load(p, allow_pickle=False) as z:
            for k in z.files:
                assert z[k].dtype.kind in "if"
    manifest = json.loads((ROOT / "test_cases" / "manifest.json").read_text())
    per_layer = {}
    for c in manifest["cases"]:
        per_layer[c["layer"]] = per_layer.get(c["layer"], 0) + 1
    assert all(5 <= n <= 8 for n in per_layer.values())


def test_round_trip_keeps_every_array(tmp_path):
    from grader.cases.generate import generate

    spec = default_spec()
    cases = generate(spec=spec, seed=spec.cases.public_seed, hidden=False)
    generate_public(spec=spec, out=tmp_path)
    back = load_cases(tmp_path, spec=spec)
    for a, b in zip(cases, back, strict=False):
        assert a.id == b.id and a.tags == b.tags
        for k in a.inputs:
            assert np.array_equal(a.inputs[k], b.inputs[k]) and a.inputs[k].shape == b.inputs[k].shape
        for k in a.expected:
            assert np.array_equal(a.expected[k], b.expected[k])
        assert {p: sorted(m) for p, m in a.mistakes.items()} == {p: sorted(m) for p, m in b.mistakes.items()}


def test_cases_from_another_spec_are_refused(tmp_path):
    generate_public(spec=default_spec(), out=tmp_path)
    other = Spec(problems=default_spec().problems, cases=Cases(public_seed=1))
    with pytest.raises(CaseStoreError, match="another spec"):
        load_cases(tmp_path, spec=other)


def test_missing_store_says_how_to_make_it(tmp_path):
    with pytest.raises(CaseStoreError, match="pa5-grader generate"):
        load_cases(tmp_path, spec=default_spec())


def test_stored_data_holds_no_reference_code():
    text = (ROOT / "test_cases" / "manifest.json").read_text()
    assert "def " not in text and "import" not in text
