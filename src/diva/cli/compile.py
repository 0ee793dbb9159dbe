"""Running compile jobs and reporting per file, as the CLI shows it."""

from __future__ import annotations

import contextlib
import difflib
import os
from collections import Counter
from typing import Literal

import click

from diva.compiler.folderlock import DEFAULT_LOCK_TIMEOUT, exclusive
from diva.compiler.pipeline import Job, Output, plan_output, render_job
from diva.compiler.writer import Change, Plan, apply_all
from diva.errors import EXIT_INVALID, EXIT_OK, SpecError, UsageError

Mode = Literal["write", "check", "dry-run", "diff"]
_COLORS = {"create": "green", "update": "yellow", "delete": "red", "conflict": "red"}
#: Seconds a compile waits for another one writing the same output folder.
LOCK_TIMEOUT_VARIABLE = "DIVA_LOCK_TIMEOUT"


def run_compile(jobs: list[Job], *, mode: Mode, force: bool, verbose: bool = False) -> int:
    """Render every job, then plan and write (or check, or show); returns the exit code.

    Writing plans and writes under the lock of every output folder, so that what was
    planned is still what is on disk; the other modes only read and take no lock.
    """
    outputs: list[tuple[Job, Output]] = []
    invalid = False
    for job in jobs:
        try:
            outputs.append((job, render_job(job)))
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
    def notify(message: str) -> None:
        click.secho(f"diva: {message}", fg="yellow", err=True)

    return exclusive([job.out for job in jobs], timeout=lock_timeout(), notify=notify)


def lock_timeout() -> float:
    """``DIVA_LOCK_TIMEOUT`` in seconds, or the default."""
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
