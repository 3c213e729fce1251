"""Scaled out for real: `serve --broker`, Celery `worker`s on Redis, PostgreSQL; crashes of each part lose nothing."""

import json
import re
import shutil
import time

import pytest

from tests.grader.service.live import EXAMPLES
from tests.grader.service.scale.cluster import Cluster, cli
from tests.grader.service.scale.servers import PG_PASSWORD, free_port

pytestmark = pytest.mark.slow
SAMPLES = ["correct", "unflipped_kernel", "naive_softmax", "helpers_split", "transposed_fc", "p_without_t"]
SLOW = (EXAMPLES / "correct" / "backprop.py").read_text() + "\nimport time\ntime.sleep(3)\n"  # 3 s at import


@pytest.fixture
def cluster(tmp_path, database, redis_server):
    c = Cluster(tmp_path, database, redis_server.url, [f"s{i:02d}" for i in range(40)])
    c.redis = redis_server
    try:
        yield c.init()
    finally:
        c.close()


def slow_submission(tmp_path, name="slow"):
    d = tmp_path / name
    d.mkdir()
    (d / "backprop.py").write_text(SLOW)
    return d


def cli_scores(tmp_path, cluster, chosen: dict[str, str]) -> dict[str, float]:
    """What `pa5-grader batch` (the CLI's grade, per student id) gives the same files with the same secret."""
    klass = tmp_path / "class"
    for student, sample in chosen.items():
        shutil.copytree(EXAMPLES / sample, klass / student)
    out = tmp_path / "cli-reports"
    r = cli(
        *("batch", str(klass), "--out", str(out), "--jobs", "2", "--sandbox", "process"),
        *("--secret-file", str(cluster.secret_file)),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return {s: json.loads((out / f"{s}.json").read_text())["score"] for s in chosen}


def assert_exactly_once(cluster, ids):
    counts = cluster.report_counts()
    assert {i: counts.get(i) for i in ids} == dict.fromkeys(ids, 1)
    done = [j for j in cluster.jobs() if j.submission_id in ids]
    assert len(done) == len(ids) and all(j.status == "done" for j in done)


def test_two_workers_grade_forty_submissions_once_with_the_clis_scores(tmp_path, cluster):
    cluster.serve()
    workers = [cluster.worker(f"w{n}", uid_base=62000 + 5000 * n) for n in range(2)]
    chosen = {s: SAMPLES[i % len(SAMPLES)] for i, s in enumerate(cluster.students)}
    ids = {cluster.submit(s, EXAMPLES / sample): s for s, sample in chosen.items()}
    cluster.wait_done(list(ids))
    assert_exactly_once(cluster, list(ids))
    assert all(j.attempts == 1 for j in cluster.jobs())  # nobody graded anything twice
    per_worker = [len(re.findall(r"succeeded in .*: 'job \d+: done", w.log())) for w in workers]
    assert sum(per_worker) == 40 and min(per_worker) > 0, per_worker
    expected = cli_scores(tmp_path, cluster, chosen)
    got = {ids[i]: score for i, score in cluster.scores().items()}
    assert got == expected
    assert len(set(expected.values())) > 2  # the samples really differ


def test_a_worker_killed_while_grading_leaves_its_job_to_the_other(tmp_path, cluster):
    cluster.serve()
    first = cluster.worker("w0", uid_base=62000)
    sid = cluster.submit("s00", slow_submission(tmp_path))
    deadline = time.monotonic() + 60
    while not (jobs := cluster.jobs()) or jobs[0].status != "running":
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)
    holder = jobs[0].lease_owner
    first.kill9()  # the worker and its pool process, mid-grade
    second = cluster.worker("w1", uid_base=67000)
    cluster.wait_done([sid], timeout=120)
    assert_exactly_once(cluster, [sid])
    job = cluster.jobs()[0]
    assert job.attempts == 2 and cluster.scores()[sid] == 100
    assert holder and "'job 1: done" in second.log()  # graded by the survivor, not the dead holder


def test_a_redis_restart_without_persistence_loses_no_job(tmp_path, cluster):
    cluster.serve(resend_after=2.0)
    worker = cluster.worker("w0", uid_base=62000)
    ids = [cluster.submit(f"s{i:02d}", slow_submission(tmp_path, f"slow{i}")) for i in range(2)]
    ids += [cluster.submit(f"s{i:02d}", EXAMPLES / "correct") for i in range(2, 8)]
    deadline = time.monotonic() + 60
    while "running" not in cluster.statuses().values():
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.1)
    cluster.redis.restart()  # every message, queued or unacknowledged, is gone
    assert "queued" in cluster.statuses().values()  # so these only run if the sweeper sends them again
    cluster.wait_done(ids, timeout=180)
    assert_exactly_once(cluster, ids)
    assert all(score == 100 for score in cluster.scores().values())


def test_serve_killed_and_restarted_loses_nothing_accepted(tmp_path, cluster):
    serve = cluster.serve()
    cluster.worker("w0", uid_base=62000)
    ids = [cluster.submit(f"s{i:02d}", slow_submission(tmp_path, f"slow{i}")) for i in range(2)]
    ids += [cluster.submit(f"s{i:02d}", EXAMPLES / "correct") for i in range(2, 8)]
    serve.kill9()  # jobs running and queued, perhaps some never published
    time.sleep(1.0)
    assert set(cluster.statuses().values()) <= {"queued", "running", "done"}
    cluster.serve()
    cluster.wait_done(ids, timeout=180)
    assert_exactly_once(cluster, ids)


@pytest.mark.parametrize("which", ["database", "broker"])
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_an_unreachable_server_stops_the_command_naming_it_without_the_password(
    tmp_path, postgres, database, redis_server, which, command
):
    dead = free_port()
    bad = {
        "database": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{dead}/pa5",
        "broker": f"redis://:{PG_PASSWORD}@127.0.0.1:{dead}/0",
    }[which]
    db_url = bad if which == "database" else database
    broker = bad if which == "broker" else redis_server.url
    data = tmp_path / "data"
    if which == "broker":  # a database that works, so that the broker is what fails
        assert cli("admin", "init", "--data", str(data), "--database", db_url).returncode == 0
    else:
        data.mkdir()
    if command == "serve":
        args = ["serve", "--data", str(data), "--database", db_url, "--broker", broker, "--port", str(free_port())]
    else:
        args = ["worker", "--database", db_url, "--broker", broker, "--insecure-default-secret"]
    start = time.monotonic()
    r = cli(*args)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert f"127.0.0.1:{dead}" in out and "***" in out and PG_PASSWORD not in out, out
    assert "Traceback" not in out and time.monotonic() - start < 60


def test_admin_init_on_an_unreachable_database_exits_2_without_the_password(tmp_path):
    dead = free_port()
    r = cli(
        "admin", "init", "--data", str(tmp_path / "d"), "--database", f"postgresql://u:{PG_PASSWORD}@127.0.0.1:{dead}/x"
    )
    out = r.stdout + r.stderr
    assert r.returncode == 2 and f"127.0.0.1:{dead}" in out and PG_PASSWORD not in out, out
