"""The seccomp filter from the user's cache: byte for byte the filter built fresh; an entry that cannot be trusted
is rebuilt, and the sandbox still refuses what the filter must."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import seccomp, usercache
from tests.grader.sandbox import hostile
from tests.grader.sandbox.conftest import require_bwrap
from tests.grader.sandbox.test_hostile import grade_source

ROOT = Path(__file__).resolve().parents[3]
ALLOW_ALL = bytes.fromhex("060000000000ff7f")  # BPF_RET | BPF_K, SECCOMP_RET_ALLOW: a filter that refuses nothing


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(seccomp, "_cache", {})  # this process's copy, so that compiled() goes to the disk
    return tmp_path / "cache" / "pa5-grader"


@pytest.fixture(scope="module")
def fresh():
    """The filter as built without any cache."""
    return seccomp._build(seccomp._bindings_here())


def compiled_again():
    seccomp._cache.clear()
    return seccomp.compiled()


def the_entry(cache):
    (path,) = cache.glob("seccomp-*.json")
    return path


def forge(path, program, *, rehash):
    entry = json.loads(path.read_bytes())
    entry["content"]["bpf"] = program.hex()
    if rehash:
        entry["sha256"] = usercache._digest(entry["content"])
    path.write_text(json.dumps(entry))


def test_the_cached_filter_is_the_filter_built_fresh_and_costs_no_build(cache, fresh, monkeypatch):
    assert seccomp.compiled() == fresh  # built, then stored
    monkeypatch.setattr(seccomp, "_build", lambda *a: pytest.fail("a cache hit built the filter"))
    program, numbers = compiled_again()
    assert (program, numbers) == fresh and program == fresh[0]
    assert set(numbers) == set(seccomp.NUMBERS)


def test_an_entry_for_other_rules_is_not_used(cache, fresh, monkeypatch):
    seccomp.compiled()
    monkeypatch.setattr(seccomp, "DENIED", (*seccomp.DENIED[:-1],))  # one rule less: another key
    assert seccomp._key(seccomp._bindings_here()) != json.loads(the_entry(cache).read_bytes())["key"]
    compiled_again()
    assert len(list(cache.glob("seccomp-*.json"))) == 2


def _bad_bpf_length(path):
    forge(path, ALLOW_ALL[:5], rehash=True)


def _not_hex(path):
    entry = json.loads(path.read_bytes())
    entry["content"]["bpf"] = "not hex"
    entry["sha256"] = usercache._digest(entry["content"])
    path.write_text(json.dumps(entry))


def _numbers_missing(path):
    entry = json.loads(path.read_bytes())
    entry["content"]["numbers"] = {"clone": 56}
    entry["sha256"] = usercache._digest(entry["content"])
    path.write_text(json.dumps(entry))


def _allow_all_not_rehashed(path):
    forge(path, ALLOW_ALL, rehash=False)


def _allow_all_rehashed_but_group_writable(path):
    forge(path, ALLOW_ALL, rehash=True)
    path.chmod(0o660)


def _allow_all_rehashed_but_another_users(path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    forge(path, ALLOW_ALL, rehash=True)
    os.chown(path, 61999, 61999)


def _garbage(path):
    path.write_bytes(os.urandom(300))


TAMPERED = [
    _bad_bpf_length,
    _not_hex,
    _numbers_missing,
    _allow_all_not_rehashed,
    _allow_all_rehashed_but_group_writable,
    _allow_all_rehashed_but_another_users,
    _garbage,
]


@pytest.mark.parametrize("tamper", TAMPERED, ids=lambda f: f.__name__.strip("_"))
def test_a_tampered_entry_is_rebuilt_to_the_fresh_filter(cache, fresh, tamper):
    seccomp.compiled()
    tamper(the_entry(cache))
    assert compiled_again() == fresh
    path = the_entry(cache)
    assert path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o777 == 0o600
    seccomp._cache.clear()
    assert usercache.read("seccomp", seccomp._key(seccomp._bindings_here())) is not None, "rewritten"


@pytest.mark.bwrap
@pytest.mark.parametrize(
    "tamper", [_allow_all_not_rehashed, _allow_all_rehashed_but_group_writable, _allow_all_rehashed_but_another_users]
)
def test_after_a_forged_entry_the_sandbox_still_refuses_kernel_interfaces(cache, tamper, tmp_path, public_cases, spec):
    seccomp.compiled()
    tamper(the_entry(cache))
    seccomp._cache.clear()
    answers = syscall_answers(tmp_path, public_cases, spec)
    assert "ok" not in answers.values(), answers


@pytest.mark.bwrap
def test_the_forged_filter_would_have_let_them_through(cache, tmp_path, public_cases, spec):
    """The oracle of the test above: with the forged program trusted, the same attack gets through."""
    seccomp.compiled()
    seccomp._cache["bpf"] = (ALLOW_ALL, seccomp.compiled()[1])
    answers = syscall_answers(tmp_path, public_cases, spec)
    assert answers["keyctl"] == "ok" and answers["io_uring_setup"] == "ok", answers


def syscall_answers(tmp_path, public_cases, spec):
    first = {}
    for c in public_cases:
        first.setdefault(c.layer, c)
    with require_bwrap() as backend:
        run, report = grade_source(backend, tmp_path, hostile.SYSCALLS, list(first.values()), spec)
    assert report.score == report.max_score
    line = next(line for line in run.output.splitlines() if line.startswith("ANSWERS "))
    return ast.literal_eval(line.split(" ", 1)[1])


def test_an_interpreter_with_the_bindings_builds_the_same_filter_itself(fresh):
    """This interpreter has no bindings here (it asks the system's Python); one that has them builds in-process,
    and gets the same bytes."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from grader.sandbox import seccomp\n"
        "here = seccomp._bindings_here()\n"
        "assert here, 'no bindings in this interpreter'\n"
        "print(seccomp._build(here)[0].hex())\n"
    )
    python = seccomp.SYSTEM_PYTHON
    r = subprocess.run([python, "-I", "-c", code, str(ROOT)], capture_output=True, text=True, check=False)
    if r.returncode != 0 and "no bindings" in r.stderr:
        pytest.skip(f"{python} has no seccomp bindings")
    assert r.returncode == 0, r.stderr
    assert bytes.fromhex(r.stdout.strip()) == fresh[0]


def test_without_bindings_anywhere_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setattr(seccomp, "SYSTEM_PYTHON", sys.executable)  # asked in a process of its own, like the system's
    with pytest.raises(seccomp.SandboxUnavailable, match="install the package `python3-seccomp`"):
        seccomp._build(None)
