"""The service's admin commands: a data folder, its database, secret and tokens."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.course import assignment, extend, gradebook, release
from grader.cli.lti import lti
from grader.cli.options import (
    data_option,
    database_option,
    edge,
)
from grader.printable import printable


@click.group()
def admin():
    """Set up a service: its data folder, database, secret and tokens."""


@admin.command("init")
@data_option
@database_option
@click.option("--secret-file", type=click.Path(dir_okay=False), default=None, help="Use this secret, not a new one.")
@click.option(
    "--add-instructor-token",
    "add_instructor",
    is_flag=True,
    help="On a folder that already holds a service: issue one more instructor token.",
)
@edge
def admin_init(data_dir, database_url, secret_file, add_instructor):
    """Make DATA, the database and DATA/secret (0600): the --secret-file's secret, else a new one; print a new
    instructor token once.

    On a folder that already holds a service, change nothing (but record a missing secret from --secret-file)
    unless --add-instructor-token is given. A recorded secret is never replaced.

    \b
    Example:
      pa5-grader admin init --data /srv/pa5 --secret-file secret.txt
    """
    from grader.service.ops.admin import admin_command, init

    r = init(
        data_dir=Path(data_dir),
        secret_file=secret_file and Path(secret_file),
        database_url=database_url,
        add_instructor=add_instructor,
    )
    if r.secret_action == "recorded" and r.existed:
        click.echo(f"grading secret from {secret_file} recorded in {r.secret} (serve and worker read it from there)")
    elif r.secret_action == "missing":
        click.echo(
            f"{data_dir} records no grading secret: serve and worker need --secret-file or $PA5_GRADER_SECRET until "
            f"`{admin_command('init', Path(data_dir), database_url, '--secret-file FILE')}` records the one it was "
            "made with",
            err=True,
        )
    if not r.existed:
        origin = f"from {secret_file} " if r.secret_action == "recorded" else ""
        click.echo(
            f"data folder {data_dir} ready; grading secret {origin}in {r.secret} (keep it: it fixes the hidden cases)"
        )
    elif r.token is None:
        more = admin_command("init", Path(data_dir), database_url, "--add-instructor-token")
        click.echo(
            f"{data_dir} already holds a service (schema revision {r.revision}); left as it is, no new token. "
            f"To issue one more instructor token: `{more}`",
            err=True,
        )
    if r.token is not None:
        named = f"`admin tokens --list` names it {r.token[:8]}"
        click.echo(f"instructor token (shown once, stored only hashed; keep it private; {named}):", err=True)
        click.echo(r.token)


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
    if r.revived:
        click.echo(f"revoked tokens replaced by new ones: {', '.join(r.revived)}", err=True)


@admin.command("tokens")
@data_option
@database_option
@click.option("--list", "show", is_flag=True, help="List every token: role, student, prefix, created, revoked.")
@click.option(
    "--revoke",
    "student_id",
    default=None,
    metavar="STUDENT_ID",
    help="Revoke this student's token (they stay on the roster).",
)
@click.option(
    "--revoke-instructor",
    "prefix",
    default=None,
    metavar="PREFIX",
    help="Revoke the instructor token starting with PREFIX (>= 4 characters).",
)
@edge
def admin_tokens(data_dir, database_url, show, student_id, prefix):
    """List the service's tokens, or revoke one: it and every browser session made with it stop working at once.

    Tokens are named by their first 8 characters (`sha256:` and the hash's first 8 hex for tokens made before
    the prefix was kept). A revoked student gets a new token from `admin students` (or --rotate).

    \b
    Examples:
      pa5-grader admin tokens --data /srv/pa5 --list
      pa5-grader admin tokens --data /srv/pa5 --revoke alice
      pa5-grader admin tokens --data /srv/pa5 --revoke-instructor Xk3f
    """
    from grader.service.ops.admin import (
        admin_command,
        list_tokens,
        open_store,
        revoke_instructor,
        revoke_student,
        tokens_table,
        when,
    )

    if sum((show, student_id is not None, prefix is not None)) != 1:
        raise click.UsageError("give one of --list, --revoke STUDENT_ID, --revoke-instructor PREFIX")
    store = open_store(Path(data_dir), database_url)
    try:
        if show:
            click.echo(printable(tokens_table(list_tokens(store=store))), nl=False)
            return
        if student_id is not None:
            r = revoke_student(store=store, student_id=student_id)
            what = f"{student_id}'s token {r.token.name}"
        else:
            r = revoke_instructor(store=store, prefix=prefix)
            what = f"instructor token {r.token.name}"
        if r.already:
            click.echo(printable(f"{what} was already revoked on {when(r.token.revoked_at)}; nothing changed"))
        else:
            click.echo(printable(f"revoked {what}: it and its browser sessions no longer work"))
            if student_id is not None:
                click.echo(
                    printable(
                        f"{student_id} stays on the roster; `pa5-grader admin students` with {student_id} in the "
                        "roster file issues a new token (as does --rotate)"
                    ),
                    err=True,
                )
        if prefix is not None and r.working_instructors == 0:
            more = admin_command("init", Path(data_dir), database_url, "--add-instructor-token")
            click.echo(f"no instructor token works now: make a new one with `{more}`", err=True)
    finally:
        store.engine.dispose()


for _command in (assignment, extend, release, gradebook, lti):
    admin.add_command(_command)
