"""A real `pa5-grader serve` process with its worker pool: scores as `pa5-grader grade`, and a kill -9 loses nothing."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from grader.service.ops.client import pack
from tests.grader.sandbox import hostile
from tests.grader.sandbox.conftest import require_bwrap
from tests.grader.service.hang import MARK, SERVE_PRELUDE
from tests.grader.service.live import EXAMPLES, alive, free_port, make_data, serve_process, worker_processes

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "grader"]
SAMPLES = ["correct", "unflipped_kernel", "naive_softmax", "helpers_split", "transposed_fc"]


def post(url, token, path):
    name, data = pack(path)
    r = httpx.post(f"{url}/api/submissions", headers={"Authorization": f"Bearer {token}"}, files={"file": (name, data)})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def state(url, token, sid):
    return httpx.get(f"{url}/api/submissions/{sid}", headers={"Authorization": f"Bearer {token}"}).json()


def wait_all(url, token, ids, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        states = {sid: state(url, token, sid) for sid in ids}
        if all(s["status"] in ("done", "failed", "superseded") for s in states.values()):
            return states
        assert time.monotonic() < deadline, {k: v["status"] for k, v in states.items()}
        time.sleep(0.25)


def test_scores_equal_those_of_pa5_grader_grade(tmp_path):
    students = [f"s{i}" for i in range(len(SAMPLES))]
    svc = make_data(tmp_path, students=students)
    with serve_process(svc.data, "--workers", "2") as (_, url):
        pairs = zip(students, SAMPLES, strict=True)
        ids = {post(url, svc.tokens[st], EXAMPLES / name): (st, name) for st, name in pairs}
        states = wait_all(url, svc.instructor, ids)
    for sid, (student, name) in ids.items():
        args = ["--student-id", student, "--sandbox", "process", "--format", "json"]
        cli = subprocess.run(
            [*CLI, "grade", str(EXAMPLES / name), *args, "--secret-file", str(svc.data / "secret")],
            capture_output=True,
            text=True,
        )
        assert cli.returncode in (0, 1), cli.stderr
        expected = json.loads(cli.stdout)
        got = states[sid]["report"]
        assert states[sid]["status"] == "done"
        assert got["score"] == expected["score"], name
        assert got["submission_sha256"] == expected["submission_sha256"]
        assert [(p["id"], p["score"], [c["status"] for c in p["cases"]]) for p in got["problems"]] == [
            (p["id"], p["score"], [c["status"] for c in p["cases"]]) for p in expected["problems"]
        ], name


def test_kill_9_with_jobs_queued_and_running_loses_nothing_and_grades_each_once(tmp_path):
    students = [f"k{i}" for i in range(5)]
    svc = make_data(tmp_path, students=students)
    slow = tmp_path / "slow"
    slow.mkdir()
    correct = (EXAMPLES / "correct" / "backprop.py").read_text()
    (slow / "backprop.py").write_text("import time\ntime.sleep(3)\n" + correct)
    with serve_process(svc.data, "--workers", "1", "--lease-seconds", "2") as (proc, url):
        ids = [post(url, svc.tokens[students[0]], slow)]
        ids += [post(url, svc.tokens[st], EXAMPLES / "correct") for st in students[1:]]
        deadline = time.monotonic() + 60
        while state(url, svc.instructor, ids[0])["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        statuses = [state(url, svc.instructor, sid)["status"] for sid in ids]
        (worker,) = worker_processes(proc.pid)
        os.kill(worker, signal.SIGKILL)  # the machine's crash: the grading process and the server, at once
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert statuses[0] == "running" and "queued" in statuses[1:]
    with serve_process(svc.data, "--workers", "2", "--lease-seconds", "2") as (_, url):
        states = wait_all(url, svc.instructor, ids)
    assert all(s["status"] == "done" and s["score"] == 100 for s in states.values())
    db = sqlite3.connect(svc.data / "pa5.db")
    reports = dict(db.execute("SELECT submission_id, COUNT(*) FROM reports GROUP BY submission_id"))
    done_jobs = dict(
        db.execute("SELECT submission_id, COUNT(*) FROM jobs WHERE status = 'done' GROUP BY submission_id")
    )
    attempts = dict(db.execute("SELECT submission_id, attempts FROM jobs"))
    db.close()
    assert reports == {sid: 1 for sid in ids}
    assert done_jobs == {sid: 1 for sid in ids}
    assert attempts[ids[0]] == 2  # the job the kill interrupted ran again, once


def test_serve_killed_alone_its_worker_process_hands_the_running_job_back_and_exits(tmp_path):
    """kill -9 of serve only: its worker process (another process) sees its stdin close, stops, hands the job it
    was grading back to the queue and exits; the next serve grades it, once, and everything behind it."""
    students = ["w0", "w1"]
    svc = make_data(tmp_path, students=students)
    slow = tmp_path / "slow"
    slow.mkdir()
    correct = (EXAMPLES / "correct" / "backprop.py").read_text()
    (slow / "backprop.py").write_text("import time\ntime.sleep(3)\n" + correct)
    with serve_process(svc.data, "--workers", "1") as (proc, url):
        ids = [post(url, svc.tokens["w0"], slow), post(url, svc.tokens["w1"], EXAMPLES / "correct")]
        deadline = time.monotonic() + 60
        while state(url, svc.instructor, ids[0])["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (worker,) = worker_processes(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while alive(worker):
            assert time.monotonic() < deadline, "the worker process outlived its serve"
            time.sleep(0.05)
    db = sqlite3.connect(svc.data / "pa5.db")
    handed_back = dict(db.execute("SELECT submission_id, status FROM jobs"))
    db.close()
    assert handed_back == {ids[0]: "queued", ids[1]: "queued"}  # released, not left to a lease's expiry
    with serve_process(svc.data, "--workers", "1") as (_, url):
        states = wait_all(url, svc.instructor, ids)
    assert all(s["status"] == "done" and s["score"] == 100 for s in states.values())


def test_serve_starts_a_worker_process_again_when_it_dies(tmp_path):
    """The worker process killed (the OOM killer, say) while serve runs: another takes its place and grades."""
    svc = make_data(tmp_path, students=["d0", "d1"])
    with serve_process(svc.data, "--workers", "1") as (proc, url):
        first = post(url, svc.tokens["d0"], EXAMPLES / "correct")
        assert wait_all(url, svc.instructor, [first])[first]["status"] == "done"
        (worker,) = worker_processes(proc.pid)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not (again := [w for w in worker_processes(proc.pid) if w != worker and alive(w)]):
            assert time.monotonic() < deadline, "no worker process took the dead one's place"
            time.sleep(0.1)
        second = post(url, svc.tokens["d1"], EXAMPLES / "correct")
        assert wait_all(url, svc.instructor, [second])[second]["score"] == 100
        assert worker_processes(proc.pid) == again
        assert proc.poll() is None
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert f"the worker process {worker} exited (signal SIGKILL); starting another" in log


def test_serve_refuses_a_public_address_and_a_missing_data_folder(tmp_path):
    svc = make_data(tmp_path, students=["a"])
    r = subprocess.run(
        [*CLI, "serve", "--data", str(svc.data), "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "--public" in r.stderr and "unencrypted" in r.stderr
    r = subprocess.run([*CLI, "serve", "--data", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "admin init" in r.stderr
    for p in svc.data.glob("pa5.db-*"):  # the write-ahead log would still hold the tables
        p.unlink()
    (svc.data / "pa5.db").write_bytes(b"this is not a database" * 100)
    args = ["--data", str(svc.data), "--sandbox", "process", "--port", str(free_port())]
    r = subprocess.run([*CLI, "serve", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "pa5.db" in r.stderr and "Traceback" not in r.stderr


def test_serve_frees_its_workers_from_two_grades_hung_on_the_trusted_side(tmp_path):
    """A real serve with two workers whose process backend hangs (for ever, deaf to cancel) on two submissions: both
    end failed at their budget, and an honest upload behind them starts within one submission_timeout of theirs."""
    timeout = 5.0
    svc = make_data(tmp_path, students=["h1", "h2", "ok"])
    spec = tmp_path / "spec.toml"
    spec.write_text(f"[limits]\nsubmission_timeout = {timeout}\n")
    hung = tmp_path / "hung"
    hung.mkdir()
    (hung / "backprop.py").write_text((EXAMPLES / "correct" / "backprop.py").read_text() + f"\n{MARK}\n")
    args = ["--workers", "2", "--spec", str(spec), "--grade-margin", "1"]
    with serve_process(svc.data, *args, prelude=SERVE_PRELUDE) as (_, url):
        bad = [post(url, svc.tokens["h1"], hung), post(url, svc.tokens["h2"], hung)]
        deadline = time.monotonic() + 60
        while any(state(url, svc.instructor, sid)["status"] != "running" for sid in bad):
            assert time.monotonic() < deadline, "the hanging grades never started"
            time.sleep(0.05)
        t0 = time.monotonic()
        honest = post(url, svc.tokens["ok"], EXAMPLES / "correct")
        while state(url, svc.instructor, honest)["status"] == "queued":
            assert time.monotonic() - t0 <= 2 * timeout, "the honest upload did not start within the bound"
            time.sleep(0.05)
        states = wait_all(url, svc.instructor, [honest, *bad], timeout=120)
    assert states[honest]["status"] == "done" and states[honest]["score"] == 100
    for sid in bad:
        assert states[sid]["status"] == "failed" and "its budget" in states[sid]["error"]


@pytest.mark.bwrap
def test_two_fifo_submissions_never_hold_the_workers_from_an_honest_one(tmp_path):
    """Issue 16: two uploads that replace their results with FIFOs held both workers of serve (the template
    sandbox) for ever. Now each is a report of its own, and an honest upload behind them is graded in full."""
    require_bwrap()  # skips where bwrap cannot sandbox, fails where CI requires it
    timeout = 20.0
    svc = make_data(tmp_path, students=["f1", "f2", "ok"])
    spec = tmp_path / "spec.toml"
    spec.write_text(f"[limits]\nsubmission_timeout = {timeout}\n")
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    (fifo / "backprop.py").write_text(hostile.FIFO_OUTPUTS)
    args = ["--workers", "2", "--spec", str(spec), "--sandbox", "bwrap"]
    with serve_process(svc.data, *args) as (_, url):
        bad = [post(url, svc.tokens["f1"], fifo), post(url, svc.tokens["f2"], fifo)]
        t0 = time.monotonic()
        honest = post(url, svc.tokens["ok"], EXAMPLES / "correct")
        while state(url, svc.instructor, honest)["status"] == "queued":
            assert time.monotonic() - t0 <= 2 * timeout, "the honest upload did not start within the bound"
            time.sleep(0.05)
        states = wait_all(url, svc.instructor, [honest, *bad], timeout=120)
    assert states[honest]["status"] == "done" and states[honest]["score"] == 100
    for sid in bad:
        assert states[sid]["status"] == "done" and states[sid]["score"] < 100


def deep_chain(top, depth: int) -> None:
    """top/d/d/.../d, `depth` folders deep, made through descriptors (the path would be too long to name)."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)


def remove_chain(top) -> None:
    """Undo deep_chain one level at a time, never deeper than two folders."""
    while (top / "d").exists():
        if (top / "d" / "d").exists():
            os.rename(top / "d" / "d", top / "up")
            os.rmdir(top / "d")
            os.rename(top / "up", top / "d")
        else:
            os.rmdir(top / "d")
    top.rmdir()


def test_serve_starts_after_a_cleanup_that_cannot_finish(tmp_path):
    """A leftover in the data folder's tmp/ that shutil.rmtree cannot remove (1,500 folders deep: RecursionError)
    never stops serve from starting and grading. (Job folders under the jobs root are the sandbox's own sweep.)"""
    svc = make_data(tmp_path, students=["a"])
    left = svc.data / "tmp" / "job-leftover"
    left.mkdir(parents=True)
    deep_chain(left, 1500)
    try:
        with serve_process(svc.data, "--workers", "1") as (_, url):
            sid = post(url, svc.tokens["a"], EXAMPLES / "correct")
            assert wait_all(url, svc.instructor, [sid])[sid]["score"] == 100
        log = next(tmp_path.glob("serve-*.log")).read_text()
        assert "Traceback" not in log
        assert not left.exists() or "could not remove the leftover" in log  # removed, or said why not
    finally:
        if left.exists():
            remove_chain(left)
