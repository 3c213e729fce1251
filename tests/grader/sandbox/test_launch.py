"""The launch recipe: one harness command line and one environment for every backend."""

import json
import resource

from grader.sandbox.launch import harness_argv, job_request, rlimits, sandbox_env
from grader.spec import Limits


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
    assert env["HOME"] == "/job/box/work" and env["TMPDIR"] == "/tmp" and env["PA5_SANDBOX_TOKEN"] == "abc"
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert "PA5_SANDBOX_TOKEN" not in sandbox_env(job="/job", tmp="/tmp")


def test_the_address_space_limit_leaves_room_for_each_allowed_thread():
    limits = Limits(memory_mb=512, max_processes=32)
    pairs = dict(rlimits(limits, count_processes=True))
    stack = pairs[resource.RLIMIT_STACK][0]
    # memory_mb, plus a full stack for each of max_processes threads (and no per-thread malloc arenas)
    assert pairs[resource.RLIMIT_AS][0] == (512 << 20) + 32 * stack
    assert sandbox_env(job="/job", tmp="/tmp")["MALLOC_ARENA_MAX"] == "1"
    assert pairs[resource.RLIMIT_NPROC] == (32, 32)
    assert resource.RLIMIT_NPROC not in dict(rlimits(limits, count_processes=False))
