"""``diva doctor``: whether GitHub enforces what diva generated, and how to fix it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from diva.cli.common import project_root, spec_option
from diva.errors import EXIT_INVALID, EXIT_OK, EXIT_UNAVAILABLE

_MARK = {True: "✅", False: "❌", None: "⚠️"}


@click.command()
@click.option(
    "--repo",
    default=None,
    metavar="OWNER/NAME",
    help="The repository (default: $GITHUB_REPOSITORY, else the github.com remote origin).",
)
@click.option(
    "--branch",
    default="main",
    show_default=True,
    help="The default branch, which the ruleset protects.",
)
@spec_option()
def doctor(repo: str | None, branch: str, spec: Path) -> None:
    """Check that GitHub enforces the gate: ruleset, required check, reviews, environment.

    Reads the repository through GitHub's API (token: $DIVA_GATE_GITHUB_TOKEN,
    $GITHUB_TOKEN, $GH_TOKEN, else `gh auth token`): the branch's effective rules (does
    it require the check "diva gate" and a code owner's review?), diva's ruleset (applied?
    active, or only evaluated?), from stage 4 the "release" environment (reviewers, a
    branch policy), and CODEOWNERS' errors. Says what is missing and prints the `gh api`
    command that applies it. Only reads; changes nothing.
    Exit 0 all enforced, 1 something missing, 4 GitHub could not be read.
    """
    from diva.lifecycle import protection
    from diva.lifecycle.evidence.git import stage_of

    root, name = project_root(spec)
    github = protection.client(root, os.environ, repo)
    stage = stage_of((root / name).read_bytes()) or 0
    findings = protection.check(github, branch, stage)
    click.echo(f"diva doctor: {github.repository}, branch {branch}, stage {stage}")
    for finding in findings:
        click.echo(f"  {_MARK[finding.ok]} {finding.id:<18} {finding.message}")
        if finding.fix:
            click.echo(f"     fix: {finding.fix}")
    missing = [finding for finding in findings if finding.ok is False]
    unknown = [finding for finding in findings if finding.ok is None]
    if missing:
        click.secho(
            f"{len(missing)} missing: the gate's verdict is not enforced", fg="red", err=True
        )
        sys.exit(EXIT_INVALID)
    if unknown:
        click.secho(f"{len(unknown)} could not be read", fg="yellow", err=True)
        sys.exit(EXIT_UNAVAILABLE)
    click.echo("everything diva generated is enforced")
    sys.exit(EXIT_OK)


COMMANDS = (doctor,)
