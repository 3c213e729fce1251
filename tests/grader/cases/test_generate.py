"""Case generation: a pure function of (spec, seed), and cases that expose the common mistakes."""

import numpy as np
import pytest

from grader.cases.generate import generate
from grader.cases.seeds import hidden_seed


def arrays_equal(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_same_seed_same_cases_other_seed_other_cases(spec):
    a = generate(spec=spec, seed=7, hidden=True)
    b = generate(spec=spec, seed=7, hidden=True)
    c = generate(spec=spec, seed=8, hidden=True)
    assert [x.id for x in a] == [x.id for x in b]
    assert all(
        arrays_equal(x.inputs, y.inputs) and arrays_equal(x.expected, y.expected) for x, y in zip(a, b, strict=True)
    )
    same_kind = [(x, y) for x, y in zip(a, c, strict=False) if x.inputs.keys() == y.inputs.keys()]
    assert not all(arrays_equal(x.inputs, y.inputs) for x, y in same_kind)


def test_counts_follow_the_spec(spec):
    cases = generate(spec=spec, seed=1, hidden=True)
    for layer in ("conv", "fc", "softmax"):
        assert sum(c.layer == layer for c in cases) == getattr(spec.cases, layer).hidden
    assert all(c.hidden for c in cases)


@pytest.mark.parametrize("hidden", [False, True])
def test_conv_cases_expose_flips_transposes_and_padding(spec, hidden):
    conv = [c for c in generate(spec=spec, seed=123, hidden=hidden) if c.layer == "conv"]
    nonsquare = [c for c in conv if c.inputs["x"].shape[0] != c.inputs["x"].shape[1]]
    assert len(nonsquare) > len(conv) / 2
    assert sum(c.inputs["w"].shape[0] != c.inputs["w"].shape[1] for c in conv) > len(conv) / 2
    assert any("square" in c.tags for c in conv), "some square cases earn partial credit"
    assert any(c.inputs["w"].shape == (1, 1) for c in conv)
    assert any(c.inputs["w"].shape[0] > c.inputs["x"].shape[0] for c in conv), "a kernel larger than the image"
    for c in conv:
        w = c.inputs["w"]
        if w.size > 1:  # an unflipped kernel gives a clearly different answer
            assert np.linalg.norm(w - w[::-1, ::-1]) >= 0.5 * np.linalg.norm(w)
        assert max(c.inputs["x"].shape) <= spec.cases.max_side


def test_magnitudes_span_1e_minus3_to_1e3(spec):
    cases = generate(spec=spec, seed=5, hidden=True)
    scales = [np.max(np.abs(c.inputs[k])) for c in cases if c.layer != "softmax" for k in c.inputs]
    assert min(scales) < 1e-1 and max(scales) > 1e1


def test_fc_mostly_nonsquare_softmax_mixes_ordinary_and_adversarial(spec):
    cases = generate(spec=spec, seed=9, hidden=True)
    fc = [c for c in cases if c.layer == "fc"]
    assert sum(c.inputs["W"].shape[0] != c.inputs["W"].shape[1] for c in fc) > len(fc) / 2
    sm = [c for c in cases if c.layer == "softmax"]
    large = [c for c in sm if np.max(np.abs(c.inputs["s"])) >= 700]
    assert 0 < len(large) < len(sm)
    assert all(0 <= int(c.inputs["y"]) < len(c.inputs["s"]) for c in sm)


def test_hidden_seed_is_hmac_of_secret_assignment_and_student():
    import hashlib
    import hmac

    s = hidden_seed(secret=b"k", assignment="a", student_id="alice")
    assert s == int.from_bytes(hmac.new(b"k", b"a\x00alice", hashlib.sha256).digest()[:8], "big")
    assert s != hidden_seed(secret=b"k", assignment="a", student_id="bob")
    assert s != hidden_seed(secret=b"other", assignment="a", student_id="alice")
    with pytest.raises(ValueError):
        hidden_seed(secret=b"", assignment="a", student_id="alice")


def test_mistake_answers_differ_from_the_right_ones(spec):
    for c in generate(spec=spec, seed=3, hidden=False):
        for pid, wrong in c.mistakes.items():
            for mid, arr in wrong.items():
                if arr.shape == c.expected[pid].shape:
                    assert not np.allclose(arr, c.expected[pid]), (c.id, mid)


def test_known_mistakes_are_worked_out_when_first_asked_for_and_once(spec, monkeypatch):
    import reference.mistakes

    asked = []
    original = reference.mistakes.wrong_answers
    monkeypatch.setattr(reference.mistakes, "wrong_answers", lambda pid, args: asked.append(pid) or original(pid, args))
    cases = generate(spec=spec, seed=5, hidden=True)
    assert asked == []  # generating a case set computes no wrong answer
    conv = next(c for c in cases if c.layer == "conv")
    assert set(conv.mistakes) == {"conv.dx", "conv.dw"} and len(conv.mistakes) == 2 and asked == []
    first = conv.mistakes["conv.dx"]
    assert asked == ["conv.dx"]
    assert conv.mistakes.get("conv.dx") is first and asked == ["conv.dx"]  # kept, not worked out again
    # What was worked out is what the reference gives for these inputs, less the answers equal to the right one.
    x, w, dy = (conv.inputs[a] for a in ("x", "w", "dy"))
    expected = original("conv.dx", (x, w, dy))
    assert set(first) <= set(expected) and "conv.dx.unflipped" in expected
    for mid, arr in expected.items():
        if mid in first:
            np.testing.assert_array_equal(first[mid], arr)
        else:
            assert arr.shape == conv.expected["conv.dx"].shape
            np.testing.assert_allclose(arr, conv.expected["conv.dx"], rtol=0, atol=1e-9 * np.abs(arr).max())
    with pytest.raises(KeyError):
        conv.mistakes["fc.dx"]
