"""The packaging commands: `image build`, `bundle gradescope|student`, and `gradescope-run` inside Gradescope."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import edge, secret_options, spec_option
from grader.sandbox.docker.image import IMAGE, OFFLINE_BASE


@click.group()
def image():
    """The Docker runner image."""


@image.command("build")
@click.option(
    "--base", default=None, help=f"Base image (default: {OFFLINE_BASE} if present, else the Dockerfile's default)."
)
@click.option("--tag", default=IMAGE, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Do not show the build log.")
@edge
def image_build(base, tag, quiet):
    """Build the runner image: Python, numpy, scipy and the harness only.

    \b
    Example (offline, no registry):
      docker/build-base-image.sh && pa5-grader image build
    """
    from grader.sandbox.docker.image import build_image

    used = build_image(tag=tag, base=base, log=(lambda s: None) if quiet else (lambda s: click.echo(s, err=True)))
    click.echo(f"built {tag} from {used}")


@click.group()
def bundle():
    """Packages for Gradescope and for students."""


@bundle.command("gradescope")
@click.option("--out", "out_file", default="autograder.zip", show_default=True, type=click.Path(dir_okay=False))
@click.option(
    "--per",
    type=click.Choice(["problem", "case"]),
    default="problem",
    show_default=True,
    help="One Gradescope test per problem (public and hidden apart) or per case.",
)
@secret_options
@spec_option
@edge
def bundle_gradescope(out_file, per, secret_file, insecure_default_secret, spec_path):
    """Build a Gradescope autograder zip (setup.sh, run_autograder, the grader and the secret).

    \b
    Example:
      pa5-grader bundle gradescope --out autograder.zip --secret-file secret.txt
    """
    from grader.config import read_secret
    from grader.spec import load_spec
    from grader.workflows.bundle import build_gradescope

    load_spec(spec_path)  # an invalid spec stops here, before a zip exists that looks fine
    secret = read_secret(secret_file=secret_file, insecure_default=insecure_default_secret)
    path = build_gradescope(out=Path(out_file), secret=secret, spec_path=spec_path and Path(spec_path), per=per)
    click.echo(f"wrote {path}")


@bundle.command("student")
@click.option("--out", "out_dir", default="pa5-student-kit", show_default=True, type=click.Path(file_okay=False))
@edge
def bundle_student(out_dir):
    """Build the student kit: the grader without reference/, the public cases and the starter file.

    \b
    Example:
      pa5-grader bundle student --out pa5-student-kit
    """
    from grader.workflows.bundle import build_student_kit

    click.echo(f"wrote {build_student_kit(out=Path(out_dir))}")


@click.command("gradescope-run", hidden=True)
@click.option("--root", default="/autograder", show_default=True, type=click.Path(file_okay=False))
@edge
def gradescope_run(root):
    """Inside Gradescope: grade ROOT/submission, write ROOT/results/results.json."""
    from grader.workflows.gradescope_run import run_in_gradescope

    run_in_gradescope(root=Path(root))
