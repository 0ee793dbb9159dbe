"""``diva history``: every stage move and release pin, who approved it, the verdict."""

from __future__ import annotations

from pathlib import Path

import click

from diva.cli.common import project_root, spec_option
from diva.errors import UsageError


@click.command()
@click.option(
    "--at",
    "moment",
    metavar="TIME",
    default=None,
    help="What held at TIME (ISO 8601, e.g. 2026-05-01T12:00Z; no zone: UTC): the stage "
    "and each environment's model version and image digest, and who approved them.",
)
@click.option("--env", "environment", default=None, help="Only the releases of this environment.")
@click.option(
    "--branch",
    default="HEAD",
    show_default=True,
    help="The branch (any git ref) whose first-parent line is the history, e.g. origin/main.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@spec_option()
def history(
    moment: str | None, environment: str | None, branch: str, output: str, spec: Path
) -> None:
    """The history of the project: every stage move and release pin on the branch.

    From git alone: when each landed (the merge's committer date), the merge commit, and
    from -> to. Who approved, the gate's verdict and the evidence digests it saw come
    from the verdict the record workflow keeps as a git note (refs/notes/diva; fetch it
    with `git fetch origin refs/notes/diva:refs/notes/diva`); a move without one says
    "no record". Exit 0, 2 on a bad --at or an unknown branch.
    """
    from diva.lifecycle import history as project_history
    from diva.lifecycle.evidence import UnreachableError

    root, name = project_root(spec)
    when = project_history.parse_time(moment) if moment is not None else None
    try:
        found = project_history.entries(root, branch, name)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    state = project_history.at(found, when) if when is not None else None
    if environment is not None:
        found = project_history.for_environment(found, environment)
    if output == "json":
        click.echo(project_history.as_json_text(found, state), nl=False)
    elif state is not None:
        click.echo(project_history.state_text(state, environment), nl=False)
    else:
        click.echo(project_history.as_table(found), nl=False)


COMMANDS = (history,)
