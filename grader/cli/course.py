"""The course calendar's admin commands: assignment, extend, release, gradebook."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import data_option, database_option, edge, spec_option


def _store(data_dir, database_url):
    from grader.service.ops.admin import open_store

    return open_store(Path(data_dir), database_url)


def _spec(spec_path):
    from grader.spec import load_spec

    return load_spec(spec_path and Path(spec_path))


@click.command("assignment")
@data_option
@database_option
@spec_option
@click.option("--opens", default=None, help="Uploads are refused before this time (ISO 8601; 'none' clears).")
@click.option("--due", default=None, help="Uploads after it are late ('none' clears).")
@click.option("--late-due", default=None, help="Uploads after it are refused ('none': after --due).")
@click.option(
    "--late-penalty",
    type=click.FloatRange(0, 1),
    default=None,
    help="Fraction of the raw score taken per day late, pro rata to the second (0.1 = 10%/day).",
)
@click.option("--timezone", default=None, help="IANA zone times are shown in and naive times read in (e.g. UTC).")
@click.option("--release", type=click.Choice(["after-due", "immediately", "manual"]), default=None)
@click.option("--score-policy", type=click.Choice(["latest", "best"]), default=None)
@click.option("--max-submissions", type=click.IntRange(0), default=None, help="Per student; 0 removes the limit.")
@edge
def assignment(data_dir, database_url, spec_path, **settings):
    """Show the assignment's calendar, or change the settings given (the others are kept; effective at once).

    Times are ISO 8601 with an offset, or without one in the course's --timezone; stored in UTC.

    \b
    Example:
      pa5-grader admin assignment --data /srv/pa5 --due 2026-12-10T23:59 --late-due 2026-12-12T23:59 \\
        --late-penalty 0.1 --timezone America/New_York
    """
    from grader.service.course.clock import clock_from_env
    from grader.service.ops.course import describe, set_assignment

    store = _store(data_dir, database_url)
    try:
        if any(v is not None for v in settings.values()):
            calendar = set_assignment(store, settings, now=clock_from_env()())
            click.echo("calendar updated:")
        else:
            calendar = store.course.calendar()
        for line in describe(calendar, _spec(spec_path)):
            click.echo(line)
    finally:
        store.engine.dispose()


@click.command("extend")
@data_option
@database_option
@click.argument("student_id")
@click.option("--due", default=None, help="The student's own due date.")
@click.option("--late-due", default=None, help="The student's own late due date.")
@click.option("--clear", is_flag=True, help="Remove the student's extension.")
@edge
def extend(data_dir, database_url, student_id, due, late_due, clear):
    """Give STUDENT_ID their own due date (and late due date), replacing the assignment's; --clear removes it.

    \b
    Example:
      pa5-grader admin extend --data /srv/pa5 s001 --due 2026-12-14T23:59
    """
    from grader.service.ops.course import extend as give

    store = _store(data_dir, database_url)
    try:
        click.echo(give(store, student_id, due=due, late_due=late_due, clear=clear))
    finally:
        store.engine.dispose()


@click.command("release")
@data_option
@database_option
@edge
def release(data_dir, database_url):
    """Publish every student's hidden results now (for --release manual; effective at once in a running serve)."""
    from grader.service.course.clock import clock_from_env
    from grader.service.ops.course import release as publish

    store = _store(data_dir, database_url)
    try:
        click.echo(publish(store, clock_from_env()))
    finally:
        store.engine.dispose()


@click.command("gradebook")
@data_option
@database_option
@spec_option
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="The CSV to write.")
@edge
def gradebook(data_dir, database_url, spec_path, out_file):
    """Write the gradebook: a row per roster student (submitted or not) with the counting submission's id, time,
    lateness, raw score, penalty, final score, number of submissions and status."""
    from grader.service.ops.course import write_gradebook

    store = _store(data_dir, database_url)
    try:
        n = write_gradebook(store, _spec(spec_path), Path(out_file))
    finally:
        store.engine.dispose()
    click.echo(f"wrote {out_file}: {n} student(s)")
