"""Where the grading secret comes from, and refusing to grade without one."""

import pytest

from grader.config import INSECURE_DEFAULT_SECRET, SECRET_ENV, read_secret
from grader.errors import GraderError


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_file_wins_over_the_environment_and_is_stripped(tmp_path, monkeypatch):
    path = tmp_path / "secret"
    path.write_bytes(b"  s3cret-from-file\n")
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert read_secret(secret_file=path, insecure_default=True) == b"s3cret-from-file"


def test_environment_variable(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, " from-env \n")
    assert read_secret(secret_file=None, insecure_default=False) == b"from-env"


def test_empty_file_is_refused_even_with_the_insecure_default(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"\n  \n")
    with pytest.raises(GraderError, match="is empty"):
        read_secret(secret_file=path, insecure_default=True)


def test_missing_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nope"
    with pytest.raises(GraderError, match=f"cannot read the secret file {path}"):
        read_secret(secret_file=path, insecure_default=True)


def test_no_secret_is_refused_with_how_to_give_one(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "   ")  # blank counts as unset
    with pytest.raises(GraderError, match="--secret-file FILE or set PA5_GRADER_SECRET"):
        read_secret(secret_file=None, insecure_default=False)


def test_insecure_default_only_when_asked():
    secret = read_secret(secret_file=None, insecure_default=True)
    assert secret == INSECURE_DEFAULT_SECRET == b"pa5-insecure-demo-secret"
