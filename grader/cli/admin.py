"""The service's admin commands: a data folder, its database, secret and tokens."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import (
    data_option,
    database_option,
    edge,
)


@click.group()
def admin():
    """Set up a service: its data folder, database, secret and tokens."""


@admin.command("init")
@data_option
@database_option
@click.option("--secret-file", type=click.Path(dir_okay=False), default=None, help="Use this secret, not a new one.")
@edge
def admin_init(data_dir, database_url, secret_file):
    """Make DATA, the database and a grading secret (0600); print a new instructor token once.

    \b
    Example:
      pa5-grader admin init --data /srv/pa5
    """
    from grader.service.ops.admin import init

    token, secret = init(
        data_dir=Path(data_dir), secret_file=secret_file and Path(secret_file), database_url=database_url
    )
    click.echo(f"data folder {data_dir} ready; grading secret in {secret} (keep it: it fixes the hidden cases)")
    click.echo("instructor token (shown once, stored only hashed; keep it private):", err=True)
    click.echo(token)


@admin.command("upgrade")
@data_option
@database_option
@edge
def admin_upgrade(data_dir, database_url):
    """Upgrade the service's database to this version's schema, keeping every submission and report.

    \b
    Example:
      pa5-grader admin upgrade --data /srv/pa5
    """
    from grader.service.ops.admin import upgrade

    before, after = upgrade(data_dir=Path(data_dir), database_url=database_url)
    if before == after:
        click.echo(f"the database is already at schema revision {after}")
    else:
        click.echo(f"upgraded the database from schema revision {before or 'none'} to {after}")


@admin.command("students")
@data_option
@database_option
@click.argument("roster", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--out", "out_file", required=True, type=click.Path(dir_okay=False), help="Where to write student_id,token."
)
@click.option("--rotate", is_flag=True, help="Issue new tokens to everyone on the roster; old ones stop working.")
@edge
def admin_students(data_dir, database_url, roster, out_file, rotate):
    """Issue tokens to the students of ROSTER (a CSV with a student_id column) and write them to --out (0600).

    Re-running keeps the tokens already in --out; new students get new ones.

    \b
    Example:
      pa5-grader admin students --data /srv/pa5 roster.csv --out TOKENS.csv
    """
    from grader.service.ops.admin import open_store, students

    store = open_store(Path(data_dir), database_url)
    r = students(store=store, roster=Path(roster), out=Path(out_file), rotate=rotate)
    click.echo(f"wrote {r.out}: {r.issued} new token(s), {r.kept} kept")
