"""Checking an uploaded .py, .ipynb or .zip before it is accepted, and the normalized zip it is stored as.

What the upload is, is decided by grader.submission, as for `pa5-grader check` and `grade`: the files are stored
as handed in (less junk), and the worker decides again, with the same words in its report.
Nothing here runs student code: Python files are compile()d to catch syntax and encoding errors, never executed.
Files are only ever written under the data folder's tmp/.
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.errors import GraderError, SubmissionError
from grader.submission import SKIP_DIRS, load_submission, resolve, single_file, zip_folder

IGNORED = ("__MACOSX/", ".DS_Store")
# What a file system takes, checked before anything is written: a longer name is ENAMETOOLONG on Linux and macOS,
# and no submission needs a deeper or longer path (the job folder's own path comes on top of it).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024
MAX_DEPTH = 32
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # normalized zips do not depend on when or where they were made


class UploadRejected(GraderError):
    """An upload the service will not accept; status is the HTTP code the API answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Accepted:
    filename: str
    files_zip: bytes
    sha256: str  # the digest `pa5-grader grade` would report for the same files
    files: int


def check_upload(
    *, filename: str, data: bytes, tmp_dir: Path, max_bytes: int, max_members: int, max_unpacked: int
) -> Accepted:
    """Validate an upload and return it as a normalized zip with its submission digest; raise UploadRejected."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UploadRejected(422, f"the file name is longer than {MAX_NAME_BYTES} bytes; rename the file")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise UploadRejected(422, "the file name holds control characters; rename the file")
    if len(data) > max_bytes:
        raise UploadRejected(413, f"the upload is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise UploadRejected(400, "the upload is empty")
    if name.endswith(".zip") or data[:4] == b"PK\x03\x04":
        files = _read_zip(data, max_members=max_members, max_unpacked=max_unpacked)
    elif name.endswith((".py", ".ipynb")):
        files = single_file(name, data, where=name)
    else:
        raise UploadRejected(
            400,
            f"upload a .py file, a Jupyter notebook (.ipynb) or a .zip of your submission folder, "
            f"not {name or 'a nameless file'}",
        )
    try:
        graded, _ = resolve(files, where="the zip" if name.endswith(".zip") else "the upload")
    except SubmissionError as e:
        raise UploadRejected(422, str(e)) from None
    for rel, content in graded.items():
        if rel.endswith(".py"):
            _check_python(rel, content)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir, prefix="upload-") as d:
        folder = Path(d) / "submission"
        unpack_files(pack_files(files), folder)
        sub = load_submission(folder)  # the same reading, and digest, as `pa5-grader grade` and the worker's
    return Accepted(filename=name, files_zip=pack_files(files), sha256=sub.sha256, files=len(sub.files))


def _read_zip(data: bytes, *, max_members: int, max_unpacked: int) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise UploadRejected(400, f"the upload is not a readable zip file ({e})") from None
    if len(infos) > max_members:
        raise UploadRejected(413, f"the zip has {len(infos)} entries; the limit is {max_members}")
    declared = sum(i.file_size for i in infos)
    if declared > max_unpacked:
        raise UploadRejected(413, f"the zip unpacks to {declared} bytes; the limit is {max_unpacked} bytes")
    files: dict[str, bytes] = {}
    total = 0
    for info in infos:
        raw = info.filename
        path = _safe_path(raw)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise UploadRejected(422, f"the zip holds a symbolic link ({raw}); zip the files themselves")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UploadRejected(422, f"the zip holds {raw}, which is not a regular file")
        if info.is_dir() or raw.startswith(IGNORED) or PurePosixPath(raw).name in IGNORED:
            continue
        if any(part in SKIP_DIRS for part in path.parts[:-1]):
            continue
        if info.flag_bits & 0x1:
            raise UploadRejected(422, f"{raw} in the zip is encrypted")
        try:
            with zf.open(info) as f:
                content = f.read(max_unpacked - total + 1)  # headers can lie about sizes; the bytes cannot
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as e:
            raise UploadRejected(400, f"cannot read {raw} from the zip ({e})") from None
        total += len(content)
        if total > max_unpacked:
            raise UploadRejected(413, f"the zip unpacks to more than {max_unpacked} bytes")
        key = path.as_posix()
        if key in files:
            raise UploadRejected(422, f"the zip holds {key} twice")
        files[key] = content
    clash = sorted({p.as_posix() for k in files for p in PurePosixPath(k).parents} & files.keys())
    if clash:  # unpacking would fail half way: a file cannot also be a folder
        raise UploadRejected(422, f"the zip holds {clash[0]} both as a file and as a folder")
    return _root_folder(files)


def _safe_path(raw: str) -> PurePosixPath:
    name = raw.replace("\\", "/")
    if "\0" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UploadRejected(422, f"the zip holds an absolute path ({raw}); zip your folder with relative paths")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise UploadRejected(422, f"the zip holds a path leaving its folder ({raw})")
    shown = raw if len(raw) <= 80 else raw[:60] + "..."
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in path.parts):
        raise UploadRejected(422, f"the zip holds a name longer than {MAX_NAME_BYTES} bytes ({shown})")
    if len(path.parts) > MAX_DEPTH or len(name.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise UploadRejected(
            422, f"the zip holds a path deeper than {MAX_DEPTH} folders or longer than {MAX_PATH_BYTES} bytes ({shown})"
        )
    return path


def _root_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """The folder the zip holds (zipping `my_pa5/` gives one top folder); what it is, resolve() decides."""
    return zip_folder(files)


def _check_python(rel: str, content: bytes) -> None:
    try:
        source = content.decode("utf-8-sig")  # a byte-order mark is fine: Python reads it too
    except UnicodeDecodeError as e:
        raise UploadRejected(422, f"{rel} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    try:
        compile(source, rel, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise UploadRejected(422, f"{rel} is not valid Python: {e.msg} (line {e.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise UploadRejected(422, f"{rel} is not valid Python: {e.__class__.__name__}") from None


def pack_files(files: dict[str, bytes]) -> bytes:
    """A deterministic zip of (relative path -> bytes): sorted, fixed times, regular files only."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in sorted(files):
            info = zipfile.ZipInfo(rel, FIXED_TIME)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[rel])
    return buf.getvalue()


def unpack_files(files_zip: bytes, dest: Path) -> None:
    """Write a normalized zip's files under dest (which must not exist), refusing any path that leaves it."""
    dest.mkdir(mode=0o755)
    root = dest.resolve()
    with zipfile.ZipFile(io.BytesIO(files_zip)) as zf:
        for info in zf.infolist():
            target = (dest / _safe_path(info.filename)).resolve()
            if root not in target.parents:
                raise UploadRejected(422, f"refusing to write {info.filename} outside the submission folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
