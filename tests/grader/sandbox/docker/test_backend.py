"""The Docker backend and its runner image: the container settings the security model promises, the image's
contents, and the sweep of containers a dead grader left."""

from pathlib import Path

import pytest

from grader.sandbox.protocol import write_job
from grader.submission import load_submission

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.docker


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


def test_leftover_containers_of_dead_graders_are_swept(docker_backend):
    from grader.sandbox.docker.backend import LABEL, sweep_leftovers

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


def test_image_build_from_two_files(docker_backend):
    from grader.sandbox.docker.image import HARNESS_LABEL, build_image, harness_digest

    tag = "pa5-grader-runner:test-build"
    try:
        lines = []
        build_image(tag=tag, log=lines.append)
        image = docker_backend.client.images.get(tag)
        assert image.labels[HARNESS_LABEL] == harness_digest()
        assert any("numpy" in line for line in lines)  # the Dockerfile's import check ran
    finally:
        docker_backend.client.images.remove(tag, force=True)
