"""What every command shares: the edge that turns errors into messages, common options, printing a report."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from grader import __version__
from grader.errors import GraderError
from grader.printable import printable
from grader.report.render import FORMATS
from grader.sandbox import BACKENDS

ISSUES_URL = "the pa5-grader issue tracker (give the log file named here)"


class Failure(click.ClickException):
    exit_code = 2


class Done(SystemExit):
    """The command is done and has closed what it wrote: run as the program, the process exits with this code
    without tearing its interpreter down (grader/cli/__init__.py); under CliRunner, an ordinary SystemExit."""


def edge(fn):
    """Turn domain errors into a message and exit 2; log anything unexpected instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GraderError as e:  # its message may quote a file name or a service's answer: shown printable
            raise Failure(printable(str(e))) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            log = Path(tempfile.gettempdir()) / f"pa5-grader-crash-{int(time.time())}-{os.getpid()}.log"
            log.write_text(f"pa5-grader {__version__}\n{' '.join(sys.argv)}\n\n{traceback.format_exc()}")
            raise Failure(
                f"internal error in pa5-grader; details are in {log}. Please report it to {ISSUES_URL}"
            ) from None

    return wrapper


def spec_option(fn):
    return click.option(
        "--spec",
        "spec_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="TOML file overriding the built-in assignment spec (see README, 'Spec file').",
    )(fn)


def output_options(fn):
    fn = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, writable=True),
        default=None,
        help="Write the report in --format to this file; the text report still goes to the terminal.",
    )(fn)
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format."
    )(fn)


def sandbox_option(auto: str):
    return click.option(
        "--sandbox",
        type=click.Choice(BACKENDS),
        default="auto",
        show_default=True,
        help=f"Where student code runs. auto: {auto}.",
    )


def secret_options(fn):
    fn = click.option(
        "--insecure-default-secret",
        is_flag=True,
        help="Use a fixed, public secret (demos only: hidden cases become predictable).",
    )(fn)
    return click.option(
        "--secret-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="File holding the grading secret (else $PA5_GRADER_SECRET).",
    )(fn)


def color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def emit(report, fmt: str, output: str | None, *, hidden_visibility: str) -> None:
    from grader.report import render

    text = render.render(report, "text", color=color())
    if output:
        render.write(Path(output), render.render(report, fmt, hidden_visibility=hidden_visibility))
        click.echo(text, nl=False)
        click.echo(f"{fmt} report written to {output}")
    elif fmt == "text":
        click.echo(text, nl=False)
    else:
        click.echo(render.render(report, fmt, hidden_visibility=hidden_visibility), nl=False)


data_option = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False), help="The service's data folder."
)
broker_option = click.option(
    "--broker", "broker_url", default=None, help="Celery broker URL (redis://HOST:6379/0): grade on `worker` hosts."
)
database_option = click.option(
    "--database", "database_url", default=None, help="SQLAlchemy database URL (default: sqlite:///DATA/pa5.db)."
)
