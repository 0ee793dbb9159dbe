"""``diva compile``: running the compile jobs and reporting per file."""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from diva.cli.common import SPEC_OPTION, Batch, project_root, say
from diva.errors import EXIT_INVALID, EXIT_OK, SpecError, UsageError

if TYPE_CHECKING:
    from diva.compiler.pipeline import Job, Output
    from diva.compiler.writer import Change, Plan

Mode = Literal["write", "check", "dry-run", "diff"]
_COLORS = {"create": "green", "update": "yellow", "delete": "red", "conflict": "red"}
#: Seconds a compile waits for another one writing the same output folder.
LOCK_TIMEOUT_VARIABLE = "DIVA_LOCK_TIMEOUT"


def run_compile(jobs: list[Job], *, mode: Mode, force: bool, verbose: bool = False) -> int:
    """Render every job, then plan and write (or check, or show); returns the exit code.

    Writing plans and writes under the lock of every output folder, so that what was
    planned is still what is on disk; the other modes only read and take no lock.
    """
    # the compiler is imported when a compile runs, not when diva starts (start-up time)
    from diva.compiler.pipeline import plan_output, render_job
    from diva.compiler.writer import apply_all

    outputs: list[tuple[Job, Output]] = []
    invalid = False
    for job in jobs:
        try:
            outputs.append((job, render_job(job, check_lock=True)))
        except SpecError as err:
            for issue in err.issues:
                click.echo(issue.render())
            invalid = True
    if invalid:
        return EXIT_INVALID
    with _locked(jobs) if mode == "write" else contextlib.nullcontext():
        plans = [(job, plan_output(job, output)) for job, output in outputs]
        if mode == "write":
            apply_all([plan for _, plan in plans], force=force)
    drift = False
    for job, plan in plans:
        _report(job, plan, mode, force, verbose)
        drift = drift or plan.drifted
    if mode == "check" and drift:
        click.secho("generated files are out of date; run `diva compile`", fg="red", err=True)
        return EXIT_INVALID
    return EXIT_OK


def _locked(jobs: list[Job]) -> contextlib.AbstractContextManager[None]:
    from diva.compiler.folderlock import exclusive

    def notify(message: str) -> None:
        click.secho(f"diva: {message}", fg="yellow", err=True)

    return exclusive([job.out for job in jobs], timeout=lock_timeout(), notify=notify)


def lock_timeout() -> float:
    """``DIVA_LOCK_TIMEOUT`` in seconds, or the default."""
    from diva.compiler.folderlock import DEFAULT_LOCK_TIMEOUT

    value = os.environ.get(LOCK_TIMEOUT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(f"{LOCK_TIMEOUT_VARIABLE}={value!r}: expected a number of seconds")
    return seconds


def _action(change: Change, forced: bool) -> str:
    """What happens to the file; a forced conflict overwrites (or keeps a stale edit)."""
    if change.action == "conflict" and forced:
        return "overwrite" if change.new is not None else "keep"
    return change.action


def _report(job: Job, plan: Plan, mode: Mode, force: bool, verbose: bool) -> None:
    forced = force and mode == "write"
    verb = "" if mode == "write" else "would "
    for change in plan.changes if verbose else plan.pending:
        action = _action(change, forced)
        reason = f" ({change.reason})" if change.reason else ""
        label = click.style(f"{action:>9}", fg=_COLORS.get(change.action))
        click.echo(f"{label}  {_shown(job, change.path)}{reason}")
        if mode == "diff":
            _echo_diff(job, change.path, change.old, change.new)
    counts = Counter(_action(change, forced) for change in plan.changes)
    summary = ", ".join(f"{count} {action}" for action, count in sorted(counts.items()))
    click.echo(f"{job.out}/: {verb}{summary or 'nothing to generate'}")


def _shown(job: Job, path: str) -> str:
    return str(job.out / path)


def _echo_diff(job: Job, path: str, old: str | None, new: str | None) -> None:
    name = _shown(job, path)
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{name}" if old is not None else "/dev/null",
        tofile=f"b/{name}" if new is not None else "/dev/null",
    )
    click.echo("".join(lines), nl=False)


@click.command(name="compile")
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
    from diva.compiler.pipeline import jobs_for

    if sum((check, dry_run, show_diff)) > 1:
        raise UsageError("use only one of --check, --dry-run and --diff")
    mode: Mode = "check" if check else "dry-run" if dry_run else "diff" if show_diff else "write"
    jobs = jobs_for(Batch(paths).paths, out)
    sys.exit(run_compile(jobs, mode=mode, force=force, verbose=verbose))


@click.command(name="lock")
@SPEC_OPTION
def lock_command(spec: Path) -> None:
    """Write the hash lock of the gate's install (platform.install.lock).

    pip resolves diva, DVC with the remote's extra and MLflow's client through
    platform.install (nothing is installed) and the lock pins each with its sha256;
    the gate installs it with --require-hashes, from the base branch. Run it on the
    platform of the CI runner, and again after a new diva version or DVC remote.
    Exits 4 when pip cannot resolve (index unreachable).
    """
    from diva.compiler.ir import build
    from diva.compiler.source import read_spec
    from diva.compiler.validate import validate_document
    from diva.lifecycle.install_lock import write_lock

    root, name = project_root(spec)
    document = read_spec(root / name, name)
    project = build(validate_document(document), document.raw, name)
    say(f"resolving {project.install.lock or 'the lock'} with pip ...")
    path = write_lock(project, root)
    click.echo(f"wrote {path.relative_to(root)}")


COMMANDS = (compile_command, lock_command)
