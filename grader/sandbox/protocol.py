"""The job folder both sides share: what the grader writes in, and how it reads back what the sandbox wrote."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.arrays import ALLOWED_KINDS, UnsafeArrayFile
from grader.cases.model import Case
from grader.contract import ARGUMENTS, FUNCTIONS, INT_ARGUMENTS, N_OUTPUTS
from grader.sandbox.jobfiles import read_capped, write_new
from grader.sandbox.launch import HARNESS
from grader.sandbox.storage import BOX, BOX_DIRS
from grader.submission import MODULE, Submission, copy_into

MAX_STATUS_BYTES = 64 << 10
MAX_PROGRESS_BYTES = 1 << 20
MAX_OUTPUT_ELEMENTS = 1 << 20
MAX_ARRAY_BYTES = 32 << 20
OUT = f"{BOX}/out"  # where the harness reports, relative to the job folder (the same path inside the sandbox)
MARKS = False  # the harness also writes out/marks, its seconds per stage: set by benchmarks/breakdown.py only


class ImportStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ok: bool = Field(description="Whether backprop.py imported.")
    message: str = Field(max_length=4000, description="Why it did not.")


class ArrayHead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dtype: str = Field(pattern=r"^[<>|=][biuf][0-9]{1,2}$", description="numpy's dtype string, e.g. <f8.")
    shape: list[Annotated[int, Field(ge=0, le=MAX_OUTPUT_ELEMENTS)]] = Field(max_length=32, description="Its shape.")


class CallStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "error", "crashed"] = Field(description="How the call ended inside the sandbox.")
    message: str = Field("", max_length=4000, description="The exception or crash, in words.")
    seconds: float | None = Field(None, ge=0, description="Time the call took, measured inside the sandbox.")
    output_problems: list[str | None] = Field(
        default_factory=list, max_length=4, description="Per output: why it is not an array."
    )
    modified_inputs: list[str] = Field(
        default_factory=list, max_length=8, description="Arguments the function changed."
    )
    arrays: list[ArrayHead | None] = Field(
        default_factory=list, max_length=4, description="Per output: the array whose bytes follow, or None."
    )


def is_protocol_file(name: str) -> bool:
    """Whether `name` in out/ is one the harness writes (everything else there is the student's)."""
    stem, _, ext = name.partition(".")
    return name in ("progress", "printed", "import.json", "marks") or (stem.isdigit() and ext == "result")


def write_job(job: Path, *, submission: Submission, cases: list[Case], rounds: bool = False) -> None:
    """Lay out a job: the submission, the harness, the inputs and the plan. Nothing else goes in.
    With `rounds`, the harness waits after its calls for the next round (see write_round)."""
    copy_into(submission, job / "submission")
    shutil.copyfile(HARNESS, job / "harness.py")
    write_plan(job, cases, rounds=rounds)
    for d in BOX_DIRS:
        (job / BOX / d).mkdir(parents=True, exist_ok=True)  # new_job_dir made them already; a bare folder has not


def write_plan(job: Path, cases: list[Case], *, rounds: bool = False) -> None:
    """The inputs and the plan of every call; written again, between rounds, when calls are added at the end.

    The inputs are one file of raw array bytes, `inputs.bin`; the plan's "arrays" gives each one's dtype, shape
    and offset there (an .npz of a few hundred small arrays took the harness 0.1 s to open)."""
    arrays, chunks, offset, calls = {}, [], 0, []
    for i, c in enumerate(cases):
        names = []
        for arg in ARGUMENTS[c.layer]:
            key = f"{i}.{arg}"
            a = np.asarray(c.inputs[arg], order="C")  # not ascontiguousarray: it makes a 0-d array 1-d
            arrays[key] = [a.dtype.str, list(a.shape), offset]
            chunks.append(a.tobytes())
            offset += a.nbytes
            names.append(key)
        ints = [f"{i}.{a}" for a in ARGUMENTS[c.layer] if a in INT_ARGUMENTS]
        calls.append({"function": FUNCTIONS[c.layer], "args": names, "ints": ints, "n_outputs": N_OUTPUTS[c.layer]})
    (job / "inputs.bin").write_bytes(b"".join(chunks))
    plan = {"module": MODULE, "calls": calls, "arrays": arrays, "rounds": rounds, "marks": MARKS}
    (job / "plan.json").write_text(json.dumps(plan), encoding="utf-8")


def write_round(job: Path, number: int, calls: list[int]) -> None:
    """Ask a harness waiting after its calls (plan "rounds") to run more: `round-N.json`, N counting from 1 in
    each harness process, renamed into place whole. No calls: the harness ends as it would without rounds."""
    write_new(job, f".round-{number}.tmp", json.dumps({"calls": calls}).encode())
    os.replace(job / f".round-{number}.tmp", job / f"round-{number}.json")


def clear_rounds(job: Path) -> None:
    """Before a new harness process starts: earlier processes' round files would be taken for its own."""
    for f in job.glob("round-*.json"):
        f.unlink(missing_ok=True)


def read_progress(job: Path) -> tuple[bool, int | None, set[int]]:
    """(import started, the call started but not ended, calls ended), from the progress file."""
    data = read_capped(job, f"{OUT}/progress", MAX_PROGRESS_BYTES)
    if data is None:
        return False, None, set()
    started, current, ended = False, None, set()
    for line in data.split(b"\n"):
        parts = line.split()
        if parts == [b"import"]:
            started = True
        elif len(parts) == 2 and parts[1].isdigit():
            n = int(parts[1])
            if parts[0] == b"start":
                current = n
            elif parts[0] == b"end":
                ended.add(n)
                current = None if current == n else current
    return started, current, ended


def _read_small(job: Path, name: str) -> bytes | None:
    data = read_capped(job, f"{OUT}/{name}", MAX_STATUS_BYTES)
    return data if data is None or len(data) <= MAX_STATUS_BYTES else b"{}"


def read_import_status(job: Path) -> ImportStatus | None:
    data = _read_small(job, "import.json")
    if data is None:
        return None
    try:
        return ImportStatus.model_validate_json(data)
    except ValidationError:
        return ImportStatus(ok=False, message="the sandbox wrote an invalid import status")


def read_call(job: Path, index: int) -> tuple[CallStatus, dict[str, np.ndarray]]:
    """The status and arrays of one finished call, each validated; a malformed file becomes an error status.

    `N.result` is the status as one line of JSON, then the bytes of its arrays, one after another."""
    data = read_capped(job, f"{OUT}/{index}.result", MAX_STATUS_BYTES + MAX_ARRAY_BYTES)
    if data is None:
        return CallStatus(status="crashed", message="the call ended without reporting a result"), {}
    head, _, body = data.partition(b"\n")
    try:
        if len(head) > MAX_STATUS_BYTES:
            raise ValueError("status too long")
        status = CallStatus.model_validate_json(head)
    except ValueError:  # pydantic's ValidationError among them
        return CallStatus(status="error", message="the sandbox wrote an invalid status file for this call"), {}
    if status.status != "ok":
        return status, {}
    try:
        return status, _arrays(status.arrays, body, f"{index}.result")
    except UnsafeArrayFile as e:
        return CallStatus(status="error", message=f"the returned arrays were rejected: {e}"), {}


def _arrays(heads: list[ArrayHead | None], body: bytes, name: str) -> dict[str, np.ndarray]:
    """The arrays `heads` describe, cut from `body`, which must hold exactly their bytes."""
    out, offset = {}, 0
    for k, head in enumerate(heads):
        if head is None:
            continue
        try:
            dtype = np.dtype(head.dtype)
        except TypeError:
            raise UnsafeArrayFile(f"{name}: dtype {head.dtype!r} is not one numpy knows") from None
        count = math.prod(head.shape)
        if dtype.kind not in ALLOWED_KINDS or dtype.hasobject or count > MAX_OUTPUT_ELEMENTS:
            raise UnsafeArrayFile(f"{name}: an array of dtype {dtype} and shape {tuple(head.shape)} is not allowed")
        size = count * dtype.itemsize
        if offset + size > len(body):
            raise UnsafeArrayFile(f"{name} is shorter than the arrays it describes")
        a = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(tuple(head.shape))
        out[f"r{k}"] = a.copy()
        offset += size
    if offset != len(body):
        raise UnsafeArrayFile(f"{name} holds {len(body) - offset} bytes more than its arrays")
    return out
