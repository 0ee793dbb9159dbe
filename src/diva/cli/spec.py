"""The spec commands: ``diva validate``, ``diva explain``, ``diva schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from diva.cli.common import Batch, echo_invalid
from diva.errors import EXIT_INVALID, UsageError

DEFAULT_SCHEMA_PATH = Path("specs/diva.schema.json")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (a list of issues, each with its severity) for editors and CI.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Treat warnings as problems: exit 1 when any spec has one.",
)
def validate(paths: tuple[Path, ...], output: str, strict: bool) -> None:
    """Check diva.yaml files and report every problem with line:column.

    PATHS are spec files or directories holding a diva.yaml (default: ./diva.yaml).
    A valid spec may still get warnings: from stage 2, a DVC remote or an MLflow store
    that the CI gate can never read (a folder or SQLite file on the author's machine).
    Exits 0 when every file is valid, 1 when any is invalid (or, with --strict, has a
    warning), 2 on usage errors (an unreadable path is reported and the other paths
    are still checked).
    """
    from diva.stages import stage

    batch = Batch(paths)
    for path, result in batch.load():
        if output == "json":
            continue
        if isinstance(result, list):
            echo_invalid(path, result)
            continue
        warnings = batch.warnings.get(path, [])
        for warning in warnings:
            click.echo(warning.render())
        noted = f", {len(warnings)} warning{'s' if len(warnings) > 1 else ''}" if warnings else ""
        click.echo(f"{path}: valid ({result.project.name}, {stage(result.stage)}){noted}")
    if output == "json":
        found = batch.issues + [issue for issues in batch.warnings.values() for issue in issues]
        click.echo(json.dumps([issue.as_dict() for issue in found], indent=2))
    if strict and any(batch.warnings.values()) and not batch.unreadable:
        sys.exit(EXIT_INVALID)
    batch.exit()


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def explain(paths: tuple[Path, ...]) -> None:
    """Summarize diva.yaml files: stage, datasets, targets, and what comes next.

    PATHS are spec files or directories holding a diva.yaml (default: ./diva.yaml).
    Exit codes as for validate.
    """
    from diva.compiler.explain import explain_spec

    batch = Batch(paths)
    shown = 0
    for path, result in batch.load():
        if isinstance(result, list):
            echo_invalid(path, result)
            continue
        click.echo(("\n" if shown else "") + explain_spec(result))
        shown += 1
    batch.exit()


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=DEFAULT_SCHEMA_PATH,
    show_default=True,
    help="Where to write the schema; '-' prints it.",
)
@click.option("--check", is_flag=True, help="Exit 1 if the file differs from the model.")
def schema(output: Path, check: bool) -> None:
    """Write (or --check) the JSON Schema of diva.yaml, for editors and CI."""
    from diva.compiler.spec.schema import render_schema
    from diva.compiler.writer import write_text_atomic

    text = render_schema()
    to_stdout = str(output) == "-"
    if check and to_stdout:
        raise UsageError("--check compares with a file; give it with -o PATH")
    if to_stdout:
        click.echo(text, nl=False)
        return
    if check:
        _check_schema(output, text)
        return
    if not output.parent.is_dir():
        raise UsageError(f"{output.parent}: no such directory")
    write_text_atomic(output, text)
    click.echo(f"wrote {output}")


def _check_schema(path: Path, text: str) -> None:
    if not path.is_file():
        click.secho(f"{path} does not exist; run 'diva schema -o {path}'", fg="red", err=True)
        sys.exit(EXIT_INVALID)
    if path.read_text(encoding="utf-8") != text:
        click.secho(f"{path} is out of date; run 'diva schema -o {path}'", fg="red", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"{path} is up to date")


COMMANDS = (validate, explain, schema)
