"""Issue 16's attacks, against every backend: none may hang, brick, flood or leak through the grader.

Each attack also answers correctly, so an attack without effect scores full marks. After each one a correct
submission is graded by the same backend (the same template, for `fork`) and must score full marks, with no
process, job folder or /dev/shm entry left behind.
"""

import ast
import os
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import storage
from tests.conftest import SESSION_TAG, harness_processes
from tests.grader.sandbox import hostile
from tests.grader.sandbox.test_hostile import LIMITS, by_layer, grade_source, strong

HANG_BOUND = LIMITS.submission_timeout + 30  # the runner's own limit, its watchdog's margin, and slack


@pytest.fixture(scope="module")
def cases(public_cases):
    first = {}
    for c in public_cases:
        first.setdefault(c.layer, c)
    return list(first.values())


def _shm() -> set[str]:
    return set(os.listdir("/dev/shm"))


def attack(backend, tmp_path, source, cases, spec, **kw):
    """Grade `source` (a hang fails the test instead of hanging it), then a correct submission after it."""
    shm = _shm()
    out = []
    t = threading.Thread(target=lambda: out.append(grade_source(backend, tmp_path, source, cases, spec, **kw)))
    t.daemon = True
    t.start()
    t.join(HANG_BOUND)
    assert not t.is_alive(), f"the grade did not end within {HANG_BOUND} s"
    assert out, "the grade raised instead of reporting"
    (tmp_path / "control").mkdir()
    _, control = grade_source(backend, tmp_path / "control", hostile.CORRECT, cases, spec)
    assert control.score == control.max_score, "the next student paid for the attack"
    assert not harness_processes()
    assert not list(storage.jobs_root().glob("job-*")), "a job folder outlived its grade"
    if strong(backend):
        assert _shm() <= shm, "the attack left something in the host's /dev/shm"
    return out[0]


def isolating(backend) -> bool:
    """bwrap, the template's forks and Docker; the process backend shares the host's file system and devices."""
    return backend.name != "process"


def printed(run, tag):
    return next(ast.literal_eval(line.split(" ", 1)[1]) for line in run.output.splitlines() if line.startswith(tag))


def test_fifos_in_place_of_results_never_hang_the_grader(backend, tmp_path, cases, spec):
    _, report = attack(backend, tmp_path, hostile.FIFO_OUTPUTS, cases, spec)
    assert report.score < report.max_score  # it destroyed its own results; nothing more


def test_a_folder_chain_deeper_than_any_recursion_limit_is_cleaned_up(backend, tmp_path, cases, spec):
    _, report = attack(backend, tmp_path, hostile.DEEP_FOLDERS, cases, spec)
    assert report.score == report.max_score


def test_filling_every_writable_place_costs_only_the_call_that_did_it(backend, tmp_path, cases, spec):
    run, _ = attack(backend, tmp_path, hostile.FILL_DISK, cases, spec)
    wrote = printed(run, "WROTE ")
    assert by_layer(run, "fc").status == "ok" and by_layer(run, "softmax").status == "ok"
    if backend.name == "process":
        return  # not isolated: it shares the host's /tmp (capped per file by RLIMIT_FSIZE), as the README says
    assert wrote["/"] == wrote["/dev"] == wrote["/job"] == 0, wrote  # read-only
    if storage.can_mount():
        assert sum(wrote.values()) <= LIMITS.disk_mb, wrote  # one quota for all the writable places
        conv = by_layer(run, "conv")
        assert conv.status == "crashed" and "filled its writable space" in conv.message


def test_a_student_filling_the_disk_costs_the_student_beside_nothing(backend, tmp_path, cases, spec):
    """Issue 16: the shared jobs tmpfs filled by one student cost an honest one graded beside it its grade."""
    results = {}

    def grade(name, source):
        (tmp_path / name).mkdir()
        results[name] = grade_source(backend, tmp_path / name, source, cases, spec)[1]

    hog = threading.Thread(target=grade, args=("hog", hostile.FILL_DISK), daemon=True)
    hog.start()
    time.sleep(0.3)  # not a timing assertion: only so that the hog is writing while the other is graded
    grade("honest", hostile.CORRECT)
    hog.join(HANG_BOUND)
    assert not hog.is_alive()
    assert results["honest"].score == results["honest"].max_score


def test_tens_of_thousands_of_files_stop_at_the_quota(backend, tmp_path, cases, spec):
    run, report = attack(backend, tmp_path, hostile.MANY_FILES, cases, spec)
    if isolating(backend) and storage.can_mount():
        assert printed(run, "MADE ") <= LIMITS.files
        assert report.score == 0 and "filled its writable space" in run.import_error


def test_a_key_planted_in_a_keyring_never_reaches_the_next_student(backend, tmp_path, cases, spec):
    run, report = attack(backend, tmp_path, hostile.PLANT_KEY, cases, spec)
    assert report.score == report.max_score
    assert all(r < 0 for r, _ in printed(run, "PLANTED ")), "the seccomp filter refuses add_key"
    (tmp_path / "next").mkdir()
    run, report = grade_source(backend, tmp_path / "next", hostile.FIND_KEY, cases, spec)
    assert report.score == report.max_score and all(r < 0 for r, _ in printed(run, "FOUND "))


def test_no_pty_can_be_opened(backend, tmp_path, cases, spec):
    run, report = attack(backend, tmp_path, hostile.PTYS, cases, spec)
    assert report.score == report.max_score
    if isolating(backend):
        assert printed(run, "PTYS ") == 0


def test_the_kernel_interfaces_a_numpy_program_never_needs_are_refused(backend, tmp_path, cases, spec):
    run, report = attack(backend, tmp_path, hostile.SYSCALLS, cases, spec)
    answers = printed(run, "ANSWERS ")
    assert report.score == report.max_score
    if backend.name == "process" and "No seccomp filter" in backend.note:
        pytest.skip(backend.note)
    assert "ok" not in answers.values(), answers


def test_busy_threads_within_the_limits_cost_nothing(backend, tmp_path, cases, spec):
    """Issue 16: 16 threads got 0 points under bwrap, from the address-space limit, not from the student."""
    run, report = attack(backend, tmp_path, hostile.BUSY_THREADS, cases, spec)
    assert printed(run, "THREADS ") == 16
    assert report.score == report.max_score, run.calls


MOUNTS = (
    hostile.CORRECT
    + """
import os
print("DEV", sorted(os.listdir("/dev")), flush=True)
print("MOUNTINFO", repr(open("/proc/self/mountinfo").read()), flush=True)
"""
)


def test_the_sandbox_sees_no_host_path_of_its_job_and_only_the_devices_it_needs(backend, tmp_path, cases, spec):
    if not isolating(backend):
        pytest.skip("the process backend sees the host's own file system")
    run, report = attack(backend, tmp_path, MOUNTS, cases, spec)
    mountinfo = printed(run, "MOUNTINFO ")
    assert report.score == report.max_score
    if storage.can_mount():
        assert SESSION_TAG not in mountinfo and str(storage.graders_folder()) not in mountinfo
    devices = set(printed(run, "DEV "))
    assert "ptmx" not in devices or backend.name == "docker"  # Docker's /dev/ptmx leads to an empty /dev/pts
    if backend.name == "bwrap":
        assert devices <= {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr", "shm"}


def _available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) << 10
    raise AssertionError("no MemAvailable in /proc/meminfo")


def _lowest_available_while(run) -> int:
    """The host's available memory before `run`, less the lowest it was while `run` ran (sampled every 20 ms)."""
    before = _available()
    low = [before]
    done = threading.Event()

    def watch():
        while not done.is_set():
            low.append(_available())
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        run()
    finally:
        done.set()
        watcher.join()
    return before - min(low)


def test_the_hosts_memory_falls_by_no_more_than_the_quota_while_a_submission_fills_the_disk(
    backend, tmp_path, cases, spec
):
    if not isolating(backend) or not storage.can_mount():
        pytest.skip("quotas for every writable place need an isolating backend and mount privileges")
    # FILL_DISK tries 100 MiB in each of its writable places (at least four): 400 MiB or more without a quota.
    # The same submission writing nothing, held as long, measures what the sandbox itself costs (its
    # interpreter, numpy, for Docker the container's own processes), so that only the writes are compared.
    idle = hostile.FILL_DISK.replace("range(25)", "range(0)")
    (tmp_path / "idle").mkdir()
    (tmp_path / "fill").mkdir()
    itself = _lowest_available_while(lambda: attack(backend, tmp_path / "idle", idle, cases, spec))
    filled = _lowest_available_while(lambda: attack(backend, tmp_path / "fill", hostile.FILL_DISK, cases, spec))
    slack = 48 << 20  # page tables, the kernel's own bookkeeping, and whatever else the machine does meanwhile
    assert filled - itself <= (LIMITS.disk_mb << 20) + slack, ((filled - itself) >> 20, itself >> 20)


def test_what_a_submission_prints_reaches_no_terminal_raw_and_junit_stays_xml(backend, tmp_path, cases, spec):
    """Issue 16: printed ANSI/OSC escapes and C0/C1 bytes went raw to the instructor's terminal (a screen clear,
    a clipboard write, a forged score line), and the JUnit file was not well-formed."""
    import xml.etree.ElementTree as ET

    from grader.report.render_junit import render_junit
    from grader.report.render_text import render_text

    run, report = attack(backend, tmp_path, hostile.TERMINAL_ESCAPES, cases, spec)
    assert "\x1b" in run.output  # it did print them; the report keeps what it printed, as data
    text = render_text(report)
    raw = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert raw == [], raw
    assert not any(line.startswith("score: 100.0 / 100") for line in text.splitlines())
    ET.fromstring(render_junit(report))  # well-formed XML 1.0
