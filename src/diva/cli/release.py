"""The release commands of ``diva``: ``release show|pin|candidate|alias|verify``
(docs/release.md).

Registered on the main group by :mod:`diva.cli`. MLflow is imported only by the
commands that read or move aliases.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from diva.cli.common import SPEC_OPTION, project_root, say
from diva.errors import EXIT_INVALID, EXIT_UNAVAILABLE


@click.group()
def release() -> None:
    """Pin what each environment runs (serving.releases) and move its MLflow alias.

    A release is a pull request: `pin --pr` edits diva.yaml in place, recompiles the
    overlays, runs the gate and opens it. `candidate` sets the stage-4 alias. Exit 0
    done, 1 invalid spec / gate refused / no such model version / no candidate run,
    2 usage error, 3 a generated file was edited by hand, 4 MLflow unavailable.
    """


@release.command()
@click.argument("environment")
@SPEC_OPTION
def show(environment: str, spec: Path) -> None:
    """ENVIRONMENT's release as key=value lines (the release workflow appends them to
    $GITHUB_OUTPUT): environment, alias, model_version, image_digest, image and
    needs_image (a version is pinned without a digest)."""
    from diva.lifecycle.releases import show as facts

    root, name = project_root(spec)
    for key, value in facts(root, name, environment):
        click.echo(f"{key}={value}")


@release.command()
@click.argument("environment")
@SPEC_OPTION
@click.option(
    "--model-version",
    type=click.IntRange(min=1),
    metavar="N",
    help="The registered model version (default: the previous environment's).",
)
@click.option(
    "--digest",
    metavar="sha256:…",
    help="The serving image's digest (default: one already pushed for that version).",
)
@click.option("--pr", is_flag=True, help="Branch, gate, commit, push and open a pull request.")
@click.option("--draft", is_flag=True, help="With --pr: open a draft even if the gate fails.")
@click.option("--remote", default="origin", show_default=True, help="With --pr: where to push.")
@click.option("--base", metavar="BRANCH", help="With --pr: the target branch (default: current).")
def pin(
    environment: str,
    spec: Path,
    model_version: int | None,
    digest: str | None,
    pr: bool,
    draft: bool,
    remote: str,
    base: str | None,
) -> None:
    """Set serving.releases.ENVIRONMENT in diva.yaml and recompile.

    Only the release's values change in the file (comments and formatting stay). A
    pinned digest is recorded as the serving image in diva.evidence.json. With --pr the
    change goes on a branch diva/release-ENV-vN[-DIGEST], the gate runs (the release
    checks: version registered, targets met, image served), and the pull request is
    opened with `gh` — refused (exit 1, nothing committed) when the gate fails.
    """
    from diva.compiler.pipeline import load_project
    from diva.errors import UsageError
    from diva.lifecycle.proposals.pin import branch_name, resolve
    from diva.lifecycle.proposals.pin import pin as run_pin
    from diva.lifecycle.proposals.pull_request import (
        GateRefused,
        Proposal,
        current_branch,
        next_steps,
    )
    from diva.lifecycle.releases import checked_environment

    if (draft or base) and not pr:
        raise UsageError("--draft and --base go with --pr")
    root, name = project_root(spec)
    _, project = load_project(root, name)
    pinned = resolve(
        root, project, checked_environment(project, environment), model_version, digest
    )
    for note in pinned.notes:
        say(note)
    proposal = (
        Proposal(root, name, branch_name(pinned), base or current_branch(root), remote, draft)
        if pr
        else None
    )
    try:
        outcome = run_pin(root, name, pinned, proposal)
    except GateRefused as err:
        click.echo(str(err))
        click.secho(
            "release refused: the gate fails (use --draft to open it anyway)", fg="red", err=True
        )
        sys.exit(EXIT_INVALID)
    image = pinned.image_digest or f"tag v{pinned.model_version} (no digest)"
    click.echo(f"pinned {environment}: model version {pinned.model_version}, image {image}")
    for line in next_steps(outcome, remote) if outcome else []:
        click.echo(line)
    if outcome and outcome.pr_problem:  # gh is there but failed: CI must notice
        sys.exit(EXIT_UNAVAILABLE)


@release.command()
@click.argument("environments", nargs=-1, metavar="[ENVIRONMENT]...")
@SPEC_OPTION
def alias(environments: tuple[str, ...], spec: Path) -> None:
    """Point each environment's MLflow alias at its pinned model version.

    The last environment (production) carries `champion` (monitoring.champion), every
    other one an alias of its own name. Without ENVIRONMENT: every environment that
    pins a release. Every version is checked before any alias moves.
    """
    from diva.lifecycle.proposals.aliases import move_aliases

    root, name = project_root(spec)
    moved = move_aliases(root, name, list(environments))
    if not moved:
        click.echo("no environment pins a release: nothing to do")
    for item in moved:
        if item.before == item.version:
            change = "already on"
        else:
            change = f"moved from version {item.before} to" if item.before else "set to"
        click.echo(f"{item.environment}: alias {item.alias} {change} version {item.version}")


@release.command()
@click.argument("version", required=False, type=click.IntRange(min=1))
@click.option("--dry-run", is_flag=True, help="Show the choice; move no alias.")
@SPEC_OPTION
def candidate(version: int | None, dry_run: bool, spec: Path) -> None:
    """Set the MLflow alias `candidate` that stage 4 requires (model.candidate).

    Without VERSION: the version registered by the best run in the standardized image
    on the large dataset (the run the gate judges: fewest missed large-scale targets,
    then the best value of the first target's metric), which must meet every target;
    its metrics against the targets are shown. With VERSION: that registered version,
    once MLflow confirms it exists. Exit 0 set (or already set, or --dry-run),
    1 no run qualifies or no such version (nothing changed), 2 usage error,
    4 MLflow unavailable.
    """
    from diva.lifecycle.proposals.candidate import candidate as choose

    root, name = project_root(spec)
    choice = choose(root, name, version, dry_run=dry_run)
    if choice.run is not None:
        click.echo(f"best run in the standardized image on the large dataset: {choice.run.run_id}")
        for line in choice.judged() or ["no large-scale targets declared"]:
            click.echo(f"  {line}")
        click.echo(f"it registered version {choice.version} of model {choice.model}")
    if choice.expected is not None:
        say(
            f"note: model.candidate expects version {choice.expected} "
            "(the best run's in the standardized image on the large dataset)"
        )
    click.echo(_moved(choice.before, choice.version, dry_run))


def _moved(before: str | None, version: str, dry_run: bool) -> str:
    if before == version:
        return f"alias candidate already on version {version}"
    if dry_run:
        change = "would be set to" if before is None else f"would move from version {before} to"
        return f"alias candidate {change} version {version} (dry run: nothing changed)"
    change = "set to" if before is None else f"moved from version {before} to"
    return f"alias candidate {change} version {version}"


@release.command()
@click.argument("environments", nargs=-1, metavar="[ENVIRONMENT]...")
@click.option(
    "--ratify",
    is_flag=True,
    help="For each alias moved outside a pull request, open a draft pull request that "
    "pins its version (it goes through the gate and the release's approvals).",
)
@click.option("--remote", default="origin", show_default=True, help="Git remote to push to.")
@click.option(
    "--base", metavar="BRANCH", help="With --ratify: the target branch (default: current)."
)
@SPEC_OPTION
def verify(
    environments: tuple[str, ...], ratify: bool, remote: str, base: str | None, spec: Path
) -> None:
    """Check that each environment's MLflow alias carries the version its release pins.

    An alias moved in MLflow's UI or API puts a model into production without a pull
    request, a gate or an approval. Compares every alias (`champion` for production)
    with serving.releases; without ENVIRONMENT, every environment that pins a release.
    With --ratify, a moved alias's version is proposed as the new pin (branch
    diva/release-ENV-vN); to undo the move instead, `diva release alias ENV` points the
    alias back at the pin. Exit 0 all as pinned, 1 an alias moved, 4 MLflow unreachable.
    """
    from diva.errors import UsageError
    from diva.lifecycle.proposals.pull_request import current_branch, next_steps, require_clean
    from diva.lifecycle.proposals.verify import ratify as open_ratification
    from diva.lifecycle.proposals.verify import verify as check_aliases

    if base and not ratify:
        raise UsageError("--base goes with --ratify")
    root, name = project_root(spec)
    found = check_aliases(root, name, list(environments))
    if not found:
        click.echo("no environment pins a release (serving.releases): nothing to compare")
    for checked in found:
        click.echo(("  ok    " if checked.holds else "  MOVED ") + checked.describe())
    moved = [checked for checked in found if not checked.holds]
    if moved and ratify:
        require_clean(root)
        target = base or current_branch(root)
        for checked in moved:
            for line in next_steps(open_ratification(root, name, checked, target, remote), remote):
                click.echo(line)
    if moved:
        click.secho(
            f"{len(moved)} alias(es) moved outside a pull request: ratify by pull request "
            "(--ratify) or restore with `diva release alias`",
            fg="red",
            err=True,
        )
        sys.exit(EXIT_INVALID)


COMMANDS = (release,)
