"""What a submission is, decided in one place for check, grade, batch, submit and the service's uploads.

A submission is a folder holding backprop.py (helpers beside it), or one file: a .py file that plays backprop.py,
a Jupyter notebook whose code cells become it, or a zip of the folder. A folder (or zip) whose only backprop.py
is one level down is taken from there, and the report says so. Files are read as plain bytes only: links,
fifos and devices are never followed or opened, and a zip is read in memory, never unpacked here.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionError
from grader.notebook import notebook_source

MODULE = "backprop"
MAX_FILES = 200
MAX_BYTES = 20 << 20
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".ipynb_checkpoints", "__MACOSX"}
SKIP_FILES = {".DS_Store", "Thumbs.db"}
KINDS = ".py file, a Jupyter notebook (.ipynb), a .zip of your folder, or a folder holding backprop.py"


@dataclass(frozen=True)
class Submission:
    """The files graded, as the sandbox gets them: backprop.py at the top."""

    path: Path
    files: tuple[tuple[str, bytes], ...]  # (relative path, content), sorted
    sha256: str
    notes: tuple[str, ...] = ()  # how it was read: where backprop.py was found, a notebook converted


def load_submission(path: str | Path) -> Submission:
    """Read a submission from disk and decide what it is (see the module's docstring)."""
    path = Path(path)
    where = f"submission folder {path}" if path.is_dir() else f"submission {path}"
    return from_files(read_files(path), path=path, where=where)


def read_files(path: Path) -> dict[str, bytes]:
    """A submission's files as they lie, by relative path: a folder's regular files, a zip's members, or one file."""
    if not path.exists():
        raise SubmissionError(f"submission {path} does not exist")
    if path.is_dir():
        return _walk(path)
    if path.is_file():
        return single_file(path.name, _read(path), where=str(path))
    raise SubmissionError(f"submission {path} is neither a file nor a folder")


def single_file(name: str, data: bytes, *, where: str) -> dict[str, bytes]:
    """One file handed in: a .py file is backprop.py, a notebook stays itself (resolve converts it), a zip is
    the folder it holds."""
    if name.endswith(".zip") or data[:4] == b"PK\x03\x04":
        return zip_folder(read_zip(data, where=where))
    if name.endswith(".py"):
        return {f"{MODULE}.py": data}
    if name.endswith(".ipynb"):
        return {PurePosixPath(name).name: data}
    raise SubmissionError(f"submission {where} is not a {KINDS}")


def from_files(files: dict[str, bytes], *, path: Path, where: str = "the submission") -> Submission:
    """The submission these files make, with its digest (over the files graded, so every entry point agrees)."""
    graded, notes = resolve(files, where=where)
    digest = hashlib.sha256()
    for rel, data in sorted(graded.items()):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return Submission(path=path, files=tuple(sorted(graded.items())), sha256=digest.hexdigest(), notes=tuple(notes))


def resolve(files: dict[str, bytes], *, where: str = "the submission") -> tuple[dict[str, bytes], list[str]]:
    """The one decision: backprop.py at the top, or the only backprop.py one level down; failing both, a notebook
    (backprop.ipynb, or the only notebook) there. Returns the files under that folder and notes on what was done."""
    files = {k: v for k, v in files.items() if not _skipped(k)}
    root = _root(files, f"{MODULE}.py")
    notebook = None
    if root is None:
        notebook = _notebook(files)
        if notebook is None:
            raise SubmissionError(f"{where} {_not_found(files)}")
        root = notebook.rpartition("/")[0] + "/" if "/" in notebook else ""
    inside = {k[len(root) :]: v for k, v in files.items() if k.startswith(root)}
    notes = []
    if root:
        outside = len(files) - len(inside)
        ignored = f"; {outside} file(s) outside it were ignored" if outside else ""
        notes.append(f"{MODULE}.py was found one level down, in {root}, and that folder was graded{ignored}")
    if notebook is not None:
        name = notebook[len(root) :]
        source, note = notebook_source(name, inside.pop(name))
        inside[f"{MODULE}.py"] = source.encode()
        notes.append(note)
    return inside, notes


def zip_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """A zip whose every entry lies in one folder is that folder (zipping `my_pa5/` gives that)."""
    kept = {k: v for k, v in files.items() if not _skipped(k)}
    tops = {k.split("/", 1)[0] for k in kept}
    if len(tops) == 1 and all("/" in k for k in kept):
        top = tops.pop() + "/"
        return {k[len(top) :]: v for k, v in kept.items()}
    return kept


def _root(files: dict[str, bytes], name: str) -> str | None:
    """ "" when `name` is at the top, the folder of the only `name` in the submission when that is one level down."""
    if name in files:
        return ""
    found = [k for k in files if PurePosixPath(k).name == name]
    if len(found) == 1 and found[0].count("/") == 1:
        return found[0].split("/", 1)[0] + "/"
    return None


def _notebook(files: dict[str, bytes]) -> str | None:
    if f"{MODULE}.ipynb" in files:
        return f"{MODULE}.ipynb"
    top = [k for k in files if k.endswith(".ipynb") and "/" not in k]
    if len(top) == 1 and not any(k.endswith(".py") and "/" not in k for k in files):
        return top[0]
    root = _root(files, f"{MODULE}.ipynb")
    return f"{root}{MODULE}.ipynb" if root else None


def _not_found(files: dict[str, bytes]) -> str:
    several = sorted(k for k in files if PurePosixPath(k).name == f"{MODULE}.py")
    if len(several) == 1:
        return (
            f"has no {MODULE}.py at its top or one folder down; the one in {several[0]} lies deeper: hand in "
            f"the folder {several[0].rpartition('/')[0]}/ itself"
        )
    if several:
        return (
            f"has no {MODULE}.py at its top and more than one below it ({', '.join(several[:5])}): hand in the "
            f"folder that holds the one to grade"
        )
    found = sorted(k for k in files if k.endswith((".py", ".ipynb")))[:5]
    hint = f" (found: {', '.join(found)})" if found else " (it holds no .py file)"
    return f"has no {MODULE}.py, at its top or one folder down{hint}"


def _skipped(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return any(p in SKIP_DIRS for p in parts[:-1]) or parts[-1] in SKIP_FILES or parts[-1].startswith("._")


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise SubmissionError(f"cannot read {p}: {e.strerror}") from None


def _walk(root: Path) -> dict[str, bytes]:
    files, total = {}, 0
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
            files[p.relative_to(root).as_posix()] = _read(p)
    return files


def read_zip(data: bytes, *, where: str) -> dict[str, bytes]:
    """A zip's regular files by path, read in memory within the folder limits; links and unsafe paths refused.
    (The service reads uploads with its own, HTTP-minded reader, then decides with the same resolve.)"""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise SubmissionError(f"{where} is not a readable zip file ({e})") from None
    files, total = {}, 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if info.is_dir() or kind == stat.S_IFDIR:
            continue
        if kind not in (0, stat.S_IFREG) or info.flag_bits & 0x1:
            raise SubmissionError(f"{where} holds {info.filename}, which is a link, a special or an encrypted file")
        path = PurePosixPath(name)
        if "\0" in name or name.startswith("/") or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
            raise SubmissionError(f"{where} holds a path outside its folder ({info.filename})")
        total += info.file_size
        if len(files) >= MAX_FILES or total > MAX_BYTES:
            raise SubmissionError(f"{where} is too large (more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB)")
        try:
            with zf.open(info) as f:
                content = f.read(MAX_BYTES + 1)  # headers can lie about sizes; the bytes cannot
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as e:
            raise SubmissionError(f"cannot read {info.filename} from {where} ({e})") from None
        if len(content) > info.file_size:
            raise SubmissionError(f"{where} is too large (its entries are bigger than they say)")
        files[path.as_posix()] = content
    return files


def copy_into(sub: Submission, dest: Path) -> None:
    """Write the submission's files under dest, which must not exist yet."""
    dest.mkdir(mode=0o755)
    for rel, data in sub.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
