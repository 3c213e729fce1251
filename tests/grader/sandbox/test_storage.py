"""Job folders: one jobs folder per grader, a capped box per job, and clean-up that never blocks a start."""

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.sandbox import storage
from grader.sandbox.storage import BOX, BOX_DIRS, graders_folder, jobs_root, new_job_dir, remove_job
from grader.spec import Limits

ROOT = Path(__file__).resolve().parents[3]
needs_mounts = pytest.mark.skipif(not storage.can_mount(), reason="job quotas need mount privileges (root)")


def _in_another_grader(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a new Python process, as another grader on this machine would be."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_a_new_job_has_its_box_and_nothing_else():
    job = new_job_dir(Limits())
    try:
        assert os.listdir(job) == [BOX] and sorted(os.listdir(job / BOX)) == sorted(BOX_DIRS)
        assert job.parent == jobs_root() and job.parent.stat().st_mode & 0o777 == 0o711
        assert job.parent.parent == graders_folder() and job.parent.stat().st_uid == os.getuid()
    finally:
        assert remove_job(job) and not job.exists()


def test_each_grader_process_has_a_jobs_folder_of_its_own():
    other = _in_another_grader("from grader.sandbox.storage import jobs_root; print(jobs_root())")
    assert other.returncode == 0, other.stderr
    theirs = Path(other.stdout.strip())
    assert theirs != jobs_root() and theirs.parent == jobs_root().parent
    assert not theirs.exists()  # it went with its process


def test_a_dead_graders_folder_is_swept_and_a_live_ones_is_not():
    top = graders_folder()
    dead = top / "g999999999-deadbeef"
    (dead / "job-x" / BOX / "out").mkdir(parents=True)
    (dead / ".lock").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", "from grader.sandbox.storage import jobs_root; print(jobs_root(), flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        alive = Path(holder.stdout.readline().strip())
        storage.sweep_stale_graders(top)
        assert not dead.exists()
        assert alive.is_dir()  # its lock is held
    finally:
        holder.communicate("\n", timeout=60)


def test_a_leftover_that_cannot_be_removed_is_logged_and_start_up_goes_on(caplog):
    """Issue 16: a job folder nobody could remove made every later start exit 2."""
    if os.geteuid() != 0 or subprocess.run(["which", "chattr"], capture_output=True).returncode:
        pytest.skip("needs root and chattr to make an unremovable file")
    top = graders_folder()
    stuck = top / "g999999998-stuck"
    (stuck / "job-y").mkdir(parents=True)
    pinned = stuck / "job-y" / "pinned"
    pinned.write_text("x")
    if subprocess.run(["chattr", "+i", str(pinned)], capture_output=True).returncode:
        pytest.skip("this file system has no immutable flag")
    try:
        storage.sweep_stale_graders(top)  # must not raise
        assert stuck.exists() and "left" in caplog.text and str(stuck) in caplog.text
        other = _in_another_grader("from grader.sandbox.storage import jobs_root; print(jobs_root())")
        assert other.returncode == 0, other.stderr
    finally:
        subprocess.run(["chattr", "-i", str(pinned)], check=True)
        storage.remove_folder(stuck)


@needs_mounts
def test_the_box_is_a_tmpfs_capped_at_the_spec_limits():
    limits = Limits(disk_mb=8, files=100)
    job = new_job_dir(limits)
    try:
        assert storage.capped(job) and os.path.ismount(job)
        st = os.statvfs(job / BOX)
        assert st.f_blocks * st.f_frsize == 8 << 20
        with pytest.raises(OSError) as e, open(job / BOX / "out" / "fill", "wb") as f:
            for _ in range(9):
                f.write(b"\0" * (1 << 20))
                f.flush()
        assert e.value.errno == errno.ENOSPC
        os.unlink(job / BOX / "out" / "fill")
        made = 0
        with pytest.raises(OSError) as e:
            for i in range(1000):
                (job / BOX / "tmp" / f"f{i}").touch()
                made += 1
        assert e.value.errno == errno.ENOSPC and made <= 100
        assert storage.box_full(job, limits)
    finally:
        assert remove_job(job) and not job.exists()
    assert not storage._mounts_under(job)


@needs_mounts
def test_the_graders_own_files_never_share_the_students_quota():
    job = new_job_dir(Limits(disk_mb=1, files=16))
    try:
        with pytest.raises(OSError), open(job / BOX / "out" / "fill", "wb") as f:
            f.write(b"\0" * (2 << 20))
        (job / "inputs.bin").write_bytes(b"\0" * (4 << 20))  # the grader can still write its own
        assert (job / "inputs.bin").stat().st_size == 4 << 20
    finally:
        remove_job(job)


def test_jobs_go_where_asked_else_to_a_roomy_tmpfs_unless_tmpdir_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("PA5_JOBS_DIR", str(tmp_path))
    assert storage.jobs_parent() == tmp_path
    monkeypatch.delenv("PA5_JOBS_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(storage.tempfile, "tempdir", None)
    assert storage.jobs_parent() == tmp_path  # an explicit TMPDIR wins (the tests keep their jobs in theirs)
    monkeypatch.delenv("TMPDIR")
    monkeypatch.setattr(storage, "_roomy_tmpfs", lambda path, room=0: path == "/dev/shm")
    assert storage.jobs_parent() == Path("/dev/shm")
    monkeypatch.setattr(storage, "_roomy_tmpfs", lambda path, room=0: False)
    monkeypatch.setattr(storage.tempfile, "tempdir", str(tmp_path / "t"))
    assert storage.jobs_parent() == tmp_path / "t"


def test_a_roomy_tmpfs_is_a_tmpfs_with_a_gibibyte_free():
    mounts = {line.split()[1]: line.split()[2] for line in Path("/proc/self/mounts").read_text().splitlines()}
    if mounts.get("/dev/shm") == "tmpfs":
        st = os.statvfs("/dev/shm")
        assert storage._roomy_tmpfs("/dev/shm") == (st.f_bavail * st.f_frsize >= 1 << 30)
    assert not storage._roomy_tmpfs("/proc")  # not a tmpfs
    assert not storage._roomy_tmpfs("/nonexistent")
