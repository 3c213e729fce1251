"""A Celery `worker --data DIR` grades with the secret `admin init --secret-file` recorded there, no other flag."""

import json
import os
import time

import pytest
from sqlalchemy import select

from grader.cases.generate import generate
from grader.cases.seeds import hidden_seed
from grader.config import SECRET_ENV
from grader.service.queue import db
from grader.spec import default_spec
from tests.grader.service.live import EXAMPLES
from tests.grader.service.scale.cluster import Cluster, Proc, cli

pytestmark = pytest.mark.slow


def test_a_worker_with_only_the_data_folder_grades_with_its_recorded_secret(tmp_path, database, redis_server):
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    secret = tmp_path / "S"
    secret.write_bytes(b"recorded for the workers\n")
    c = Cluster(tmp_path, database, redis_server.url, ["alice"])
    try:
        r = cli("admin", "init", "--data", str(c.data), "--database", database, "--secret-file", str(secret), env=env)
        assert r.returncode == 0, r.stderr
        c.init()  # a second init changes nothing; then the roster
        assert (c.data / "secret").read_bytes() == secret.read_bytes()
        c.serve()
        args = ["worker", "--data", str(c.data), "--database", database, "--broker", redis_server.url]
        w = Proc([*args, "--sandbox", "process", "--lease-seconds", "4"], tmp_path / "w.log", env=env)
        c.procs.append(w)
        deadline = time.monotonic() + 60
        while "ready." not in w.log():
            assert w.p.poll() is None and time.monotonic() < deadline, w.log()
            time.sleep(0.1)
        sid = c.submit("alice", EXAMPLES / "correct")
        c.wait_done([sid])
        with c.store.session() as s:
            report = json.loads(s.scalar(select(db.Report.report_json).where(db.Report.submission_id == sid)))
        spec = default_spec()
        seed = hidden_seed(secret=b"recorded for the workers", assignment=spec.assignment, student_id="alice")
        drawn = {
            x.id: {k: list(v.shape) for k, v in x.inputs.items() if v.ndim}
            for x in generate(spec=spec, seed=seed, hidden=True)
        }
        graded = {x["id"]: x["shapes"] for p in report["problems"] for x in p["cases"] if x["hidden"]}
        assert graded == drawn and report["score"] == 100
    finally:
        c.close()
