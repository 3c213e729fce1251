"""The `submit` client: upload a submission to a service, optionally wait for its report, exit as `check` does."""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from grader.errors import GraderError
from grader.report.numbers import points
from grader.submission import load_submission, read_files

TOKEN_ENV = "PA5_GRADER_TOKEN"
LONG_POLL = 30.0  # seconds the service may hold each status request


class ServiceError(GraderError):
    """The service refused the request or could not be reached."""


@dataclass(frozen=True)
class Outcome:
    submission_id: int
    status: str
    exit_code: int  # 0 every case passes, 1 some case fails, 2 no report (error)
    report_text: str | None  # the report in the format asked for, when waited for
    message: str
    text: str | None = None  # the text report too, when asked for (submit -o prints it as check -o does)


def pack(path: Path) -> tuple[str, bytes]:
    """A file as it is (.py, .ipynb, .zip), or a folder as a zip of its files as they lie: the service decides
    what they are with the same rules as `check`, so its report says the same (e.g. where backprop.py was)."""
    load_submission(path)  # refuse here, with the same words, what the service would refuse
    if path.is_file():
        return path.name, path.read_bytes()
    top = path.resolve().name or "submission"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in sorted(read_files(path).items()):
            zf.writestr(f"{top}/{rel}", data)  # a zip of the folder itself, as zipping `my_pa5/` makes
    return f"{top}.zip", buf.getvalue()


def _detail(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail")
    except ValueError:
        detail = r.text[:300]
    return f"{r.status_code}: {detail}"


def submit(
    *,
    path: Path,
    server: str,
    token: str | None,
    wait: bool,
    fmt: str = "text",
    timeout: float = 600.0,
    poll: float = 0.5,
    on_status: Callable[[dict], None] = lambda s: None,
    with_text: bool = False,
) -> Outcome:
    """Upload; with wait, poll until the submission ends and fetch its report in fmt (and as text, if asked)."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise ServiceError(f"no token: pass --token TOKEN or set {TOKEN_ENV}")
    name, data = pack(path)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60.0) as http:
        try:
            r = http.post("/api/submissions", files={"file": (name, data)})
        except httpx.HTTPError as e:
            raise ServiceError(f"cannot reach the service at {server}: {e}") from None
        if r.status_code == 429:
            raise ServiceError(f"not accepted: {_detail(r)} (Retry-After {r.headers.get('retry-after', '?')} s)")
        if r.status_code != 202:
            raise ServiceError(f"not accepted: {_detail(r)}")
        sid = r.json()["id"]
        if not wait:
            return Outcome(sid, "queued", 0, None, f"submission {sid} queued at position {r.json()['queue_position']}")
        state = _wait(http, sid, timeout, poll, on_status)
        if state["status"] != "done":
            why = "a newer submission replaced it" if state["status"] == "superseded" else state.get("error") or ""
            return Outcome(sid, state["status"], 2, None, f"submission {sid} {state['status']}: {why}".rstrip(": "))
        # A student's report is their view of it, not a Report: the service says whether it passed.
        report, passed = state["report"], state.get("passed")
        text = report_text(http, sid, fmt)
        plain = (text if fmt == "text" else report_text(http, sid, "text")) if with_text else None
    code = 0 if passed else 1
    score = f"{points(report['score'])} / {points(report['max_score'])}"
    if report.get("withheld"):  # a student's view before hidden results are released
        score += " on the public cases (hidden results are not released yet)"
    return Outcome(sid, "done", code, text, f"submission {sid} graded: {score}", plain)


def _wait(http: httpx.Client, sid: int, timeout: float, poll: float, on_status) -> dict:
    """Long-poll the submission (the service answers when its status changes) until it ends."""
    deadline = time.monotonic() + timeout
    last, status = None, "queued"
    while True:
        err = None
        left = max(0.0, deadline - time.monotonic())
        try:
            r = http.get(f"/api/submissions/{sid}", params={"wait": min(LONG_POLL, left)}, timeout=LONG_POLL + 30)
        except httpx.HTTPError as e:  # the service may be restarting; the submission is in its database
            r, err = None, e
        changed = False
        if r is not None:
            if r.status_code != 200:
                raise ServiceError(f"cannot read submission {sid}: {_detail(r)}")
            state = r.json()
            status = state["status"]
            if (state["status"], state["queue_position"]) != last:
                changed, last = True, (state["status"], state["queue_position"])
                on_status(state)
            if state["status"] in ("done", "failed", "superseded"):
                return state
        if time.monotonic() > deadline:
            why = f" (last error: {err})" if err is not None else ""
            status = _status_now(http, sid) or status  # a long poll that ran out may hold an older state
            now = {"running": "it is being graded and will finish", "queued": "it stays queued"}.get(
                status, "it ended just now; its report is on the service"
            )
            raise ServiceError(f"submission {sid} was not graded within {timeout:g} s{why}; {status} now: {now}")
        if not changed:  # an error, or a service that does not long-poll: back off
            time.sleep(poll)
            poll = min(poll * 1.5, 5.0)


def _status_now(http: httpx.Client, sid: int) -> str | None:
    try:
        r = http.get(f"/api/submissions/{sid}")
    except httpx.HTTPError:
        return None
    return r.json().get("status") if r.status_code == 200 else None


def report_text(http: httpx.Client, sid: int, fmt: str) -> str:
    r = http.get(f"/api/submissions/{sid}/report", params={"format": fmt})
    if r.status_code != 200:
        raise ServiceError(f"cannot read the report of submission {sid}: {_detail(r)}")
    return r.text
