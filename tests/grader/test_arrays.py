"""Reading arrays back from the sandbox: zip bombs, pickles and odd dtypes are refused before loading."""

import io
import zipfile

import numpy as np
import pytest

from grader.arrays import UnsafeArrayFile, read_npz, write_npz

LIMITS = dict(max_file_bytes=1 << 20, max_elements=10_000)


def test_round_trip(tmp_path):
    p = tmp_path / "a.npz"
    write_npz(p, {"r0": np.arange(6.0).reshape(2, 3), "r1": np.array(3, dtype=np.int64)})
    out = read_npz(p, **LIMITS)
    assert out["r0"].shape == (2, 3) and out["r1"].shape == ()


def test_deterministic_bytes(tmp_path):
    write_npz(tmp_path / "a.npz", {"x": np.ones(3)})
    write_npz(tmp_path / "b.npz", {"x": np.ones(3)})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_object_array_is_refused_without_unpickling(tmp_path):
    p = tmp_path / "o.npz"
    np.savez(p, r0=np.array([object(), 1], dtype=object))
    with pytest.raises(UnsafeArrayFile, match="not a plain numeric"):
        read_npz(p, **LIMITS)


def test_structured_and_string_arrays_are_refused(tmp_path):
    for i, a in enumerate([np.zeros(2, dtype=[("a", "f8")]), np.array(["x"])]):
        p = tmp_path / f"s{i}.npz"
        np.savez(p, r0=a)
        with pytest.raises(UnsafeArrayFile):
            read_npz(p, **LIMITS)


def test_zip_bomb_is_refused_before_expanding(tmp_path):
    p = tmp_path / "bomb.npz"
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(50_000_000 // 8))
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("r0.npy", buf.getvalue())
    assert p.stat().st_size < 1 << 20
    with pytest.raises(UnsafeArrayFile, match="expands"):
        read_npz(p, **LIMITS)


def test_oversized_file_and_garbage(tmp_path):
    big = tmp_path / "big.npz"
    big.write_bytes(b"0" * (2 << 20))
    with pytest.raises(UnsafeArrayFile, match="bytes"):
        read_npz(big, **LIMITS)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(UnsafeArrayFile, match="not a valid"):
        read_npz(junk, **LIMITS)


def test_declared_shape_too_large(tmp_path):
    p = tmp_path / "shape.npz"
    np.savez(p, r0=np.zeros(20_000))
    with pytest.raises(UnsafeArrayFile):
        read_npz(p, **LIMITS)
