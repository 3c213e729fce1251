"""Loading a spec file: overrides apply to exactly the keys given, everything else keeps its default."""

import pytest

from grader.errors import SpecError
from grader.spec import default_spec, load_spec


def write(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_no_file_is_the_default_spec():
    assert load_spec(None) == default_spec()


def test_a_problem_is_overridden_by_id_and_the_others_keep_their_defaults(tmp_path):
    spec = load_spec(write(tmp_path, '[[problems]]\nid = "fc.dW"\npoints = 5\ntol = 1e-6\n'))
    default = default_spec()
    fc_dw = spec.problem("fc.dW")
    assert (fc_dw.points, fc_dw.tol) == (5.0, 1e-6)
    assert fc_dw.title == default.problem("fc.dW").title and fc_dw.tau == default.problem("fc.dW").tau
    assert [p.id for p in spec.problems] == [p.id for p in default.problems]
    for pid in ("conv.dx", "conv.dw", "fc.dx", "softmax.ds"):
        assert spec.problem(pid) == default.problem(pid)
    assert spec.cases == default.cases and spec.limits == default.limits


def test_a_partial_limits_table_overrides_only_its_keys(tmp_path):
    spec = load_spec(write(tmp_path, "[limits]\ncall_timeout = 3.5\noutput_kb = 8\n"))
    default = default_spec().limits
    assert spec.limits.call_timeout == 3.5 and spec.limits.output_kb == 8
    untouched = set(type(default).model_fields) - {"call_timeout", "output_kb"}
    assert untouched and all(getattr(spec.limits, k) == getattr(default, k) for k in untouched)
    assert spec.problems == default_spec().problems


def test_top_level_keys_and_a_partial_cases_table(tmp_path):
    spec = load_spec(write(tmp_path, 'assignment = "pa5-fall"\nhidden_visibility = "hidden"\n[cases]\nmax_side = 8\n'))
    assert spec.assignment == "pa5-fall" and spec.hidden_visibility == "hidden"
    assert spec.cases.max_side == 8 and spec.cases.conv == default_spec().cases.conv
    assert spec.sha256 != default_spec().sha256


@pytest.mark.parametrize(
    "text,match",
    [
        ('[[problems]]\nid = "conv.dy"\n', "unknown problem id 'conv.dy'"),
        ("[limits]\ncall_timeout = -5\n", "line 2: limits.call_timeout"),
        ("colour = 1\n", "colour"),
        ("[limits\n", "spec file"),
    ],
)
def test_bad_files_are_spec_errors(tmp_path, text, match):
    with pytest.raises(SpecError, match=match):
        load_spec(write(tmp_path, text))


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec file"):
        load_spec(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    "text,words",
    [
        (
            '[[problems]]\nid = "conv.dx"\npoint = 30\n',
            "line 3: problems.0.point: unknown key `point` (did you mean `points`?)",
        ),
        ("[limits]\ncall_timout = 3\n", "unknown key `call_timout` (did you mean `call_timeout`?)"),
        ("[limit]\ncall_timeout = 3\n", "unknown key `limit` (did you mean `limits`?)"),
        ("[cases.conv]\npublc = 3\n", "did you mean `public`?"),
        ("zzz = 1\n", "unknown key `zzz`; the keys here are assignment, problems, cases, limits, hidden_visibility"),
        (
            '[[problems]]\nid = "conv.dX"\n',
            "unknown problem id 'conv.dX' (did you mean `conv.dx`?); the problems are conv.dx, conv.dw, fc.dx, fc.dW, "
            "softmax.ds",
        ),
    ],
)
def test_a_typo_gets_the_key_or_problem_it_probably_meant(tmp_path, text, words):
    with pytest.raises(SpecError) as e:
        load_spec(write(tmp_path, text))
    assert words in str(e.value)
