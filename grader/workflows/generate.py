"""Writing the public cases into test_cases/."""

from pathlib import Path

from grader.cases.generate import generate
from grader.cases.store import write_cases
from grader.spec import Spec


def generate_public(*, spec: Spec, out: Path) -> Path:
    return write_cases(generate(spec=spec, seed=spec.cases.public_seed, hidden=False), out, spec=spec)
