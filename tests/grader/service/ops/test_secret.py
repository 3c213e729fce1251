"""Where serve and worker find the grading secret, and DATA/secret written whole or not at all."""

import os
import stat

import pytest

from grader.config import INSECURE_DEFAULT_SECRET, SECRET_ENV
from grader.errors import GraderError
from grader.service.ops.secret import NoSecret, SecretMismatch, service_secret, write_private


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    return d


def secret_of(data, **kw):
    return service_secret(data_dir=data, **{"secret_file": None, "insecure_default": False, **kw})


def test_the_recorded_secret_is_read_stripped_and_wins_over_the_environment(data, monkeypatch):
    (data / "secret").write_bytes(b"recorded\n")
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert secret_of(data) == b"recorded"
    assert secret_of(data, insecure_default=True) == b"recorded"


def test_a_secret_file_that_agrees_with_the_recorded_one_is_used(data, tmp_path):
    (data / "secret").write_bytes(b"recorded\n")
    (tmp_path / "S").write_bytes(b"  recorded")
    assert secret_of(data, secret_file=tmp_path / "S") == b"recorded"


def test_a_secret_file_that_disagrees_with_the_recorded_one_is_refused(data, tmp_path):
    (data / "secret").write_bytes(b"recorded\n")
    (tmp_path / "S").write_bytes(b"another")
    with pytest.raises(SecretMismatch, match="hidden cases") as e:
        secret_of(data, secret_file=tmp_path / "S")
    assert "Leave out --secret-file" in str(e.value)


def test_without_a_recorded_secret_the_documented_ways_still_work(data, tmp_path, monkeypatch):
    (tmp_path / "S").write_bytes(b"from-file\n")
    assert secret_of(data, secret_file=tmp_path / "S") == b"from-file"
    assert secret_of(data, insecure_default=True) == INSECURE_DEFAULT_SECRET
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert secret_of(data) == b"from-env"
    assert service_secret(data_dir=None, secret_file=None, insecure_default=False) == b"from-env"


@pytest.mark.parametrize(("content", "why"), [(None, "is missing"), (b"\n", "is empty")])
def test_a_folder_without_a_secret_names_the_fix(data, content, why):
    if content is not None:
        (data / "secret").write_bytes(content)
    with pytest.raises(NoSecret) as e:
        secret_of(data)
    assert str(e.value).startswith(f"{data} holds no grading secret ({data / 'secret'} {why})")
    assert f"`pa5-grader admin init --data {data} --secret-file FILE` with the secret it was made with" in str(e.value)


def test_an_unreadable_recorded_secret_is_an_error_saying_so(data):
    (data / "secret").mkdir()  # the test runs as root, for whom no file mode is unreadable
    with pytest.raises(GraderError, match="cannot read the grading secret"):
        secret_of(data)


def test_write_private_replaces_whole_with_mode_0600_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_private(path, b"new\n")
    assert path.read_bytes() == b"new\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_write_private_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "secret"
    path.write_text("old")
    with pytest.raises(TypeError):  # the write fails after the temporary file was made, as a full disk would
        write_private(path, object())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]
