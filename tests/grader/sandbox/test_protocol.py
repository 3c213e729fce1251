"""What crosses the boundary: only the submission, the harness, inputs and a plan go in; status files are distrusted."""

import ast
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import protocol
from grader.sandbox.protocol import read_call, read_progress, write_job
from grader.submission import load_submission

ROOT = Path(__file__).resolve().parents[3]


def test_job_holds_inputs_only(tmp_path, public_cases):
    job = tmp_path / "job"
    job.mkdir()
    write_job(job, submission=load_submission(ROOT / "submissions_example" / "correct"), cases=public_cases)
    assert sorted(p.name for p in job.iterdir()) == ["box", "harness.py", "inputs.npz", "plan.json", "submission"]
    assert sorted(p.name for p in (job / "box").iterdir()) == ["out", "shm", "tmp", "work"]
    with np.load(job / "inputs.npz", allow_pickle=False) as z:
        keys = z.files
    names = {k.split(".", 1)[1] for k in keys}
    assert names == {"x", "w", "dy", "W", "s", "y"}
    expected_values = [v for c in public_cases for v in c.expected.values()]
    with np.load(job / "inputs.npz", allow_pickle=False) as z:
        for k in keys:
            assert not any(z[k].shape == e.shape and np.array_equal(z[k], e) for e in expected_values)
    plan = (job / "plan.json").read_text()
    assert "expected" not in plan and "secret" not in plan.lower() and "seed" not in plan


def test_harness_imports_only_stdlib_and_numpy():
    tree = ast.parse(protocol.HARNESS.read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules - {"numpy"} <= set(sys.stdlib_module_names)
    assert "numpy" in modules and not modules & {"grader", "reference", "scipy", "pydantic"}


def test_progress_parsing_is_robust(tmp_path):
    (tmp_path / "box" / "out").mkdir(parents=True)
    (tmp_path / "box" / "out" / "progress").write_bytes(b"import\nstart 0\nend 0\nstart 1\ngarbage \xff\nend x\n")
    assert read_progress(tmp_path) == (True, 1, {0})


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100000 + "]" * 100000,
        json.dumps({"status": "ok", "extra": 1}),
        json.dumps({"status": "passed"}),
        json.dumps({"status": "ok", "message": "x" * 10000}),
        "x" * (protocol.MAX_STATUS_BYTES + 10),
    ],
    ids=["deep", "extra-field", "bad-status", "long-message", "huge"],
)
def test_malformed_status_files_become_errors(tmp_path, text):
    (tmp_path / "box" / "out").mkdir(parents=True)
    (tmp_path / "box" / "out" / "0.json").write_text(text)
    status, arrays = read_call(tmp_path, 0)
    assert status.status == "error" and arrays == {}


def test_missing_status_is_a_crash(tmp_path):
    (tmp_path / "box" / "out").mkdir(parents=True)
    status, _ = read_call(tmp_path, 3)
    assert status.status == "crashed"


@pytest.mark.docker
def test_runner_image_has_no_reference_or_grader(docker_backend):
    out = docker_backend.client.containers.run(
        docker_backend.image,
        [
            "python3",
            "-c",
            "import importlib.util as u, os; "
            "print(u.find_spec('reference'), u.find_spec('grader'), sorted(os.listdir('/opt/pa5')))",
        ],
        remove=True,
        network_disabled=True,
    ).decode()
    assert out.strip() == "None None ['harness.py']"


@pytest.mark.docker
def test_container_settings(docker_backend, tmp_path, public_cases):
    """Inspect a live sandbox container: the settings the security model promises."""
    from grader.sandbox.capture import Capture
    from grader.spec import Limits

    job = tmp_path / "job"
    job.mkdir()
    write_job(job, submission=load_submission(ROOT / "submissions_example" / "correct"), cases=public_cases[:1])
    session = docker_backend.open(job)
    attempt = session.start([0], Capture(keep=1024), Limits())
    try:
        attempt.container.reload()
        hc = attempt.container.attrs["HostConfig"]
        cfg = attempt.container.attrs["Config"]
        assert hc["NetworkMode"] == "none" and hc["ReadonlyRootfs"] is True
        assert hc["Memory"] == hc["MemorySwap"] == 1024 << 20
        assert hc["CapDrop"] == ["ALL"] and "no-new-privileges" in hc["SecurityOpt"]
        assert hc["PidsLimit"] == 32 and hc["NanoCpus"] == 1_000_000_000
        assert {u["Name"] for u in hc["Ulimits"]} >= {"cpu", "fsize", "nofile", "core"}
        assert hc["LogConfig"]["Config"]["max-size"] == "1m"
        assert cfg["User"] == "65534:65534"
        assert not any("SECRET" in e for e in cfg["Env"])
    finally:
        attempt.kill()
        session.finish(attempt)


@pytest.mark.docker
def test_leftover_containers_of_dead_graders_are_swept(docker_backend):
    from grader.sandbox.docker_backend import LABEL, sweep_leftovers

    c = docker_backend.client.containers.create(
        docker_backend.image, ["sleep", "600"], labels={LABEL: "1", f"{LABEL}.pid": "999999999"}
    )
    mine = docker_backend.client.containers.create(
        docker_backend.image, ["sleep", "600"], labels={LABEL: "1", f"{LABEL}.pid": str(__import__("os").getpid())}
    )
    try:
        assert sweep_leftovers(docker_backend.client) >= 1
        ids = {x.id for x in docker_backend.client.containers.list(all=True, filters={"label": LABEL})}
        assert c.id not in ids and mine.id in ids  # a live grader's containers are left alone
    finally:
        mine.remove(force=True)


@pytest.mark.docker
def test_image_build_from_two_files(docker_backend):
    from grader.sandbox.image import HARNESS_LABEL, build_image, harness_digest

    tag = "pa5-grader-runner:test-build"
    try:
        lines = []
        build_image(tag=tag, log=lines.append)
        image = docker_backend.client.images.get(tag)
        assert image.labels[HARNESS_LABEL] == harness_digest()
        assert any("numpy" in line for line in lines)  # the Dockerfile's import check ran
    finally:
        docker_backend.client.images.remove(tag, force=True)
