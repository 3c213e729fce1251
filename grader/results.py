"""What running a submission produced, before any judgement: filled by the sandbox runner, read by scoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

CallOutcome = Literal["ok", "error", "timeout", "crashed"]


@dataclass
class CallResult:
    """What one call of a student function produced, under plain names.

    `outputs` holds the returned arrays by problem id (e.g. "conv.dw"); `unreadable` says, by problem
    id, why a returned value is not an array; `modified_inputs` names the arguments the call changed.
    """

    case_id: str
    status: CallOutcome
    message: str = ""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    modified_inputs: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class RunResult:
    """Every call of one submission's run, by case id, and what the run as a whole printed or hit."""

    calls: dict[str, CallResult]
    import_error: str | None
    output: str
    output_truncated: bool
    backend: str
    isolated: bool
    note: str
    seconds: float
    output_bytes: int = 0  # all the run printed, kept or not
