"""The ``diva`` command line: parse options, call the library, map errors to exit codes.

Exit codes (docs/cli.md): 0 success, 1 invalid spec or failed check, 2 usage error,
3 refused to overwrite an edited file, 4 a service (Docker engine, registry, MLflow) unavailable.
Only :class:`~diva.errors.DivaError` is turned into a message; anything else is a bug
and keeps its traceback. Heavy libraries (mlflow, dvc, docker) are never imported here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from diva import __version__
from diva.errors import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    DivaError,
    Issue,
    SpecError,
    UsageError,
)

if TYPE_CHECKING:
    from diva.compiler.spec.model import Spec

SPEC_FILE = "diva.yaml"
DEFAULT_SCHEMA_PATH = Path("specs/diva.schema.json")


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


def _spec_path(path: Path) -> Path:
    return path / SPEC_FILE if path.is_dir() else path


class _Batch:
    """Loads several specs, remembering which were invalid and which unreadable.

    One unreadable path never hides the problems of the others; it only decides the
    exit code at the end (usage error before invalid spec).
    """

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self.paths = [_spec_path(path) for path in paths or (Path(SPEC_FILE),)]
        self.issues: list[Issue] = []
        self.unreadable = False

    def load(self) -> Iterator[tuple[Path, Spec | list[Issue]]]:
        from diva.compiler.validate import load_spec

        for path in self.paths:
            try:
                yield path, load_spec(path)
            except SpecError as err:
                self.issues.extend(err.issues)
                yield path, err.issues
            except UsageError as err:
                click.secho(f"diva: error: {err}", fg="red", err=True)
                self.unreadable = True

    def exit(self) -> None:
        if self.unreadable:
            sys.exit(EXIT_USAGE)
        if self.issues:
            sys.exit(EXIT_INVALID)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (a list of issues) for editors and CI.",
)
def validate(paths: tuple[Path, ...], output: str) -> None:
    """Check diva.yaml files and report every problem with line:column.

    PATHS are spec files or directories holding a diva.yaml (default: ./diva.yaml).
    Exits 0 when every file is valid, 1 when any is invalid, 2 on usage errors
    (an unreadable path is reported and the other paths are still checked).
    """
    from diva.stages import stage

    batch = _Batch(paths)
    for path, result in batch.load():
        if output == "json":
            continue
        if isinstance(result, list):
            _echo_invalid(path, result)
        else:
            click.echo(f"{path}: valid ({result.project.name}, {stage(result.stage)})")
    if output == "json":
        click.echo(json.dumps([issue.as_dict() for issue in batch.issues], indent=2))
    batch.exit()


def _echo_invalid(path: Path, issues: list[Issue]) -> None:
    for issue in issues:
        click.echo(issue.render())
    count = len(issues)
    noun = "problem" if count == 1 else "problems"
    click.secho(f"{path}: {count} {noun}", fg="red", err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def explain(paths: tuple[Path, ...]) -> None:
    """Summarize diva.yaml files: stage, datasets, targets, and what comes next.

    PATHS are spec files or directories holding a diva.yaml (default: ./diva.yaml).
    Exit codes as for validate.
    """
    from diva.compiler.explain import explain_spec

    batch = _Batch(paths)
    shown = 0
    for path, result in batch.load():
        if isinstance(result, list):
            _echo_invalid(path, result)
            continue
        click.echo(("\n" if shown else "") + explain_spec(result))
        shown += 1
    batch.exit()


@cli.command(name="compile")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write here instead of next to each spec (one folder per spec when several).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--dry-run", is_flag=True, help="Write nothing; show what would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; show unified diffs.")
@click.option("--force", is_flag=True, help="Overwrite files edited by hand or not made by diva.")
@click.option("-v", "--verbose", is_flag=True, help="List unchanged files too.")
def compile_command(
    paths: tuple[Path, ...],
    out: Path | None,
    check: bool,
    dry_run: bool,
    show_diff: bool,
    force: bool,
    verbose: bool,
) -> None:
    """Generate the files the project's stage needs (dvc.yaml, MLflow config, ...).

    PATHS are spec files or directories holding a diva.yaml (default: ./diva.yaml).
    Files are written next to each spec unless --out is given. diva refuses (exit 3,
    nothing written) to overwrite a generated file edited by hand or a file it did not
    generate, unless --force. Exit codes: 0 done, 1 invalid spec, drift (--check) or a
    file that could not be written (nothing changed), 2 usage error (also a bad
    DIVA_LOCK_TIMEOUT), 3 refused, 4 another diva compile kept an output folder locked
    longer than DIVA_LOCK_TIMEOUT seconds (default 60).
    """
    from diva.cli.compile import Mode, run_compile
    from diva.compiler.pipeline import jobs_for

    if sum((check, dry_run, show_diff)) > 1:
        raise UsageError("use only one of --check, --dry-run and --diff")
    mode: Mode = "check" if check else "dry-run" if dry_run else "diff" if show_diff else "write"
    jobs = jobs_for(_Batch(paths).paths, out)
    sys.exit(run_compile(jobs, mode=mode, force=force, verbose=verbose))


def project_root(spec: Path) -> tuple[Path, str]:
    path = _spec_path(spec)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    return path.parent.resolve(), path.name


@cli.command()
@click.option(
    "--base",
    default="HEAD",
    show_default=True,
    help="Git ref of the target branch, e.g. origin/main.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--spec", type=click.Path(path_type=Path), default=Path(SPEC_FILE), show_default=True)
def gate(base: str, output: str, spec: Path) -> None:
    """Gate a pull request: movement rules, the target stage's checkpoints, drift.

    Compares the spec's stage at --base with the working tree, applies the movement
    rules, evaluates the entry criteria of the new stage against the evidence (git,
    DVC, MLflow or diva.evidence.json), validates the spec and checks generated files.
    Markdown is also appended to $GITHUB_STEP_SUMMARY when set.
    Exit 0 pass, 1 fail, 2 error.
    """
    import os

    from diva.lifecycle.evidence import UnreachableError
    from diva.lifecycle.gate import RENDERERS, as_markdown, evaluate

    root, name = project_root(spec)
    try:
        report = evaluate(root, base, name)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    click.echo(RENDERERS[output](report), nl=output != "markdown")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as stream:
            stream.write(as_markdown(report))
    sys.exit(EXIT_OK if report.passed else EXIT_INVALID)


@cli.command()
@click.option("--spec", type=click.Path(path_type=Path), default=Path(SPEC_FILE), show_default=True)
def status(spec: Path) -> None:
    """Where the project stands: stage, the next stage's checkpoints, cycles used."""
    from diva.lifecycle.evidence import UnreachableError
    from diva.lifecycle.gate import next_stage
    from diva.stages import STAGES, stage

    root, name = project_root(spec)
    try:
        report, cycles = next_stage(root, name)
    except UnreachableError as err:
        raise UsageError(str(err)) from err
    except SpecError as err:
        _echo_invalid(root / name, err.issues)
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


@cli.command()
@click.option("--spec", type=click.Path(path_type=Path), default=Path(SPEC_FILE), show_default=True)
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


@cli.command()
@click.argument("target", required=False)
@click.option("--spec", type=click.Path(path_type=Path), default=Path(SPEC_FILE), show_default=True)
@click.option("--draft", is_flag=True, help="Commit and open a draft PR even if the gate fails.")
@click.option("--remote", default="origin", show_default=True, help="Git remote to push to.")
def promote(target: str | None, spec: Path, draft: bool, remote: str) -> None:
    """Ask for the next stage (or TARGET, e.g. 3 or large) by pull request.

    Creates a branch, edits the stage in diva.yaml (comments and formatting kept),
    recompiles, records MLflow evidence CI cannot reach in diva.evidence.json, runs the
    gate, commits, pushes, and opens the PR with `gh` when it is installed and logged
    in. Refuses (exit 1, nothing committed) when the gate fails, unless --draft.
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


@cli.command()
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


def _register_commands() -> None:
    from diva.cli import consume as cli_consume
    from diva.cli import images as cli_images
    from diva.cli import monitor as cli_monitor
    from diva.cli import release as cli_release
    from diva.cli import scaffold as cli_scaffold

    commands = (cli_images, cli_release, cli_consume, cli_scaffold, cli_monitor)
    for command in (command for module in commands for command in module.COMMANDS):
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="diva")
