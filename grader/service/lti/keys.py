"""The tool's RSA keys: files of their own (0600) in DATA/lti-keys/, the newest signing, all of them in the JWKS.

`rotate` makes a new key, which signs from then on; the older keys stay in the JWKS, so a platform that cached
the old set still verifies what was signed before, until `retire` removes all but the newest."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

from grader.errors import GraderError

FOLDER = "lti-keys"
BITS = 2048


@dataclass(frozen=True)
class ToolKey:
    path: Path
    private_pem: str
    public_pem: str
    kid: str  # the JWK thumbprint, which PyLTI1p3 puts in the header of what it signs


def folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


def _load(path: Path) -> ToolKey:
    private_pem = path.read_text()
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return ToolKey(path, private_pem, public_pem, JWK.from_pem(public_pem.encode()).thumbprint())


def all_keys(data_dir: Path) -> list[ToolKey]:
    """Oldest first; the last one signs."""
    d = folder(data_dir)
    try:
        paths = sorted(p for p in d.iterdir() if p.suffix == ".pem")
    except FileNotFoundError:
        return []
    return [_load(p) for p in paths]


def _write_new(data_dir: Path, now: dt.datetime) -> ToolKey:
    d = folder(data_dir)
    d.mkdir(mode=0o700, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=BITS)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Named by a counter, so the newest sorts last whatever the clock says.
    n = max((int(p.name.split("-")[0]) for p in d.glob("*.pem") if p.name.split("-")[0].isdigit()), default=0) + 1
    path = d / f"{n:04d}-{now.strftime('%Y%m%dT%H%M%SZ')}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return _load(path)


def signing_key(data_dir: Path, *, now: dt.datetime | None = None) -> ToolKey:
    """The newest key, made on first use."""
    keys = all_keys(data_dir)
    if keys:
        return keys[-1]
    try:
        return _write_new(data_dir, now or dt.datetime.now(dt.timezone.utc))
    except OSError as e:
        raise GraderError(f"cannot write the tool's key in {folder(data_dir)}: {e.strerror}") from None


def rotate(data_dir: Path, *, now: dt.datetime) -> ToolKey:
    """A new signing key; the old ones stay published."""
    signing_key(data_dir, now=now)
    return _write_new(data_dir, now)


def retire(data_dir: Path) -> list[ToolKey]:
    """Remove every key but the newest; returns the removed ones."""
    keys = all_keys(data_dir)
    for k in keys[:-1]:
        k.path.unlink()
    return keys[:-1]


def jwks(data_dir: Path) -> dict:
    """The public keys, as a JWK Set."""
    out = []
    for k in all_keys(data_dir) or [signing_key(data_dir)]:
        jwk = JWK.from_pem(k.public_pem.encode()).export_public(as_dict=True)
        out.append({**jwk, "kid": k.kid, "alg": "RS256", "use": "sig"})
    return {"keys": out}
