"""``diva new`` and ``diva quickstart``: a new project from the template, and the whole
lifecycle walked on one, on embedded defaults.

Registered on the main group by :mod:`diva.cli`. cookiecutter, DVC and MLflow are
imported only when the commands run.
"""

from __future__ import annotations

from pathlib import Path

import click

from diva.errors import UsageError

ANSWER_KEYS = (
    "project_name, project_title, description, framework, task, serving_pattern, "
    "modelers, data_curators, quality_managers, model_engineers, app_developers, "
    "ide_developers, python_version, module_name"
)


def _answers(pairs: tuple[str, ...]) -> dict[str, str]:
    answers = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE")
        answers[key.strip()] = value
    return answers


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-s",
    "--set",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"Answer a template question (repeatable). Keys: {ANSWER_KEYS}.",
)
@click.option("--no-input", is_flag=True, help="Ask nothing: the --set answers, else defaults.")
def new(directory: Path | None, pairs: tuple[str, ...], no_input: bool) -> None:
    """Scaffold a new project at stage 0 from diva's cookiecutter template.

    DIRECTORY is the project folder to create (default: ./PROJECT_NAME); it must not
    exist or be empty, and its name is the default project name. The project gets a
    commented diva.yaml, a source package with prepare/train/evaluate steps, a
    synthetic-data generator, tests, a noxfile and README; then git init, dvc init and
    diva compile run in it. Invalid answers exit 1 and create nothing.
    The same template works with plain cookiecutter: see docs/scaffolding.md.
    """
    from diva.scaffold import new_project

    root = new_project(directory, _answers(pairs), no_input=no_input)
    click.echo(f"created {root}")
    click.echo("next: commit it, then `diva status` shows what stage 1 needs")


@click.command()
@click.argument(
    "workspace",
    required=False,
    default="diva-quickstart",
    type=click.Path(path_type=Path, file_okay=False),
)
def quickstart(workspace: Path) -> None:
    """Walk a new project through stages 0 to 3 on embedded defaults, in a few minutes.

    In WORKSPACE (default ./diva-quickstart; absent or empty): scaffold a project with
    diva new, push it to a local bare origin, and promote it stage by stage — state the
    idea, write the plan, register a synthetic dataset with DVC and run the pipeline
    into MLflow (a SQLite store) — each promotion on a pull-request branch, gated, then
    merged. Prints every gate report, the status at the end and how to open the MLflow
    UI. Needs DVC, MLflow and scikit-learn (pip install 'diva-lifecycle[quickstart]');
    exit 4 when they are missing, 1 when a step fails.
    """
    from diva.scaffold import quickstart as walker

    if workspace.exists() and (workspace.is_file() or any(workspace.iterdir())):
        raise UsageError(f"{workspace}: already exists and is not empty; give another folder")
    walk = walker.run(workspace, click.echo)
    for line in walker.closing_report(walk):
        click.echo(line)


COMMANDS = (new, quickstart)
