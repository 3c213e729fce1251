"""`admin lti`: register LMS platforms, the tool's keys, roster contacts and sync, and resending grades."""

from __future__ import annotations

from pathlib import Path

import click

from grader.cli.options import Failure, data_option, database_option, edge, spec_option


def _store(data_dir, database_url):
    from grader.service.ops.admin import open_store

    return open_store(Path(data_dir), database_url)


@click.group()
def lti():
    """LMS integration (LTI 1.3): platforms, keys, roster and grade passback. See README, "LMS (LTI 1.3)"."""
    import importlib.util

    if importlib.util.find_spec("pylti1p3") is None:
        raise Failure("LTI needs PyLTI1p3, which is not installed here: pip install 'pa5-grader[lti]'")


@lti.command("add-platform")
@data_option
@database_option
@click.option("--issuer", required=True, help="The platform's issuer (Canvas: https://canvas.instructure.com).")
@click.option("--client-id", required=True, help="The tool's client id at the platform (Canvas: the developer key id).")
@click.option("--deployment-id", required=True, help="The deployment's id (the platform shows it once installed).")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization (login) URL.")
@click.option("--auth-token-url", required=True, help="The platform's OAuth2 access token URL.")
@click.option("--keyset-url", required=True, help="The platform's public key set (JWKS) URL.")
@click.option("--auth-audience", default=None, help="The token endpoint's audience, when it is not its URL.")
@click.option(
    "--frame-origin",
    "frame_origins",
    multiple=True,
    help="Origin whose pages frame the tool (repeatable; default: the issuer's). Canvas: https://SCHOOL.instructure.com.",
)
@edge
def add_platform(data_dir, database_url, frame_origins, **fields):
    """Register an LMS platform; makes the tool's key on first use (DATA/lti-keys/, 0600).

    \b
    Example (Moodle):
      pa5-grader admin lti add-platform --data /srv/pa5 --issuer https://moodle.example.edu \\
        --client-id AbC123 --deployment-id 4 \\
        --auth-login-url https://moodle.example.edu/mod/lti/auth.php \\
        --auth-token-url https://moodle.example.edu/mod/lti/token.php \\
        --keyset-url https://moodle.example.edu/mod/lti/certs.php
    """
    from grader.service.lti.registry import add_platform as add

    store = _store(data_dir, database_url)
    p = add(lti=store.lti, data_dir=Path(data_dir), frame_origins=frame_origins, **fields)
    click.echo(f"platform {p.id}: {p.issuer}, client id {p.client_id}, deployment {p.deployment_id}")
    click.echo(f"framed by: {' '.join(p.frame_origins)}")
    click.echo("the tool's URLs for the LMS are in GET /lti/config on the service")


@lti.command("list")
@data_option
@database_option
@edge
def list_platforms(data_dir, database_url):
    """The registered platforms and the tool's keys."""
    from grader.service.lti.admin import key_list

    store = _store(data_dir, database_url)
    platforms = store.lti.platforms()
    if not platforms:
        click.echo("no platform registered: `pa5-grader admin lti add-platform`")
    for p in platforms:
        click.echo(
            f"{p.id}\t{p.issuer}\tclient {p.client_id}\tdeployment {p.deployment_id}\t{' '.join(p.frame_origins)}"
        )
    for k in key_list(data_dir=Path(data_dir)):
        click.echo(f"key {k.kid}{' (signing)' if k.signing else ''}\t{k.file}")


@lti.command("remove")
@data_option
@database_option
@click.argument("platform_id", type=int)
@edge
def remove(data_dir, database_url, platform_id):
    """Remove platform PLATFORM_ID and what was learnt through it (links, LMS users, passback state)."""
    from grader.service.lti.registry import remove_platform

    remove_platform(lti=_store(data_dir, database_url).lti, platform_id=platform_id)
    click.echo(f"removed platform {platform_id}")


@lti.command("rotate-key")
@data_option
@click.option("--retire", is_flag=True, help="Remove every key but the newest (after the platforms refetched).")
@edge
def rotate_key(data_dir, retire):
    """Make a new signing key; the JWKS keeps serving the old ones until --retire.

    \b
    Example:
      pa5-grader admin lti rotate-key --data /srv/pa5            # new key signs, old stays published
      pa5-grader admin lti rotate-key --data /srv/pa5 --retire   # a day later: drop the old ones
    """
    from grader.service.lti.admin import rotate_key as rotate

    key, retired = rotate(data_dir=Path(data_dir), retire=retire)
    if retire:
        click.echo(f"retired {retired} key(s); {key.kid} signs")
    else:
        click.echo(f"new signing key {key.kid} in {key.file}; the older keys stay in the JWKS until --retire")


@lti.command("contacts")
@data_option
@database_option
@click.argument("roster", type=click.Path(dir_okay=False, exists=True))
@edge
def contacts(data_dir, database_url, roster):
    """Read the email and SIS id (lis_person_sourcedid) columns of ROSTER, for matching launches to students."""
    from grader.service.lti.admin import contacts as set_contacts

    n = set_contacts(store=_store(data_dir, database_url), path=Path(roster))
    click.echo(f"{n} student(s)' contacts recorded")


@lti.command("sync-roster")
@data_option
@database_option
@click.option("--link", "link_id", type=int, default=None, help="Only the course of this link (see /lti/status).")
@edge
def sync_roster(data_dir, database_url, link_id):
    """Read the members of every course a launch has shown (NRPS) and add the learners as students."""
    from grader.service.lti.admin import sync_roster as sync

    r = sync(store=_store(data_dir, database_url), data_dir=Path(data_dir), link_id=link_id)
    click.echo(
        f"{r.courses} course(s): {len(r.added)} student(s) added, {len(r.linked)} linked to the roster, "
        f"{r.known} known before"
    )
    for line in r.skipped:
        click.echo(f"skipped: {line}", err=True)


@lti.command("push")
@data_option
@database_option
@spec_option
@edge
def push(data_dir, database_url, spec_path):
    """Send every linked student's score again, now (a running serve also retries what fails).

    Give the same --spec as `serve`: its points and hidden-result rule make the scores."""
    from grader.service.lti.admin import push as resend
    from grader.spec import load_spec

    spec = load_spec(spec_path and Path(spec_path))
    n, r = resend(store=_store(data_dir, database_url), data_dir=Path(data_dir), spec=spec)
    click.echo(f"{n} passback(s): {r.sent} sent, {r.failed} failed, {r.waiting} waiting, {r.ungraded} not graded yet")
    if r.failed:
        click.echo("see /lti/status on the service for each platform's answer", err=True)
