"""The Celery side of a scaled-out service: the app, its delivery settings, and publishing a job's message.

A message names a job id and nothing else: the submission's bytes travel through the database, and the
grading secret never leaves the workers. The job row, committed before any message is sent, is the truth;
a message only says "look at the queue", so a lost or repeated one costs nothing (see celery_worker.py).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from celery import Celery

from grader.errors import GraderError
from grader.service.defaults import MARGIN
from grader.service.queue.keeper import grade_budget, stuck_grace
from grader.spec import Spec

TASK = "pa5.grade"
QUEUE = "pa5-grading"
PRIORITIES = list(range(10))  # Redis emulates priorities with one list per step; 0 is served first
log = logging.getLogger("pa5-grader.service")


def hide_password(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def time_limits(spec: Spec, margin: float = MARGIN) -> tuple[float, float]:
    """(soft, hard) seconds for one task, from the same budget as the keeper's rule (grader/service/queue/keeper.py).

    At the budget the keeper fails the job and cancels its grade; a task still not back a grace later gets
    SoftTimeLimitExceeded (which applies the same rule), and one still not back a grace after that has its pool
    process killed and replaced, so a stuck grade never holds a worker for good."""
    soft = grade_budget(spec.limits, margin) + stuck_grace(margin)
    return soft, soft + max(5.0, stuck_grace(margin))


def celery_config(spec: Spec, margin: float = MARGIN) -> dict:
    soft, hard = time_limits(spec, margin)
    return {
        "task_acks_late": True,  # a message is acknowledged after its grade, so a dead worker's is delivered again
        "task_reject_on_worker_lost": True,  # ... also when a pool process is killed mid-grade
        "worker_prefetch_multiplier": 1,  # a busy worker holds no messages another one could run
        "task_soft_time_limit": soft,
        "task_time_limit": hard,
        "broker_transport_options": {
            # Redis hands an unacknowledged message to another worker after this long: far beyond any grade.
            "visibility_timeout": max(3600, 4 * hard),
            "queue_order_strategy": "priority",
            "priority_steps": PRIORITIES,
            "sep": ":",
        },
        "broker_connection_retry_on_startup": True,
        "worker_cancel_long_running_tasks_on_connection_loss": False,  # the lease, not the broker, owns a grade
        "task_default_queue": QUEUE,
        "task_default_priority": 0,
        "task_ignore_result": True,  # reports go to the database; there is no result backend
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
    }


def make_app(broker_url: str, spec: Spec, margin: float = MARGIN) -> Celery:
    """The app for `serve --broker` (publishing, by the task's name) and `worker` (which registers the task on it),
    configured identically."""
    app = Celery("pa5-grader", broker=broker_url, set_as_current=False)
    app.conf.update(celery_config(spec, margin))
    return app


def check_broker(app: Celery, broker_url: str) -> None:
    """Raise a GraderError naming the broker (password hidden) unless it answers now."""
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.5, timeout=5)
    except Exception as e:
        raise GraderError(
            f"the broker {hide_password(broker_url)} is not reachable ({e.__class__.__name__}): "
            "is redis-server running there, and does --broker name it?"
        ) from None


def publish(app: Celery, job_id: int, priority: int) -> bool:
    """Send a job's message; False (logged) when the broker is down, since the sweeper sends it again later."""
    try:
        app.send_task(
            TASK,
            args=[job_id],
            queue=QUEUE,
            priority=max(0, min(priority, PRIORITIES[-1])),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
        )
        return True
    except Exception as e:
        log.warning("publishing job %s failed (%s: %s); the sweeper will send it again", job_id, type(e).__name__, e)
        return False


def backlog(app: Celery) -> int | None:
    """Messages waiting in the broker (every priority), or None when it cannot be asked."""
    try:
        with app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(QUEUE, passive=True).message_count
    except Exception:
        return None
