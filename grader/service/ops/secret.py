"""The grading secret a data folder records (DATA/secret, written by `admin init`), and where serve and worker find
theirs. The secret fixes every student's hidden cases, so a recorded one is never replaced."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from grader.config import SECRET_ENV, read_secret
from grader.errors import GraderError
from grader.service.ops.settings import SECRET_FILE

Action = Literal["recorded", "made", "kept", "missing"]


class SecretMismatch(GraderError):
    """A secret given for a data folder is not the one the folder records."""


class NoSecret(GraderError):
    """A data folder records no grading secret, and none was given."""


def write_private(path: Path, content: str | bytes) -> None:
    """Write a file only its owner can read (0600), atomically: readers see the old file or the whole new one."""
    data = content.encode() if isinstance(content, str) else content
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def recorded(data_dir: Path) -> bytes | None:
    """The secret DATA/secret holds (stripped, as read_secret reads it); None if there is no such file or it is
    empty. A file that is there but cannot be read is an error saying so."""
    path = data_dir / SECRET_FILE
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise GraderError(
            f"cannot read the grading secret {path}: {e.strerror}; it must be a file readable by the user running "
            "pa5-grader (mode 0600)"
        ) from None
    return data or None


def record(*, data_dir: Path, secret_file: Path | None, make_new: bool) -> tuple[Path | None, Action]:
    """Make DATA/secret hold the given secret, or a new one if none is given, none is recorded and `make_new`.
    Returns (DATA/secret or None, what was done: recorded | made | kept | missing). A recorded secret that
    differs from the given one is refused, never replaced."""
    path = data_dir / SECRET_FILE
    have = recorded(data_dir)
    if secret_file is not None:
        given = read_secret(secret_file=secret_file, insecure_default=False)  # readable and not empty, or stop here
        if have is not None and have != given:
            raise SecretMismatch(
                f"{path} already holds a different grading secret than {secret_file}. It fixes every student's "
                f"hidden cases, so it is never replaced: use it as it is (serve --data {data_dir} needs no "
                "--secret-file), or remove it by hand only if you mean to change every student's hidden cases"
            )
        if have is None:
            write_private(path, Path(secret_file).read_bytes())  # the file as given, byte for byte
            return path, "recorded"
        return path, "kept"
    if have is not None:
        return path, "kept"
    if not make_new:
        return None, "missing"
    write_private(path, secrets.token_hex(32) + "\n")
    return path, "made"


def service_secret(*, data_dir: Path | None, secret_file: Path | str | None, insecure_default: bool) -> bytes:
    """The secret serve and worker grade with: --secret-file (which must agree with DATA/secret, if recorded),
    else DATA/secret, else $PA5_GRADER_SECRET, else the demo secret if asked for; else an error naming the fix."""
    if secret_file:
        given = read_secret(secret_file=secret_file, insecure_default=False)
        try:
            have = recorded(data_dir) if data_dir is not None else None
        except GraderError:  # cannot check it here; the given file is what was asked for
            have = None
        if have is not None and have != given:
            raise SecretMismatch(
                f"--secret-file {secret_file} is not the grading secret {data_dir} was made with "
                f"({data_dir / SECRET_FILE}): grading with it would change every student's hidden cases. "
                f"Leave out --secret-file to use the recorded one"
            )
        return given
    if data_dir is not None:
        have = recorded(data_dir)
        if have is not None:
            return have
        if not os.environ.get(SECRET_ENV, "").strip() and not insecure_default:
            why = "is empty" if (data_dir / SECRET_FILE).exists() else "is missing"
            raise NoSecret(
                f"{data_dir} holds no grading secret ({data_dir / SECRET_FILE} {why}): run `pa5-grader admin init "
                f"--data {data_dir} --secret-file FILE` with the secret it was made with (or pass --secret-file FILE, "
                f"or set {SECRET_ENV})"
            )
    return read_secret(secret_file=None, insecure_default=insecure_default)
