"""The command line: one click group, with every command added here explicitly. Only grader/cli/ imports click."""

from __future__ import annotations

import click

from grader import __version__
from grader.cli.admin import admin
from grader.cli.course import assignment, extend, gradebook, release
from grader.cli.grading import batch, check, generate, grade
from grader.cli.lti import lti
from grader.cli.packaging import bundle, gradescope_run, image
from grader.cli.service import serve, submit, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pa5-grader")
def cli():
    """Auto-grader for PA5 (backprop through conv, fully connected and softmax-loss layers).

    Exit codes: 0 all cases pass, 1 some case fails, 2 usage or infrastructure error.
    """


for _command in (assignment, extend, release, gradebook):
    admin.add_command(_command)
admin.add_command(lti)
for _command in (check, grade, batch, generate, image, bundle, gradescope_run, admin, serve, worker, submit):
    cli.add_command(_command)
