"""The launch recipe: one harness command line and one environment for every backend."""

import json
import os
from pathlib import Path

from grader.sandbox.launch import JOB_DIRS, harness_argv, job_request, new_job_dir, sandbox_env


def test_harness_argv_runs_calls_or_waits_for_the_job():
    run = harness_argv("py", "/j/harness.py", "/j", [0, 2, 5], ["/site/0", "/site/1"])
    assert run == [
        "py",
        "-I",
        "-S",
        "-B",
        "-u",
        "/j/harness.py",
        "/j",
        "--calls",
        "0,2,5",
        "--path",
        "/site/0",
        "/site/1",
    ]
    wait = harness_argv("py", "/j/harness.py", "/j", None, ["/site/0"])
    assert wait == ["py", "-I", "-S", "-B", "-u", "/j/harness.py", "--await-job", "--path", "/site/0"]
    assert json.loads(job_request("/j", [1, 3])) == {"job": "/j", "calls": [1, 3]}


def test_sandbox_env_keeps_nothing_of_the_graders(monkeypatch):
    monkeypatch.setenv("PA5_GRADER_SECRET", "s3cret")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    env = sandbox_env(job="/job", tmp="/tmp", token="abc")
    assert "PA5_GRADER_SECRET" not in env and "s3cret" not in "".join(env.values())
    assert env["HOME"] == "/job/work" and env["TMPDIR"] == "/tmp" and env["PA5_SANDBOX_TOKEN"] == "abc"
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert "PA5_SANDBOX_TOKEN" not in sandbox_env(job="/job", tmp="/tmp")


def test_new_job_dir_is_private_to_this_user_and_ready():
    job = new_job_dir()
    try:
        assert sorted(os.listdir(job)) == sorted(JOB_DIRS)
        assert job.parent.stat().st_mode & 0o777 == 0o711 and job.parent.stat().st_uid == os.getuid()
    finally:
        for d in JOB_DIRS:
            (job / d).rmdir()
        job.rmdir()


def test_jobs_go_where_asked_else_to_a_roomy_tmpfs_unless_tmpdir_is_set(monkeypatch, tmp_path):
    from grader.sandbox import launch

    monkeypatch.setenv("PA5_JOBS_DIR", str(tmp_path))
    assert launch.jobs_parent() == tmp_path
    monkeypatch.delenv("PA5_JOBS_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(launch.tempfile, "tempdir", None)
    assert launch.jobs_parent() == tmp_path  # an explicit TMPDIR wins (the tests keep their jobs in theirs)
    monkeypatch.delenv("TMPDIR")
    monkeypatch.setattr(launch, "_roomy_tmpfs", lambda path, room=0: path == "/dev/shm")
    assert launch.jobs_parent() == launch.Path("/dev/shm")
    monkeypatch.setattr(launch, "_roomy_tmpfs", lambda path, room=0: False)
    monkeypatch.setattr(launch.tempfile, "tempdir", str(tmp_path / "t"))
    assert launch.jobs_parent() == tmp_path / "t"


def test_a_roomy_tmpfs_is_a_tmpfs_with_a_gibibyte_free():
    from grader.sandbox.launch import _roomy_tmpfs

    mounts = {line.split()[1]: line.split()[2] for line in Path("/proc/self/mounts").read_text().splitlines()}
    if mounts.get("/dev/shm") == "tmpfs":
        st = os.statvfs("/dev/shm")
        assert _roomy_tmpfs("/dev/shm") == (st.f_bavail * st.f_frsize >= 1 << 30)
    assert not _roomy_tmpfs("/proc")  # not a tmpfs
    assert not _roomy_tmpfs("/nonexistent")
