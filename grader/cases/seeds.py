"""Seeds of hidden cases: HMAC-SHA256 of the assignment and student ids under the grading secret."""

import hashlib
import hmac


def hidden_seed(*, secret: bytes, assignment: str, student_id: str) -> int:
    """A 64-bit seed that only the holder of `secret` can compute; the secret itself is never stored."""
    if not secret:
        raise ValueError("the grading secret is empty")
    msg = f"{assignment}\x00{student_id}".encode()
    return int.from_bytes(hmac.new(secret, msg, hashlib.sha256).digest()[:8], "big")
