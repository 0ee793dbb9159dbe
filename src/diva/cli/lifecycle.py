"""The stage commands: ``diva gate``, ``diva status``, ``diva log``, ``diva promote``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from diva.cli.common import (
    QUIET_OPTION,
    append_summary,
    echo_invalid,
    project_root,
    say,
    spec_option,
    steps,
)
from diva.errors import EXIT_INVALID, EXIT_OK, SpecError, UsageError


@click.command()
@click.option(
    "--base",
    default="HEAD",
    show_default=True,
    help="Git ref of the target branch, e.g. origin/main: its spec is the policy.",
)
@click.option(
    "--head",
    default="HEAD",
    show_default=True,
    help="Git ref of the commit to judge (uncommitted changes are never judged).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--pull-request",
    "number",
    type=click.IntRange(min=1),
    default=None,
    help="Count the approvals of this pull request (GitHub API; default: the pull request "
    "of the GitHub Actions event, none outside one).",
)
@click.option(
    "--repo",
    default=None,
    metavar="OWNER/NAME",
    help="Repository of --pull-request (default: $GITHUB_REPOSITORY).",
)
@click.option(
    "--record",
    is_flag=True,
    help="Keep the verdict as a git note on --head (refs/notes/diva) for `diva history`; "
    "the approvals are those of the pull request that merged it.",
)
@spec_option()
@QUIET_OPTION
def gate(
    base: str,
    head: str,
    output: str,
    number: int | None,
    repo: str | None,
    record: bool,
    spec: Path,
    quiet: bool,
) -> None:
    """Gate a pull request: movement rules, policy, the target stage's checkpoints, drift.

    Judges commit --head against --base, both read from git objects (never the working
    tree). The base's spec is the policy: its targets, cycle budgets, MLflow, DVC remote
    and image registry; a pull request that changes them may not also move the stage or
    a release. Evaluates the entry criteria of the new stage against the evidence the
    policy names (git, DVC, MLflow, the registry; diva.evidence.json only with
    platform.evidence: self-attested), validates the spec and checks generated files.
    Counts the approvals the base's `approvals` require from the pull request's reviews
    on GitHub (token: $DIVA_GATE_GITHUB_TOKEN, $GITHUB_TOKEN or $GH_TOKEN); outside a pull
    request those rows say "not checked here".
    Markdown is also appended to $GITHUB_STEP_SUMMARY when set. Each source asked is
    named on stderr as it is asked (not with --quiet).
    Exit 0 pass, 1 fail, 2 error.
    """
    from diva.lifecycle.approvals import merged_pull_source, pull_source
    from diva.lifecycle.evidence import UnreachableError
    from diva.lifecycle.gate import (
        RENDERERS,
        as_markdown,
        evaluate,
        resolve_commit,
        uncommitted,
    )
    from diva.lifecycle.history import keep

    root, name = project_root(spec)
    try:
        with steps(quiet) as notify:
            pull = pull_source(number, os.environ, repo)
            commit = resolve_commit(root, head)
            if pull is None and record:
                pull = merged_pull_source(os.environ, commit, repo)
            report = evaluate(root, base, name, commit, pull, notify)
            if record:
                notify("keeping the verdict as a git note")
                keep(root, report, commit)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    if head == "HEAD" and uncommitted(root):
        say("uncommitted changes are not judged: the gate judges the commit HEAD")
    click.echo(RENDERERS[output](report), nl=output != "markdown")
    append_summary(as_markdown(report))
    sys.exit(EXIT_OK if report.passed else EXIT_INVALID)


@click.command()
@spec_option()
@QUIET_OPTION
def status(spec: Path, quiet: bool) -> None:
    """Where the project stands: stage, the next stage's checkpoints, cycles used.

    Each source asked (git, MLflow, the DVC remote per dataset, the image registry) is
    named on stderr as it is asked (not with --quiet)."""
    from diva.lifecycle.evidence import UnreachableError
    from diva.lifecycle.gate import next_stage
    from diva.stages import STAGES, stage

    root, name = project_root(spec)
    try:
        with steps(quiet) as notify:
            report, cycles = next_stage(root, name, notify)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    except SpecError as err:
        echo_invalid(root / name, err.issues)
        sys.exit(EXIT_INVALID)
    assert report.base_stage is not None
    click.echo(f"stage: {stage(report.base_stage)}")
    used = ", ".join(
        f"{entry.key} {cycles[entry.number]}" for entry in STAGES if entry.number in cycles
    )
    click.echo(f"cycles entered: {used or 'none recorded in git'}")
    if not report.rows:
        click.echo("next: none, this is the last stage")
        return
    click.echo(f"next: {stage(report.head_stage or 0)} — its checkpoints:")
    for row in report.rows:
        click.echo(f"  {row.status:<11} {row.id:<16} {row.wording}: {row.detail}")
    if report.evidence:
        click.echo(f"evidence: {report.evidence}")


@click.command()
@spec_option()
def log(spec: Path) -> None:
    """The stage history from git: date, commit, from -> to, who."""
    from diva.lifecycle.evidence import UnreachableError
    from diva.lifecycle.evidence.git import stage_history

    root, name = project_root(spec)
    try:
        history = stage_history(root, "HEAD", name)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    for change in history:
        before = "new" if change.before is None else str(change.before)
        click.echo(
            f"{change.date}  {change.commit[:10]}  {before} -> {change.after}  {change.author}"
        )


@click.command()
@click.argument("target", required=False)
@spec_option()
@click.option("--draft", is_flag=True, help="Commit and open a draft PR even if the gate fails.")
@click.option("--remote", default="origin", show_default=True, help="Git remote to push to.")
def promote(target: str | None, spec: Path, draft: bool, remote: str) -> None:
    """Ask for the next stage (or TARGET, e.g. 3 or large) by pull request.

    Makes the branch diva/stage-N-name (diva/stage-N-name-C for cycle C of a stage
    entered before), edits the stage in diva.yaml (comments and formatting kept),
    recompiles, records MLflow evidence CI cannot reach in diva.evidence.json, runs the
    gate, commits, pushes, and opens the PR with `gh` when it is installed and logged
    in. Run again, it rebuilds the branch on the current commit, pushes it with
    --force-with-lease and refreshes the open PR. Refuses (exit 1) when the gate fails,
    unless --draft; exit 2 for a dirty tree or no such remote, 4 when the push fails.
    Whenever it refuses or fails, the repository is left as it was.
    """
    from diva.lifecycle.proposals.promote import PromotionRefused
    from diva.lifecycle.proposals.promote import promote as run_promotion
    from diva.lifecycle.proposals.pull_request import next_steps

    root, name = project_root(spec)
    try:
        outcome = run_promotion(root, target, spec_file=name, draft=draft, remote=remote)
    except PromotionRefused as err:
        click.echo(str(err))
        click.secho(
            "promotion refused: the gate fails (use --draft to open it anyway)", fg="red", err=True
        )
        sys.exit(EXIT_INVALID)
    for line in next_steps(outcome, remote):
        click.echo(line)


COMMANDS = (gate, status, log, promote)
