"""The assignment spec: problems, points, cases, tolerances and limits, with this assignment's defaults."""

from __future__ import annotations

import difflib
import hashlib
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from grader.contract import LAYERS, PROBLEM_IDS, layer_of
from grader.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ProblemId = Literal[PROBLEM_IDS]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(_Model):
    id: ProblemId = Field(description="Problem id used in specs, reports and the CLI.")
    title: str = Field(description="One-line title shown in reports.")
    section: str = Field(description="Part of the written assignment it comes from, e.g. A.1.")
    points: float = Field(20.0, ge=0, description="Points for the problem; partial credit is points x fraction passed.")
    tol: float = Field(1e-4, gt=0, lt=1, description="A case passes when max|S-R| / max(max|S|, max|R|, tau) <= tol.")
    tau: float = Field(
        1e-30, gt=0, description="Floor of the metric's scale: 1 where values live on a probability scale."
    )

    @property
    def layer(self) -> str:
        return layer_of(self.id).name

    @property
    def output_index(self) -> int:
        """Position of this problem's array in the function's return value."""
        return layer_of(self.id).output_index(self.id)


class CaseCounts(_Model):
    public: int = Field(ge=1, le=50, description="Cases stored in test_cases/ and shipped to students.")
    hidden: int = Field(ge=0, le=200, description="Cases generated per student at grading time.")


class Cases(_Model):
    conv: CaseCounts = Field(CaseCounts(public=7, hidden=12), description="Convolution cases.")
    fc: CaseCounts = Field(CaseCounts(public=6, hidden=10), description="Fully connected cases.")
    softmax: CaseCounts = Field(CaseCounts(public=7, hidden=12), description="Softmax-loss cases.")
    max_side: int = Field(16, ge=3, le=64, description="Largest image side and vector length.")
    max_kernel: int = Field(9, ge=3, le=15, description="Largest kernel side (odd).")
    public_seed: int = Field(20160428, ge=0, description="Seed of the public cases in test_cases/.")
    public_weight: float = Field(1.0, gt=0, description="Weight of one public case in a problem's partial credit.")
    hidden_weight: float = Field(1.0, gt=0, description="Weight of one hidden case in a problem's partial credit.")

    @model_validator(mode="after")
    def _odd_kernel(self):
        if self.max_kernel % 2 == 0:
            raise ValueError("max_kernel must be odd")
        return self


class Limits(_Model):
    call_timeout: float = Field(10.0, gt=0, le=600, description="Wall-clock seconds one function call may take.")
    submission_timeout: float = Field(120.0, gt=0, le=3600, description="Wall-clock seconds for a whole submission.")
    feedback_seconds: float = Field(
        10.0,
        ge=0,
        le=600,
        description="Wall-clock seconds for the unscored probe and shrink calls after the graded ones.",
    )
    cpu_seconds: int = Field(60, ge=1, le=3600, description="CPU seconds for one sandbox process.")
    memory_mb: int = Field(
        1024, ge=128, le=65536, description="Memory limit (address space / container memory) in MiB."
    )
    max_processes: int = Field(32, ge=4, le=4096, description="Processes and threads the sandbox may have.")
    file_size_mb: int = Field(16, ge=1, le=4096, description="Largest file the sandbox may write, in MiB.")
    disk_mb: int = Field(
        64, ge=1, le=4096, description="Space for everything the sandbox writes (results, work folder, /tmp, /dev/shm)."
    )
    files: int = Field(2000, ge=16, le=1_000_000, description="Files and folders the sandbox may create in that space.")
    output_kb: int = Field(
        64,
        ge=1,
        le=10240,
        description="Captured stdout+stderr kept for the report (head and tail), in KiB; the rest is discarded.",
    )


class Spec(_Model):
    assignment: str = Field(
        "cs4670-pa5", min_length=1, max_length=64, description="Assignment id; part of hidden seeds."
    )
    problems: tuple[Problem, ...] = Field(description="The graded problems, in report order.")
    cases: Cases = Field(Cases(), description="How many cases of each layer, and their shapes.")
    limits: Limits = Field(Limits(), description="Sandbox limits.")
    hidden_visibility: Literal["hidden", "after_due_date", "after_published", "visible"] = Field(
        "after_due_date", description="Gradescope visibility of hidden-case results."
    )

    @model_validator(mode="after")
    def _unique(self):
        ids = [p.id for p in self.problems]
        if len(set(ids)) != len(ids):
            raise ValueError(f"problem ids repeat: {ids}")
        return self

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def problem(self, pid: str) -> Problem:
        for p in self.problems:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def problems_of(self, layer: str) -> list[Problem]:
        return [p for p in self.problems if p.layer == layer]

    @property
    def layers(self) -> list[str]:
        return [layer for layer in LAYERS if self.problems_of(layer)]


DEFAULT_PROBLEMS = (
    Problem(id="conv.dx", title="Convolution: gradient wrt the input", section="A.1"),
    Problem(id="conv.dw", title="Convolution: gradient wrt the kernel", section="A.2"),
    Problem(id="fc.dx", title="Fully connected: gradient wrt the input", section="B.1"),
    Problem(id="fc.dW", title="Fully connected: gradient wrt the weights", section="B.1 note"),
    # p - t cancels when p_y is near 1; on the probability scale (tau = 1) float32 answers still pass.
    Problem(id="softmax.ds", title="Softmax loss: gradient wrt the scores", section="C.1", tau=1.0),
)


def default_spec() -> Spec:
    return Spec(problems=DEFAULT_PROBLEMS)


def load_spec(path: str | Path | None) -> Spec:
    """The default spec, overridden by a TOML file's keys when one is given.

    A TOML `[[problems]]` entry overrides fields of the default problem with the same id
    (the others keep their defaults); `[cases]` and `[limits]` tables override single fields.
    """
    if path is None:
        return default_spec()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"cannot read spec file {path}: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"spec file {path}: {e}") from None
    base = default_spec().model_dump()
    if "problems" in data:
        overrides = {entry.get("id"): entry for entry in data["problems"] if isinstance(entry, dict)}
        ids = [p["id"] for p in base["problems"]]
        unknown = [k for k in overrides if k not in ids]
        if unknown:
            line = _line_of(text, "id", unknown[0])
            where = f"line {line}: " if line else ""
            raise SpecError(
                f"spec file {path}: {where}unknown problem id {unknown[0]!r}{_did_you_mean(unknown[0], ids)}; "
                f"the problems are {', '.join(ids)}"
            )
        data["problems"] = [{**p, **overrides.get(p["id"], {})} for p in base["problems"]]
    for table in ("cases", "limits"):
        if table in data and isinstance(data[table], dict):
            data[table] = {**base[table], **data[table]}
    try:
        return Spec.model_validate({**base, **data})
    except ValidationError as e:
        raise SpecError(f"spec file {path}: " + _explain(e, text)) from None


def _explain(e: ValidationError, text: str) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key = str(err["loc"][-1]) if err["loc"] else ""
        line = _line_of(text, key)
        where = f"line {line}: " if line else ""
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            fields = _fields_at(err["loc"][:-1])
            msg = f"unknown key `{key}`{_did_you_mean(key, fields)}" + (
                "" if _did_you_mean(key, fields) else f"; the keys here are {', '.join(fields)}"
            )
        parts.append(f"{where}{loc}: {msg}")
    return "; ".join(parts)


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6) or [
        c for c in choices if c.lower() == word.lower()
    ]
    return f" (did you mean `{close[0]}`?)" if close else ""


def _fields_at(loc: tuple) -> list[str]:
    """The keys a spec file may use at this place (the model's fields), for a typo's suggestion."""
    model: type[BaseModel] = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        kinds = [field.annotation, *getattr(field.annotation, "__args__", ())]
        inner = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _line_of(text: str, key: str, value: str | None = None) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith((f"{key} ", f"{key}=")) and (value is None or value in stripped):
            return n
    return None
