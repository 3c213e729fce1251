import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "submissions_example"
REQUIRE_DOCKER = os.environ.get("PA5_REQUIRE_DOCKER") == "1"

# This session's sandboxes get their job folders under a temp root of its own (the grader puts them under
# tempfile.gettempdir(), and the CLI tests' subprocesses inherit TMPDIR), so harness_processes() can tell
# them from another grader's on the same machine by that root's unique name.
SESSION_TAG = f"pa5-tests-{os.getpid()}-{secrets.token_hex(4)}"
_system_tmp = tempfile.gettempdir()
SESSION_TMP = Path(_system_tmp) / SESSION_TAG
SESSION_TMP.mkdir(mode=0o755)
SESSION_TMP.chmod(0o755)  # a throwaway sandbox uid must pass through to its job folder
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", _system_tmp)  # pytest's own tmp_path stays where it was
os.environ["TMPDIR"] = str(SESSION_TMP)
tempfile.tempdir = None  # forget the cached value, so gettempdir() reads TMPDIR again
atexit.register(shutil.rmtree, SESSION_TMP, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="Rewrite the renderers' golden files.")


@pytest.fixture(scope="session")
def docker_backend():
    """A Docker backend with an up-to-date runner image, built here if needed.

    Skips with the reason when Docker is absent, unless PA5_REQUIRE_DOCKER=1 (CI), where it fails.
    """
    try:
        import docker  # noqa: F401
        from grader.errors import SandboxUnavailable
        from grader.sandbox.docker.backend import DockerBackend
        from grader.sandbox.docker.image import build_image, connect

        try:
            client = connect()
        except SandboxUnavailable as e:
            if "not reachable" in str(e):
                raise
            build_image(log=lambda s: None)
            client = connect()
        return DockerBackend(client=client)
    except Exception as e:
        if REQUIRE_DOCKER:
            pytest.fail(f"Docker is required here (PA5_REQUIRE_DOCKER=1) but unavailable: {e}")
        pytest.skip(f"Docker is not available: {e}")


@pytest.fixture(scope="session")
def process_backend():
    from grader.sandbox.process import ProcessBackend

    return ProcessBackend()


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request):
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture(scope="session")
def spec():
    from grader.spec import default_spec

    return default_spec()


@pytest.fixture(scope="session")
def public_cases(spec):
    from grader.cases.store import load_cases

    return load_cases(ROOT / "test_cases", spec=spec)


def harness_processes() -> list[int]:
    """This session's processes running the sandbox harness: after a grade, any of them is a leftover.

    A harness process is this session's when its job folder, which lies under SESSION_TMP, shows in its
    command line, environment (HOME, TMPDIR) or working folder (the process backend), or in the command line
    of a process it descends from (a bwrap sandbox or template binds job folders from there, and inside it
    the job shows only as /job), or when it runs in a Docker container this process started.
    Its children (a fork bomb, a daemon) share all of those. Another grader's harness never matches.
    An idle template of the fork backend (bwrap and zygote.py, which never run student code) is not a
    leftover; anything forked from one is.
    """
    tag = SESSION_TAG.encode()
    containers = _our_containers()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            if b"harness.py" not in Path(f"/proc/{d}/cmdline").read_bytes():
                continue
        except OSError:
            continue
        if (
            any(tag in _proc_read(d, what) for what in ("cmdline", "environ", "cwd"))
            or any(tag in _proc_read(str(a), "cmdline") for a in _ancestors(int(d)))
            or any(c in _proc_read(d, "cgroup") for c in containers)
        ):
            found.append(int(d))
    return [pid for pid in found if not _idle_template(pid)]


def lingering_harness_processes(seconds: float = 10.0) -> list[int]:
    """harness_processes() that are still there after `seconds`: a killed process may take a moment to go on a
    loaded machine, a leftover stays."""
    deadline = time.monotonic() + seconds
    while (found := harness_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1 and len(out) < 64:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        out.append(pid)
    return out


def _our_containers() -> list[bytes]:
    """Ids of the sandbox containers this process started (their processes' cgroup paths name them)."""
    if not Path("/var/run/docker.sock").exists():
        return []
    try:
        r = subprocess.run(
            ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=pa5-grader.sandbox.pid={os.getpid()}"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return r.stdout.split() if r.returncode == 0 else []


def _idle_template(pid: int) -> bool:
    """A template's bwrap or its zygote.py interpreter itself: no zygote.py interpreter above it."""
    chain = []
    while pid > 1 and b"zygote.py" in _proc_read(str(pid), "cmdline"):
        chain.append(_proc_read(str(pid), "cmdline").split(b"\0")[0])
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return bool(chain) and not any(os.path.basename(argv0).startswith(b"python") for argv0 in chain[1:])


def _proc_read(pid: str, what: str) -> bytes:
    try:
        if what == "cwd":
            return os.fsencode(os.readlink(f"/proc/{pid}/cwd"))
        return Path(f"/proc/{pid}/{what}").read_bytes()
    except OSError:  # gone, or not ours to read
        return b""


sys.path.insert(0, str(ROOT))
