"""Where an interpreter keeps its packages, learnt in one start (as the sandbox's user when asked), and what it
answers when that user cannot start it."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.sandbox import siteview
from grader.sandbox.bwrap import setup

SANDBOX_UID = 61000
# What site.main() makes of the interpreter's folders: the answer without any shortcut.
FULL_START = "import json, site, sys; print(json.dumps([[sys.prefix, sys.base_prefix], site.getsitepackages()]))"


def full_start(python):
    out = subprocess.run([python, "-I", "-c", FULL_START], capture_output=True, text=True, check=True).stdout
    prefixes, sites = json.loads(out)
    return siteview._existing({"prefixes": prefixes, "sites": sites})


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(siteview, "_cache", {})


PYTHONS = [p for p in dict.fromkeys([sys.executable, setup.DEBIAN_PYTHON]) if os.path.exists(p)]


@pytest.mark.parametrize("python", PYTHONS)
def test_the_folders_are_those_a_full_start_finds(python, fresh_cache):
    """Outside a venv the probe skips site's start-up (-S); inside one (this suite's) it must not."""
    found, why = siteview._folders(python, None)
    assert why == "" and found == full_start(python)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the interpreter as another user")
@pytest.mark.parametrize("python", PYTHONS)
def test_one_start_as_the_sandbox_user_answers_both_questions(python, fresh_cache, monkeypatch):
    expected = full_start(python)
    assert siteview.runs_as(python, SANDBOX_UID) == ""
    if python == sys.executable:
        return  # its folders are known without a start
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a second interpreter start"))
    assert siteview.prefixes(python) == expected["prefixes"] and siteview.site_dirs(python) == expected["sites"]


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the interpreter as another user")
def test_an_interpreter_the_sandbox_user_cannot_reach_is_refused_with_the_reason(fresh_cache, monkeypatch):
    hidden = Path(tempfile.mkdtemp())  # 0700, root's: the sandbox's user cannot pass through it
    try:
        python = hidden / "python3"
        python.symlink_to(setup.DEBIAN_PYTHON if os.path.exists(setup.DEBIAN_PYTHON) else sys.executable)
        assert "Permission denied" in siteview.runs_as(str(python), SANDBOX_UID)
        monkeypatch.setenv("PA5_SANDBOX_PYTHON", str(python))
        monkeypatch.setattr(setup, "_checked", {})
        chosen, why = setup.choose_python(SANDBOX_UID)
        assert chosen is None
        assert f"{python}: user {SANDBOX_UID} cannot run it (Permission denied)" in why
    finally:
        shutil.rmtree(hidden)


def test_a_venv_is_told_from_a_plain_interpreter(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").symlink_to(sys.executable)
    assert not siteview._venv(str(tmp_path / "bin" / "python"))
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert siteview._venv(str(tmp_path / "bin" / "python"))
