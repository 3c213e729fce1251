"""Finding a submission on disk and copying it, as plain files only, into a job folder."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SubmissionError

MODULE = "backprop"
MAX_FILES = 200
MAX_BYTES = 20 << 20
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Submission:
    """A folder holding backprop.py, or a single .py file that plays its part."""

    path: Path
    files: tuple[tuple[str, bytes], ...]  # (relative path, content), sorted
    sha256: str


def load_submission(path: str | Path) -> Submission:
    """Read a submission's regular files (never following links or opening special files)."""
    path = Path(path)
    if not path.exists():
        raise SubmissionError(f"submission {path} does not exist")
    if path.is_file():
        if path.suffix != ".py":
            raise SubmissionError(f"submission {path} is not a .py file or a folder holding backprop.py")
        files = [(f"{MODULE}.py", _read(path))]
    elif path.is_dir():
        if not (path / f"{MODULE}.py").is_file():
            found = sorted(p.name for p in path.glob("*.py"))[:5]
            hint = f" (found: {', '.join(found)})" if found else " (it holds no .py file)"
            raise SubmissionError(f"submission folder {path} has no {MODULE}.py{hint}")
        files = _walk(path)
    else:
        raise SubmissionError(f"submission {path} is neither a file nor a folder")
    digest = hashlib.sha256()
    for rel, data in files:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return Submission(path=path, files=tuple(files), sha256=digest.hexdigest())


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise SubmissionError(f"cannot read {p}: {e.strerror}") from None


def _walk(root: Path) -> list[tuple[str, bytes]]:
    files, total = [], 0
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow links to folders
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode):
                continue  # links, fifos and devices are not part of a submission
            total += st.st_size
            if len(files) >= MAX_FILES or total > MAX_BYTES:
                raise SubmissionError(
                    f"submission {root} is too large (more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB)"
                )
            files.append((p.relative_to(root).as_posix(), _read(p)))
    return sorted(files)


def copy_into(sub: Submission, dest: Path) -> None:
    """Write the submission's files under dest, which must not exist yet."""
    dest.mkdir(mode=0o755)
    for rel, data in sub.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
