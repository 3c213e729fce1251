"""The public case store: test_cases/manifest.json plus one plain-array .npz per case."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.arrays import UnsafeArrayFile, read_npz, write_npz
from grader.cases.model import Case
from grader.contract import PROBLEM_IDS
from grader.errors import CaseStoreError
from grader.spec import Spec

FORMAT = 1
MANIFEST = "manifest.json"


class StoredCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=64, description="Case id, e.g. conv-p01.")
    layer: str = Field(max_length=16, description="conv, fc or softmax.")
    tags: list[str] = Field(max_length=8, description="Kinds of the case, e.g. nonsquare, large-logits.")
    weight: float = Field(description="Weight in its problems' partial credit.")
    file: str = Field(max_length=64, description="The .npz holding inputs, expected outputs and known wrong answers.")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: int = Field(description="Version of this manifest's layout.")
    assignment: str = Field(description="Assignment id of the spec the cases came from.")
    spec_fingerprint: str = Field(description="Hash of the spec's case settings and problem ids.")
    cases: list[StoredCase] = Field(description="The cases, in grading order.")


def spec_fingerprint(spec: Spec) -> str:
    """What the stored cases depend on: the case settings and the problem ids, not points or tolerances."""
    data = {"cases": spec.cases.model_dump(), "problems": [p.id for p in spec.problems], "assignment": spec.assignment}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def write_cases(cases: list[Case], out: str | Path, *, spec: Spec) -> Path:
    """Write the cases and their manifest into `out`, byte for byte the same for the same cases."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stored = []
    for c in cases:
        arrays = {f"in.{k}": v for k, v in c.inputs.items()}
        arrays |= {f"expected.{pid}": v for pid, v in c.expected.items()}
        arrays |= {f"mistake.{mid}": v for wrong in c.mistakes.values() for mid, v in wrong.items()}
        write_npz(out / f"{c.id}.npz", arrays)
        stored.append(StoredCase(id=c.id, layer=c.layer, tags=list(c.tags), weight=c.weight, file=f"{c.id}.npz"))
    manifest = Manifest(
        format=FORMAT, assignment=spec.assignment, spec_fingerprint=spec_fingerprint(spec), cases=stored
    )
    (out / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return out / MANIFEST


def load_cases(folder: str | Path, *, spec: Spec) -> list[Case]:
    """Read the public cases, checking they belong to this spec."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CaseStoreError(
            f"no public cases at {folder} ({MANIFEST} is missing): run `pa5-grader generate`"
        ) from None
    except (OSError, ValidationError) as e:
        raise CaseStoreError(f"{path} is not a valid case manifest: {str(e).splitlines()[0]}") from None
    if manifest.format != FORMAT:
        raise CaseStoreError(f"{path} has format {manifest.format}; this grader reads format {FORMAT}")
    if manifest.spec_fingerprint != spec_fingerprint(spec):
        raise CaseStoreError(
            f"the cases in {folder} were generated from another spec: regenerate them with "
            "`pa5-grader generate --spec SPEC --out DIR`, or use the spec they came from"
        )
    cases = []
    for sc in manifest.cases:
        try:
            arrays = read_npz(folder / Path(sc.file).name, max_file_bytes=8 << 20, max_elements=1 << 20)
        except UnsafeArrayFile as e:
            raise CaseStoreError(f"public case {sc.id}: {e}") from None
        inputs = {k[3:]: v for k, v in arrays.items() if k.startswith("in.")}
        expected = {k[9:]: v for k, v in arrays.items() if k.startswith("expected.")}
        mistakes: dict[str, dict] = {pid: {} for pid in expected}
        for k, v in arrays.items():
            if k.startswith("mistake."):
                mid = k[8:]
                pid = next((p for p in PROBLEM_IDS if mid.startswith(p + ".")), None)
                if pid is None:
                    raise CaseStoreError(f"public case {sc.id}: unknown mistake {mid!r}")
                mistakes.setdefault(pid, {})[mid] = v
        cases.append(Case(sc.id, sc.layer, False, tuple(sc.tags), inputs, expected, mistakes, sc.weight))
    return cases
