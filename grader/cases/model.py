"""A test case: inputs, expected outputs and known wrong answers for one call of one layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Case:
    """One call of a student's function, with the answers it is judged against.

    `mistakes` maps a problem id to known wrong answers for these inputs (mistake id -> array);
    they let the diagnosis name a mistake without the reference.
    """

    id: str
    layer: str
    hidden: bool
    tags: tuple[str, ...]
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    mistakes: Mapping[str, dict[str, np.ndarray]] = field(default_factory=dict)
    weight: float = 1.0

    @property
    def size(self) -> int:
        """How many numbers the inputs hold: what makes one failing case smaller than another."""
        return sum(int(np.size(v)) for v in self.inputs.values())

    @property
    def integral(self) -> bool:
        """Whether every input value is an integer (easier to check by hand)."""
        return all(np.array_equal(v, np.round(v)) for v in self.inputs.values())
