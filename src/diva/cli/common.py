"""What the command modules share: the --spec option, messages, progress, the project
root, the loading of several specs, the job summary. Imports nothing heavy: every command imports
the library it runs inside its function (start-up time of ``diva validate``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from diva.contract import SPEC_FILE
from diva.errors import EXIT_INVALID, EXIT_USAGE, Issue, SpecError, UsageError
from diva.progress import Notify, silent

if TYPE_CHECKING:
    from diva.compiler.spec.model import Spec

#: The help of --spec where the commands say more than its default (images, releases).
SPEC_HELP = "The project's spec; the project root is its folder."


def spec_option(help: str | None = None) -> Callable[[Any], Any]:
    """``--spec PATH`` (default ``diva.yaml``), the option of every project command."""
    return click.option(
        "--spec",
        type=click.Path(path_type=Path),
        default=Path(SPEC_FILE),
        show_default=True,
        help=help,
    )


#: ``--spec`` with :data:`SPEC_HELP`, shared by the image and release commands.
SPEC_OPTION = spec_option(SPEC_HELP)


def say(message: str) -> None:
    """A progress message of diva's own, on stderr (stdout stays the command's output)."""
    click.secho(f"diva: {message}", bold=True, err=True)


def progress(quiet: bool) -> Callable[[str], None] | None:
    """Where a tool's progress lines go: stderr, or nowhere with --quiet."""
    return None if quiet else (lambda line: click.echo(line, err=True))


#: ``-q/--quiet`` of the commands that tell their slow steps (:func:`steps`).
QUIET_OPTION = click.option(
    "-q", "--quiet", is_flag=True, help="Do not show progress on stderr (errors still show)."
)


@contextmanager
def steps(quiet: bool = False) -> Iterator[Notify]:
    """Where a command's slow steps are told (:mod:`diva.progress`): a spinner line on
    stderr when it is a terminal, else one plain line each (CI, pipes: no ANSI codes),
    nowhere with --quiet. Never on stdout; the spinner is gone when the block ends."""
    if quiet:
        yield silent
    elif not (sys.stderr.isatty() and os.environ.get("TERM") != "dumb"):
        yield _lines()
    else:
        with _Spinner() as spinner:
            yield spinner.update


def _lines() -> Notify:
    """One line per step; a step asked again right away (the runs, by the next
    checkpoint) is not said twice."""
    last = [""]

    def notify(step: str) -> None:
        if step != last[0]:
            click.echo(f"diva: {step} ...", err=True)
            last[0] = step

    return notify


class _Spinner:
    """rich's live display of the current step on stderr, cleared when it stops. It
    takes over what is written to stderr meanwhile (shown above it), never stdout."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner = Spinner("dots", "diva: starting ...")
        self._live = Live(
            self._spinner,
            console=Console(stderr=True),
            transient=True,
            redirect_stdout=False,
            refresh_per_second=12.5,
        )

    def __enter__(self) -> _Spinner:
        self._live.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._live.stop()

    def update(self, step: str) -> None:
        from rich.text import Text  # a dataset or URL is no markup

        self._spinner.update(text=Text(f"diva: {step} ..."))


def append_summary(text: str) -> None:
    """Append ``text`` to the GitHub Actions job summary, when there is one."""
    import os

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as stream:
            stream.write(text)


def spec_path(path: Path) -> Path:
    return path / SPEC_FILE if path.is_dir() else path


class Batch:
    """Loads several specs, remembering which were invalid and which unreadable.

    One unreadable path never hides the problems of the others; it only decides the
    exit code at the end (usage error before invalid spec).
    """

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self.paths = [spec_path(path) for path in paths or (Path(SPEC_FILE),)]
        self.issues: list[Issue] = []
        #: the warnings of the valid specs, per spec (``diva validate`` shows them)
        self.warnings: dict[Path, list[Issue]] = {}
        self.unreadable = False

    def load(self) -> Iterator[tuple[Path, Spec | list[Issue]]]:
        from diva.compiler.validate import check_spec

        for path in self.paths:
            try:
                spec, self.warnings[path] = check_spec(path)
                yield path, spec
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


def echo_invalid(path: Path, issues: list[Issue]) -> None:
    for issue in issues:
        click.echo(issue.render())
    count = len(issues)
    noun = "problem" if count == 1 else "problems"
    click.secho(f"{path}: {count} {noun}", fg="red", err=True)


def project_root(spec: Path) -> tuple[Path, str]:
    from diva.compiler.source import check_regular  # ruamel: not for every --help

    path = spec_path(spec)
    check_regular(path, str(path))  # a FIFO or a device would block or never end
    return path.parent.resolve(), path.name
