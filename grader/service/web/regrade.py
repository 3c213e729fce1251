"""The regrade buttons: a first POST asks to confirm (no script needed), the confirming POST queues and the
dashboard then says what was queued."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from grader.service.access import auth
from grader.service.queue.records import ACTIVE
from grader.service.web import api, class_api
from grader.service.web.pages import CsrfField, page, redirect, render_page, signed_in

router = APIRouter(include_in_schema=False)
CONFIRMED = "yes"  # the value of the confirming form's `confirm` field
ConfirmField = Annotated[str | None, Form()]


def _done(request: Request, queued: int, submission_id: int | None = None) -> Response:
    params = {"regraded": queued} | ({"submission": submission_id} if submission_id is not None else {})
    return redirect(str(request.url_for("dashboard").include_query_params(**params)))


def _confirm(request: Request, *, question: str, detail: str, action: str, can: bool) -> Response:
    context = {"question": question, "detail": detail, "action": action, "can": can, "confirm": CONFIRMED}
    return render_page(request, "confirm.html", context)


@router.post("/submissions/{submission_id}/regrade", name="regrade_page")
@page
def regrade_page(
    request: Request, submission_id: api.SubmissionId, csrf: CsrfField = None, confirm: ConfirmField = None
) -> Response:
    auth.verify_csrf(request, csrf)
    who = signed_in(request, instructor=True)
    view = api.owned(request, who, submission_id, with_report=False)
    if confirm != CONFIRMED:
        busy = view.status in ACTIVE
        return _confirm(
            request,
            question=f"Regrade submission #{view.id} of {view.student_id}?",
            detail=f"It is already {view.status}: nothing to queue."
            if busy
            else "It is graded again behind every new submission in the queue.",
            action=str(request.url_for("regrade_page", submission_id=view.id)),
            can=not busy,
        )
    return _done(request, int(class_api.regrade_one(request, who, submission_id)["queued"]), submission_id)


@router.post("/dashboard/regrade", name="regrade_all_page")
@page
def regrade_all_page(request: Request, csrf: CsrfField = None, confirm: ConfirmField = None) -> Response:
    auth.verify_csrf(request, csrf)
    who = signed_in(request, instructor=True)
    if confirm != CONFIRMED:
        latest = request.app.state.store.latest_per_student()
        n = sum(v.status not in ACTIVE for v in latest)
        busy = len(latest) - n
        return _confirm(
            request,
            question=f"Regrade {n} submission{'s' if n != 1 else ''}?",
            detail=f"Every student's latest submission is graded again behind every new submission in the queue"
            f"{f'; {busy} already queued or running stay as they are' if busy else ''}.",
            action=str(request.url_for("regrade_all_page")),
            can=n > 0,
        )
    return _done(request, class_api.regrade_all(request, who)["queued"])
