"""The command group: every command is listed with its help, and a command imports only what it needs."""

import importlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from click.testing import CliRunner

from grader.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[3]


def command(name: str) -> click.Command:
    module, attribute = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def test_help_lists_every_visible_command_with_its_short_help():
    r = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    listed = r.output.split("Commands:")[1]
    for name in COMMANDS:
        if command(name).hidden:
            assert f"  {name} " not in listed
        else:
            assert f"  {name}" in listed and command(name).get_short_help_str(200) in listed


def test_each_name_is_the_command_it_loads():
    for name in COMMANDS:
        assert command(name).name == name
        assert cli.get_command(click.Context(cli), name) is command(name)


def test_admin_keeps_its_sub_commands():
    r = CliRunner().invoke(cli, ["admin", "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    for name in ("init", "upgrade", "students", "tokens", "assignment", "extend", "release", "gradebook", "lti"):
        assert f"  {name} " in r.output


def test_an_unknown_command_is_a_usage_error():
    r = CliRunner().invoke(cli, ["chek"])
    assert r.exit_code == 2 and "No such command 'chek'" in r.output


def test_check_does_not_import_the_service_or_the_other_commands():
    code = (
        "import json, sys\nfrom grader.cli import cli\n"
        "try:\n    cli.main(['check', sys.argv[1], '--format', 'json'], prog_name='pa5-grader')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "submissions_example" / "correct")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    exit_code, modules = json.loads(r.stderr.strip().splitlines()[-1])
    assert exit_code == 0, r.stderr
    assert json.loads(r.stdout)["score"] == 100
    assert "grader.workflows.grade" in modules  # it did grade
    loaded = [m for m in modules if m.startswith(("grader.service", "sqlalchemy", "celery", "docker"))]
    loaded += [m for m in modules if m in ("grader.cli.admin", "grader.cli.service", "grader.cli.packaging")]
    assert loaded == []


def test_as_the_program_check_exits_with_its_code_its_output_whole_and_its_jobs_folder_gone(tmp_path):
    """`check` ends without the interpreter's teardown: what it printed and wrote must all be there."""
    jobs = Path(tempfile.mkdtemp())  # under the session's TMPDIR (0755), so the sandbox's user reaches it
    jobs.chmod(0o755)
    env = {**os.environ, "PA5_JOBS_DIR": str(jobs)}
    for example, code in (("correct", 0), ("naive_softmax", 1)):
        out = tmp_path / f"{example}.json"
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "check",
                str(ROOT / "submissions_example" / example),
                "--format",
                "json",
                "-o",
                str(out),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
        )
        assert r.returncode == code, r.stderr
        assert r.stdout.rstrip().endswith(f"json report written to {out}"), r.stdout[-300:]
        assert "problems pass; score" in r.stdout
        report = json.loads(out.read_text())
        assert (report["score"] == report["max_score"]) is (code == 0)
    assert [p for p in jobs.rglob("*") if p.name.startswith(("g", "job-"))] == [], "a jobs folder outlived its grader"
