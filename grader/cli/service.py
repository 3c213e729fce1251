"""Running a service and using one: serve, worker (Celery), submit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.options import (
    broker_option,
    data_option,
    database_option,
    edge,
    output_options,
    secret_options,
    spec_option,
)
from grader.printable import printable
from grader.sandbox import BACKENDS
from grader.service.defaults import LEASE_SECONDS, MARGIN, RESEND_SECONDS
from grader.service.ops.settings import DEFAULT_SANDBOX


def _rate_limits(values: tuple[str, ...]):
    """--rate-limit COUNT/SECONDS values as RateLimit models; a malformed one is a usage error."""
    from grader.service.queue.ratelimit import RateLimit

    out = []
    for v in values:
        count, _, seconds = v.partition("/")
        try:
            out.append(RateLimit(count=int(count), seconds=float(seconds)))
        except ValueError:
            raise click.BadParameter(
                f"{v!r}: expected COUNT/SECONDS with COUNT >= 1 and SECONDS > 0, e.g. 1/10"
            ) from None
    return tuple(out)


@click.command()
@data_option
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--public", is_flag=True, help="Allow a non-loopback --host (behind a TLS reverse proxy).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(0, 64), help="Submissions graded at once.")
@click.option(
    "--sandbox",
    type=click.Choice(BACKENDS),
    default=DEFAULT_SANDBOX,
    show_default=True,
    help="Where student code runs; 'process' is not isolated and is used only when asked for.",
)
@click.option(
    "--lease-seconds", default=LEASE_SECONDS, show_default=True, type=click.FloatRange(1), help="Job lease length."
)
@click.option(
    "--grade-margin",
    default=MARGIN,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds a grade may run past the spec's submission_timeout before it is stopped and failed.",
)
@click.option(
    "--warm-pool/--no-warm-pool",
    default=True,
    show_default=True,
    help="Keep one sandbox per worker started ahead of its next job (bwrap, docker).",
)
@click.option(
    "--rate-limit",
    "rate_limits",
    multiple=True,
    callback=lambda ctx, param, value: _rate_limits(value),
    metavar="COUNT/SECONDS",
    help="Per-student upload limit over a sliding window, e.g. 1/10; repeat for several, all must hold "
    "[default: 1/10 and 30/3600].",
)
@broker_option
@click.option(
    "--resend-after",
    "resend_seconds",
    default=RESEND_SECONDS,
    show_default=True,
    type=click.FloatRange(0.5),
    help="With --broker: send a queued job's message again when no worker took it for this long.",
)
@secret_options
@spec_option
@edge
def serve(
    data_dir,
    database_url,
    host,
    port,
    public,
    workers,
    sandbox,
    lease_seconds,
    grade_margin,
    warm_pool,
    rate_limits,
    broker_url,
    resend_seconds,
    secret_file,
    insecure_default_secret,
    spec_path,
):
    """Run the grading service: the HTTP API, the web pages and a pool of workers.

    The workers grade with the secret `admin init` recorded in DATA/secret (a --secret-file must agree with
    it); without one, --secret-file or $PA5_GRADER_SECRET.

    \b
    Example:
      pa5-grader serve --data /srv/pa5 --port 8000 --workers 2
    """
    from grader.service.ops.serve import serve as run_serve
    from grader.service.ops.settings import ServiceSettings

    settings = ServiceSettings(
        data_dir=Path(data_dir),
        database_url=database_url,
        sandbox=sandbox,
        workers=workers,
        spec_path=spec_path,
        secret_file=secret_file,
        insecure_default_secret=insecure_default_secret,
        lease_seconds=lease_seconds,
        recovery_seconds=min(5.0, lease_seconds / 2),
        grade_margin=grade_margin,
        warm_pool=warm_pool,
        broker_url=broker_url,
        resend_seconds=resend_seconds,
        **({"rate_limits": rate_limits} if rate_limits else {}),
    )

    def ready(description: str):
        click.echo(
            f"pa5-grader service on http://{host}:{port} ({description}); data in {data_dir}; API docs at /docs",
            err=True,
        )

    run_serve(settings=settings, host=host, port=port, public=public, on_ready=ready)


@click.command()
@click.option(
    "--data",
    "data_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="The service's data folder: its secret, and its database unless --database.",
)
@click.option("--database", "database_url", default=None, help="The service's database, e.g. postgresql://...")
@broker_option
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64), help="Grades at once.")
@click.option("--sandbox", type=click.Choice(BACKENDS), default=DEFAULT_SANDBOX, show_default=True)
@click.option(
    "--lease-seconds", default=LEASE_SECONDS, show_default=True, type=click.FloatRange(1), help="Job lease length."
)
@click.option(
    "--grade-margin",
    default=MARGIN,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds a grade may run past the spec's submission_timeout before it is stopped and failed.",
)
@secret_options
@spec_option
@edge
def worker(
    data_dir,
    database_url,
    broker_url,
    concurrency,
    sandbox,
    lease_seconds,
    grade_margin,
    secret_file,
    insecure_default_secret,
    spec_path,
):
    """Grade jobs of a service started with `serve --broker`, on this host, in its own sandbox.

    The secret comes from --secret-file, else the --data folder's (written by `admin init`), else
    $PA5_GRADER_SECRET; never over the broker.

    \b
    Examples:
      pa5-grader worker --data /srv/pa5 --broker redis://queue:6379/0
      pa5-grader worker --database postgresql://pa5@db/pa5 --broker redis://queue:6379/0 --secret-file secret
    """
    from grader.service.ops.admin import worker_inputs
    from grader.service.queue.celery.worker import run_worker

    if not broker_url:
        raise click.UsageError("worker needs --broker (the URL serve --broker was given)")
    if not data_dir and not database_url:
        raise click.UsageError("worker needs --data DIR (the service's data folder) or --database URL")
    database_url, secret = worker_inputs(
        data_dir=data_dir and Path(data_dir),
        database_url=database_url,
        secret_file=secret_file and Path(secret_file),
        insecure_default=insecure_default_secret,
    )
    run_worker(
        database_url=database_url,
        broker_url=broker_url,
        sandbox=sandbox,
        concurrency=concurrency,
        spec_path=spec_path and Path(spec_path),
        secret=secret,
        lease_seconds=lease_seconds,
        margin=grade_margin,
    )


@click.command()
@click.argument("submission", type=click.Path())
@click.option("--server", required=True, help="The service's URL, e.g. http://127.0.0.1:8000.")
@click.option("--token", default=None, help="Your token (else $PA5_GRADER_TOKEN).")
@click.option("--wait", is_flag=True, help="Wait for the report; exit 0 if every case passes, 1 if not, 2 on error.")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(1), help="Seconds --wait waits.")
@output_options
@edge
def submit(submission, server, token, wait, timeout, fmt, output):
    """Upload SUBMISSION (a folder with backprop.py, or a .py file) to a grading service.

    \b
    Example:
      pa5-grader submit my_pa5/ --server https://pa5.example.edu --token $TOKEN --wait --format junit -o results.xml
    """
    from grader.report.render import write
    from grader.service.ops.client import submit as run_submit

    def show(state):  # what a service answers is shown printable, as any text from elsewhere
        where = f" (position {state['queue_position']})" if state.get("queue_position") else ""
        click.echo(printable(f"submission {state['id']}: {state['status']}{where}", one_line=True), err=True)

    outcome = run_submit(
        path=Path(submission),
        server=server,
        token=token,
        wait=wait,
        fmt=fmt,
        timeout=timeout,
        on_status=show,
        with_text=bool(output),
    )
    if outcome.report_text is not None:
        if output:  # as check -o: the file in --format, the text report on the terminal
            write(Path(output), outcome.report_text)
            click.echo(outcome.text or "", nl=False)
            click.echo(f"{fmt} report written to {output}", err=True)
        else:  # the text report for a terminal; the other formats are for programs, byte for byte
            click.echo(printable(outcome.report_text) if fmt == "text" else outcome.report_text, nl=False)
    click.echo(printable(outcome.message), err=True)
    sys.exit(outcome.exit_code)
