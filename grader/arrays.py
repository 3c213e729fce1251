"""Reading and writing .npz files: deterministic on write, distrustful on read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

# Fixed zip timestamps make a written file a pure function of its arrays.
_EPOCH = (1980, 1, 1, 0, 0, 0)
ALLOWED_KINDS = "biuf"


class UnsafeArrayFile(Exception):
    """An .npz file that is too large, malformed, or holds something other than plain numeric arrays."""


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to an uncompressed .npz whose bytes depend only on names, dtypes, shapes and values."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arrays[name], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def read_npz(
    source: str | Path | io.BytesIO,
    *,
    max_file_bytes: int | None = None,
    max_elements: int,
    max_members: int = 64,
    name: str | None = None,
) -> dict[str, np.ndarray]:
    """Load every array of an .npz (a trusted path, or bytes already read under a cap) without pickle, after
    checking sizes, member count and dtypes.

    Raises UnsafeArrayFile for zip bombs, object or structured arrays, oversized arrays and anything unreadable.
    """
    name = name or (Path(source).name if not isinstance(source, io.BytesIO) else "the array file")
    if not isinstance(source, io.BytesIO):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise UnsafeArrayFile(f"cannot read {name}: {e.strerror}") from None
        if max_file_bytes is not None and size > max_file_bytes:
            raise UnsafeArrayFile(f"{name} is {size} bytes, more than the {max_file_bytes} allowed")
    try:
        with zipfile.ZipFile(source) as zf:
            members = zf.infolist()
            if len(members) > max_members:
                raise UnsafeArrayFile(f"{name} holds {len(members)} arrays, more than {max_members}")
            limit = max_elements * 16 + 4096
            total = sum(m.file_size for m in members)
            if total > limit:
                raise UnsafeArrayFile(f"{name} expands to {total} bytes, more than the {limit} allowed")
            out = {}
            for m in members:
                if not m.filename.endswith(".npy"):
                    raise UnsafeArrayFile(f"{name} holds a non-array member {m.filename[:60]!r}")
                with zf.open(m) as f:
                    data = f.read(limit + 1)  # bounded even if the declared size lies
                if len(data) > limit:
                    raise UnsafeArrayFile(f"{name} expands beyond {limit} bytes")
                out[m.filename[:-4]] = _load_npy(io.BytesIO(data), max_elements, m.filename)
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError, RuntimeError) as e:
        raise UnsafeArrayFile(f"{name} is not a valid .npz file ({type(e).__name__}: {e})"[:300]) from None


def _load_npy(f: io.BytesIO, max_elements: int, name: str) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafeArrayFile(f"{name} has dtype {dtype}, not a plain numeric type")
    if dtype.kind not in ALLOWED_KINDS + "c":
        raise UnsafeArrayFile(f"{name} has dtype {dtype}, not a plain numeric type")
    if int(np.prod(shape, dtype=np.int64)) > max_elements:
        raise UnsafeArrayFile(f"{name} has shape {shape}, more than {max_elements} elements")
    f.seek(0)
    return np.lib.format.read_array(f, allow_pickle=False)
