"""Domain errors: failures of the grader or of its inputs, each with a message a person can act on."""


class GraderError(Exception):
    """A foreseeable failure of the grader or its inputs; the CLI prints the message and exits 2."""

    exit_code = 2


class SpecError(GraderError):
    """The assignment spec file is unreadable or invalid."""


class SubmissionError(GraderError):
    """The submission path does not hold a gradable submission."""


class CaseStoreError(GraderError):
    """The stored public cases are missing, corrupt or from another spec."""


class SandboxUnavailable(GraderError):
    """The chosen sandbox backend cannot run here (no Docker daemon, no image, no usable interpreter)."""


class ReferenceMissing(GraderError):
    """The reference implementation is not installed (as in the student kit)."""
