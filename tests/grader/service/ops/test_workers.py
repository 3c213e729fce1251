"""serve's worker process (grader/service/ops/workers.py), driven as serve drives it: a real child process grading a
real SQLite queue with the process sandbox."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.service.access.uploads import pack_files
from grader.service.ops.admin import open_store
from grader.service.ops.settings import ServiceSettings
from grader.service.ops.workers import WorkerProcess
from grader.spec import default_spec
from tests.grader.service.live import EXAMPLES, alive, make_data
from tests.grader.service.queue.test_store import FILES

CORRECT = (EXAMPLES / "correct" / "backprop.py").read_bytes()


@pytest.fixture
def svc(tmp_path):
    return make_data(tmp_path, students=["alice", "bob"])


def settings_of(svc, **kw) -> ServiceSettings:
    return ServiceSettings(data_dir=svc.data, **{"sandbox": "process", "workers": 1, **kw})


def add(store, student: str, files=None):
    files_zip = files or pack_files({"backprop.py": CORRECT})
    return store.add_submission(student_id=student, filename="backprop.py", files_zip=files_zip, sha256="0" * 64)


def wait_status(store, sid: int, want: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while (got := store.get_submission(sid, with_report=False).status) != want:
        assert time.monotonic() < deadline, f"submission {sid} still {got}"
        time.sleep(0.05)


def test_the_worker_process_grades_what_the_server_queues_and_holds_no_secret_in_sight(svc):
    store = open_store(svc.data, None)
    workers = WorkerProcess(settings_of(svc), default_spec(), svc.secret)
    try:
        description = workers.open()
        assert description == f"sandbox process, 1 worker(s), in worker process {workers.proc.pid}"
        child = workers.proc.pid
        assert child != os.getpid()
        seen = (f"/proc/{child}/cmdline", f"/proc/{child}/environ")
        for path in seen:  # the secret came over the pipe, nowhere another user of the machine could read it
            raw = Path(path).read_bytes()
            assert svc.secret not in raw and svc.secret.hex().encode() not in raw
        workers.start()
        sid = add(store, "alice").id
        workers.notify(0)
        wait_status(store, sid, "done")  # nothing in this process grades: the child did
        assert store.get_submission(sid).report.score == 100
    finally:
        workers.stop()
        store.engine.dispose()
    assert workers.proc.returncode == 0


def test_a_sandbox_that_cannot_start_is_the_error_of_open_and_no_process_is_left(svc, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    workers = WorkerProcess(settings_of(svc, sandbox="docker"), default_spec(), svc.secret)
    with pytest.raises(GraderError, match=r"Docker is not reachable at unix:///nonexistent/docker\.sock"):
        workers.open()
    assert workers.proc is None or workers.proc.poll() is not None


def test_a_notify_never_blocks_the_server_even_when_the_worker_process_reads_nothing(svc):
    """The child stopped (SIGSTOP): far more notifies than its pipe holds all return, and once it runs again it
    grades what was queued."""
    store = open_store(svc.data, None)
    workers = WorkerProcess(settings_of(svc), default_spec(), svc.secret)
    workers.open()
    try:
        workers.start()
        child = workers.proc.pid
        sid = add(store, "bob").id  # before the stop: a child stopped mid-transaction would hold the write lock
        os.kill(child, signal.SIGSTOP)
        sent = threading.Thread(target=lambda: [workers.notify(0) for _ in range(300_000)], daemon=True)
        sent.start()
        sent.join(timeout=120)  # a guard against a hang, not a timing
        assert not sent.is_alive(), "notify blocked on a full pipe"
        os.kill(child, signal.SIGCONT)
        wait_status(store, sid, "done")
    finally:
        workers.stop()
        store.engine.dispose()


def test_stop_before_start_ends_the_worker_process_without_grading(svc):
    store = open_store(svc.data, None)
    sid = add(store, "alice", FILES).id
    workers = WorkerProcess(settings_of(svc), default_spec(), svc.secret)
    workers.open()
    child = workers.proc.pid
    workers.stop()
    assert not alive(child) and workers.proc.returncode == 0
    assert store.get_submission(sid).status == "queued"
    store.engine.dispose()
