"""The ``diva`` command group: turns user-facing errors into exit codes, registers commands.

Exit codes (docs/cli.md): 0 success, 1 invalid spec or failed check, 2 usage error,
3 refused to overwrite an edited file, 4 a service (Docker engine, registry, MLflow) unavailable.
Only :class:`~diva.errors.DivaError` is turned into a message; anything else is a bug
and keeps its traceback. Heavy libraries (mlflow, dvc, docker) are never imported here.
"""

from __future__ import annotations

from typing import Any

import click

from diva import __version__
from diva.cli import (
    compile,
    consume,
    doctor,
    history,
    images,
    lifecycle,
    monitor,
    release,
    scaffold,
    spec,
)
from diva.errors import DivaError


class _DivaGroup(click.Group):
    """Turns user-facing errors into a red message and their documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DivaError as err:
            click.secho(f"diva: error: {err}", fg="red", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=_DivaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="diva")
def cli() -> None:
    """diva — the DIVA model lifecycle as code.

    A project describes itself in one file, diva.yaml. diva validates it
    (every problem at once, with line:column), explains where the project stands
    in the six DIVA stages, and publishes the spec's JSON Schema for editors.
    """


for _module in (
    spec,
    compile,
    lifecycle,
    history,
    doctor,
    images,
    release,
    consume,
    scaffold,
    monitor,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="diva")
