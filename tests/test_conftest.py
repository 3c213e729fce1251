"""harness_processes() sees this session's sandboxes and nobody else's harness on the machine."""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import SESSION_TMP, harness_processes

SLEEPER = "import time\ntime.sleep(60)\n"


def _start(folder: Path, env_home: Path) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "harness.py").write_text(SLEEPER)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(env_home), "TMPDIR": str(env_home)}
    proc = subprocess.Popen([sys.executable, str(folder / "harness.py")], env=env, cwd=folder)
    for _ in range(100):
        if b"harness.py" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            break
        time.sleep(0.02)
    return proc


@pytest.fixture
def started():
    procs = []
    yield lambda folder, home: procs.append(_start(folder, home)) or procs[-1]
    for p in procs:
        p.kill()
        p.wait()


def test_another_graders_harness_is_not_counted(started):
    elsewhere = Path(tempfile.mkdtemp(prefix="pa5-unrelated-", dir="/tmp"))  # outside this session's root
    try:
        foreign = started(elsewhere / "job-1", elsewhere / "job-1" / "work")
        assert foreign.pid not in harness_processes()
    finally:
        shutil.rmtree(elsewhere)


def test_this_sessions_sandbox_is_counted(started):
    from grader.sandbox.storage import new_job_dir

    job = new_job_dir()
    assert SESSION_TMP in job.parents  # where the grader puts this session's job folders
    ours = started(job, job / "box" / "work")
    assert ours.pid in harness_processes()
