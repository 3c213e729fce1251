"""Throwaway uids are handed out only when nothing of them is left; a group is killed only while its leader is ours."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from grader.sandbox import reaper

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="throwaway uids are used only when the grader runs as root")

UID = 64_321  # far from the uids the sandbox tests hand out


def state(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    return "?"


@pytest.fixture
def own_uids(tmp_path, monkeypatch):
    monkeypatch.setattr(reaper, "UID_BASE", UID)
    monkeypatch.setattr(reaper, "UID_LOCKS", tmp_path / "uids")


@as_root
def test_a_uid_with_an_unreaped_zombie_is_not_handed_out(own_uids):
    # A dead process of the uid that its parent has not reaped yet: the kernel still counts it
    # against that uid's process limit, so a sandbox given the uid could not fork its harness.
    zombie = subprocess.Popen(["true"], user=UID, group=UID, extra_groups=[])
    deadline = time.monotonic() + 10
    while state(zombie.pid) != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    try:
        first = reaper.allocate_uid()
        assert first == UID + 1
        assert not reaper.uid_in_use(UID)  # skipped, not kept
    finally:
        zombie.wait()
    second = reaper.allocate_uid()
    assert second == UID  # reaped: free again
    for uid in (first, second):
        reaper.release_uid(uid)


@as_root
def test_a_uid_with_a_live_process_is_cleared_and_handed_out(own_uids):
    # What a crashed grader left behind under a free uid is killed, and the uid is then usable.
    left = subprocess.Popen(["sleep", "60"], user=UID, group=UID, extra_groups=[])
    try:
        uid = reaper.allocate_uid()
        # The kill makes it a zombie of ours; only once we reap it would the uid be free of tasks.
        assert left.wait(5) == -9
        assert uid == UID + 1
    finally:
        left.kill()
        left.wait()
    reaper.release_uid(uid)


def test_a_reaped_leader_s_group_is_never_signalled(monkeypatch):
    # Once reaped, its pid (and group id) may be reused by anybody: pid_max is 32768 on many machines.
    sent = []
    monkeypatch.setattr(reaper.os, "killpg", lambda pgid, sig: sent.append(pgid))
    done = subprocess.Popen(["true"], start_new_session=True)
    done.wait()
    reaper.kill_group(done)
    assert sent == []
    running = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        reaper.kill_group(running)
        assert sent == [running.pid]
    finally:
        running.kill()
        running.wait()
