"""The CLI through click's CliRunner: exit codes, messages, formats."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from tests.grader.sandbox.conftest import require_bwrap

ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "submissions_example"


@pytest.fixture
def run():
    def invoke(*args, env=None):
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def test_check_correct_exits_0(run):
    r = run("check", EX / "correct")
    assert r.exit_code == 0, r.output
    assert "5 of 5 problems pass; score 100 / 100" in r.output


def test_check_wrong_exits_1_and_names_the_mistake(run):
    r = run("check", EX / "unflipped_kernel")
    assert r.exit_code == 1
    assert "likely mistake: dx uses the kernel without flipping it" in r.output
    assert "worst at index" in r.output


@pytest.mark.parametrize("fmt", ["json", "junit", "gradescope"])
def test_check_formats_to_file(run, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    r = run("check", EX / "naive_softmax", "--format", fmt, "--output", out)
    assert r.exit_code == 1 and out.exists()
    text = out.read_text()
    if fmt == "junit":
        assert text.startswith("<?xml")
    else:
        json.loads(text)
    assert "problems pass" in r.output  # the text report still reaches the terminal


def test_json_to_stdout_is_pure_json(run):
    r = run("check", EX / "correct", "--format", "json")
    assert json.loads(r.output)["score"] == 100


def test_missing_backprop_names_what_was_found(run, tmp_path):
    (tmp_path / "solution.py").write_text("x = 1\n")
    r = run("check", tmp_path)
    assert r.exit_code == 2
    assert (
        f"submission folder {tmp_path} has no backprop.py, at its top or one folder down (found: solution.py)"
        in r.output
    )
    assert "Traceback" not in r.output


def test_grade_without_secret_is_a_clear_error(run):
    r = run("grade", EX / "correct", "--student-id", "a", "--sandbox", "process", env={"PA5_GRADER_SECRET": ""})
    assert r.exit_code == 2 and "no grading secret" in r.output


def test_grade_process_with_secret_file(run, tmp_path):
    secret = tmp_path / "s"
    secret.write_text("classroom-secret\n")
    r = run(
        "grade",
        EX / "correct",
        "--student-id",
        "alice",
        "--sandbox",
        "process",
        "--secret-file",
        secret,
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["student_id"] == "alice" and any(c["hidden"] for p in report["problems"] for c in p["cases"])
    assert "classroom-secret" not in r.output


def test_spec_error_names_the_line(run, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('assignment = "x"\n\n[[problems]]\nid = "conv.dx"\ntol = -1\n')
    r = run("check", EX / "correct", "--spec", spec)
    assert r.exit_code == 2 and "line 5" in r.output and "tol" in r.output


def test_unknown_option_is_a_usage_error(run):
    assert run("check", "--frobnicate").exit_code == 2


def test_every_command_has_help_with_an_example(run):
    for cmd in (
        ["check"],
        ["grade"],
        ["batch"],
        ["generate"],
        ["image", "build"],
        ["bundle", "gradescope"],
        ["bundle", "student"],
    ):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.output, cmd


def test_internal_error_is_logged_not_shown(run, monkeypatch):
    import grader.workflows.grade as g

    def boom(**kw):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(g, "check", boom)
    r = CliRunner().invoke(cli, ["check", str(EX / "correct")])
    assert r.exit_code == 2 and "internal error" in r.output and "Traceback" not in r.output
    log = Path(r.output.split("details are in ")[1].split(".log")[0] + ".log")
    assert "kaboom" in log.read_text()
    log.unlink()


def test_generate_writes_the_public_cases(run, tmp_path):
    r = run("generate", "--out", tmp_path)
    assert r.exit_code == 0 and (tmp_path / "manifest.json").exists()


@pytest.mark.docker
def test_docker_unreachable_is_a_clear_error(run):
    r = run(
        "grade",
        EX / "correct",
        "--student-id",
        "a",
        "--sandbox",
        "docker",
        "--insecure-default-secret",
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert r.exit_code == 2
    assert "Docker is not reachable at unix:///nonexistent.sock: start the daemon or use --sandbox process" in r.output


@pytest.mark.docker
def test_missing_image_says_how_to_build_it(docker_backend):
    from grader.errors import SandboxUnavailable
    from grader.sandbox.docker.image import connect

    with pytest.raises(
        SandboxUnavailable, match=r"runner image pa5-nope:latest not found: run `pa5-grader image build`"
    ):
        connect("pa5-nope:latest")


def test_bundle_with_a_bad_spec_writes_nothing(run, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text("[limits]\ncall_timeout = -5\n")
    out = tmp_path / "autograder.zip"
    r = run("bundle", "gradescope", "--out", out, "--insecure-default-secret", "--spec", spec)
    assert r.exit_code == 2 and "call_timeout" in r.output and not out.exists()


def test_auto_never_grades_unisolated_and_names_both_fixes(run):
    r = run(
        "grade",
        EX / "correct",
        "--student-id",
        "a",
        "--insecure-default-secret",
        env={"PA5_BWRAP": "/nonexistent/bwrap", "DOCKER_HOST": "unix:///nonexistent.sock"},
    )
    assert r.exit_code == 2 and "no isolating sandbox works here" in r.output
    assert "install the package `bubblewrap`" in r.output and "Docker is not reachable" in r.output


def test_check_without_bwrap_runs_in_the_process_sandbox_and_says_so(run):
    r = run("check", EX / "correct", "--format", "json", env={"PA5_BWRAP": "/nonexistent/bwrap"})
    assert r.exit_code == 0
    sandbox = json.loads(r.output)["sandbox"]
    assert sandbox["backend"] == "process" and sandbox["note"].startswith("not isolated")


@pytest.mark.bwrap
def test_check_and_grade_default_to_bwrap_where_it_works(run):
    require_bwrap()
    for args in (["check"], ["grade", "--student-id", "a", "--insecure-default-secret"]):
        r = run(args[0], EX / "correct", *args[1:], "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["sandbox"]["backend"] == "bwrap"
