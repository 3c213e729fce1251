"""The grading commands: check (the student's self-test), grade (one submission), batch (a class), generate."""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import click

from grader.cli.options import Done, edge, emit, output_options, sandbox_option, secret_options, spec_option
from grader.printable import printable


@click.command()
@click.argument("submission", type=click.Path())
@click.option(
    "--cases",
    "cases_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of public cases (default: ./test_cases or the bundled ones).",
)
@sandbox_option("bwrap where it works, else 'process' (not isolated: self-tests only)")
@click.option(
    "--explore",
    type=click.IntRange(0, 10000),
    default=0,
    metavar="N",
    help="Also run N random cases of varied shapes, judged by the forward pass (never scored).",
)
@click.option("--seed", type=int, default=None, help="Seed of the --explore cases, to replay a run (default: random).")
@output_options
@spec_option
@edge
def check(submission, cases_dir, sandbox, fmt, output, spec_path, explore, seed):
    """Self-test SUBMISSION (a folder with backprop.py, or a .py file) on the public cases.

    \b
    Example:
      pa5-grader check submissions_example/correct
      pa5-grader check my_pa5/ --format junit --output results.xml
      pa5-grader check my_pa5/ --explore 200          # random gradient checks
    """
    from grader.sandbox import make_backend
    from grader.spec import load_spec

    spec = load_spec(spec_path)
    with make_backend(sandbox, process_fallback=True, single=True) as backend:
        backend.prestart(spec.limits)  # under the spec's limits, its numpy import overlaps ours from here on
        from grader.workflows.grade import check as run_check

        report = run_check(
            submission=submission, spec=spec, backend=backend, cases_dir=cases_dir, explore=explore, seed=seed
        )
    if report.explore and fmt != "text":
        click.echo(f"explore seed: {report.explore.seed}", err=True)  # the text report prints it
    emit(report, fmt, output, hidden_visibility=spec.hidden_visibility)
    raise Done(0 if report.passed else 1)


@click.command()
@click.argument("submission", type=click.Path())
@click.option("--student-id", required=True, help="Student id; seeds this student's hidden cases.")
@sandbox_option("bwrap where it works, else docker, else an error")
@secret_options
@output_options
@spec_option
@edge
def grade(submission, student_id, sandbox, secret_file, insecure_default_secret, fmt, output, spec_path):
    """Grade one SUBMISSION on the public cases plus the student's hidden cases.

    \b
    Example:
      PA5_GRADER_SECRET=... pa5-grader grade alice/ --student-id alice --format json -o alice.json
    """
    from grader.config import read_secret
    from grader.sandbox import make_backend
    from grader.spec import load_spec
    from grader.workflows.grade import grade as run_grade

    spec = load_spec(spec_path)
    secret = read_secret(secret_file=secret_file, insecure_default=insecure_default_secret)
    with make_backend(sandbox, single=True) as backend:
        report = run_grade(submission=submission, student_id=student_id, secret=secret, spec=spec, backend=backend)
    emit(report, fmt, output, hidden_visibility=spec.hidden_visibility)
    sys.exit(0 if report.passed else 1)


@click.command()
@click.argument("submissions_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the reports.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=os.cpu_count() or 1,
    show_default="CPU count",
    help="Submissions graded at once.",
)
@click.option("--force", is_flag=True, help="Regrade even submissions whose report is up to date.")
@sandbox_option("bwrap where it works, else docker, else an error")
@click.option(
    "--warm-pool/--no-warm-pool",
    default=True,
    show_default=True,
    help="Start --jobs sandboxes ahead of their submissions (bwrap templates, docker containers).",
)
@secret_options
@spec_option
@edge
def batch(submissions_dir, out_dir, jobs, force, sandbox, warm_pool, secret_file, insecure_default_secret, spec_path):
    """Grade a class: every folder (or .py file) in SUBMISSIONS_DIR is one student, named by its id.

    Writes OUT/<student>.json, OUT/summary.csv and OUT/summary.json. Re-running skips
    submissions whose report is up to date; Ctrl-C keeps the finished reports.

    \b
    Example:
      pa5-grader batch submissions/ --out reports/ --secret-file secret.txt
    """
    from grader.config import read_secret
    from grader.report.numbers import points
    from grader.sandbox import make_backend
    from grader.spec import load_spec
    from grader.workflows.batch import run_batch

    spec = load_spec(spec_path)
    secret = read_secret(secret_file=secret_file, insecure_default=insecure_default_secret)
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(p):
        eta = f"{p.eta:.0f}s" if p.eta is not None else "?"
        score = "skipped (up to date)" if p.score is None else points(p.score)
        line = f"[{p.done}/{p.total}] {p.rate:.2f}/s ETA {eta}  {printable(p.student_id, one_line=True)}: {score}"
        if tty:
            click.echo("\r\033[K" + line, nl=p.done == p.total, err=True)
        elif time.monotonic() - last[0] > 2 or p.done == p.total:
            last[0] = time.monotonic()
            click.echo(line, err=True)

    with make_backend(sandbox) as backend, backend.pool(jobs, spec.limits) if warm_pool else nullcontext():
        result = run_batch(
            submissions=Path(submissions_dir),
            out=Path(out_dir),
            spec=spec,
            backend=backend,
            secret=secret,
            jobs=jobs,
            force=force,
            on_progress=show,
        )
    if result.interrupted:
        click.echo(
            f"\ninterrupted: {result.graded} graded so far; their reports are kept. Run again to resume.", err=True
        )
        sys.exit(130)
    click.echo(
        f"graded {result.graded}, skipped {result.skipped} up to date; "
        f"summary in {result.summary_csv} and {result.summary_json}"
    )
    if result.failed_to_grade:
        names = ", ".join(printable(n, one_line=True) for n in result.failed_to_grade)
        click.echo(f"the grader failed on: {names} (see the log above)", err=True)
        sys.exit(2)


@click.command()
@click.option("--out", "out_dir", default="test_cases", show_default=True, type=click.Path(file_okay=False))
@spec_option
@edge
def generate(out_dir, spec_path):
    """Write the public cases (manifest.json and .npz files) from the reference.

    \b
    Example:
      pa5-grader generate --out test_cases
    """
    from grader.spec import load_spec
    from grader.workflows.generate import generate_public

    manifest = generate_public(spec=load_spec(spec_path), out=Path(out_dir))
    click.echo(f"wrote {manifest}")
