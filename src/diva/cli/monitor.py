"""``diva monitor``: the stage-5 monitoring run (registered on the main group by
:mod:`diva.cli`). MLflow, pandas, scipy and matplotlib are imported when it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from diva.cli.common import append_summary, project_root, spec_option
from diva.errors import EXIT_INVALID, EXIT_OK

#: What the monitor imports (import name -> PyPI name): the `monitor` extra.
MODULES = {
    "mlflow": "mlflow",
    "pandas": "pandas",
    "sklearn": "scikit-learn",
    "scipy": "scipy",
    "matplotlib": "matplotlib",
}


@click.command()
@spec_option()
@click.option(
    "--current",
    metavar="DATASET",
    help="Dataset with the newest data (default: monitoring.current_dataset, else the "
    "reference dataset: no drift).",
)
@click.option(
    "--metrics",
    "slo_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Observed serving metrics, JSON: {slo name: number or Prometheus query result}.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("monitoring-report"),
    show_default=True,
    help="Folder for report.json, report.md and report.html.",
)
@click.option("--propose", is_flag=True, help="Open a pull request pinning a winning challenger.")
@click.option(
    "--remote", default="origin", show_default=True, help="With --propose: where to push."
)
def monitor(
    spec: Path, current: str | None, slo_file: Path | None, out: Path, propose: bool, remote: str
) -> None:
    """Compare the champion with the challengers, measure drift, check the SLOs.

    Loads the MLflow versions carrying monitoring.champion and monitoring.challengers,
    evaluates each on the current data (the spec's targets' metrics), measures every
    input feature's drift against monitoring.reference_dataset (PSI or KS, threshold
    from monitoring.drift), and checks the SLOs against --metrics. Writes the reports
    (JSON, Markdown, HTML with plots), logs a monitoring run to MLflow, and appends the
    Markdown to $GITHUB_STEP_SUMMARY. When a challenger beats the champion by
    monitoring.margin on every target and nothing drifted, --propose opens the pull
    request that pins its version in production. Exit 0 healthy, 1 drift or a breached
    SLO, 2 usage error, 4 MLflow or the data unreachable.
    """
    from diva.extras import require

    require("diva monitor", "monitor", MODULES)
    from diva.compiler.validate import load_spec
    from diva.monitor import publish
    from diva.monitor.report import as_markdown
    from diva.monitor.run import monitor as run_monitor

    root, name = project_root(spec)
    result = run_monitor(root, load_spec(root / name), current, slo_file)
    click.echo(as_markdown(result))
    if propose and result.verdict.proposal is not None:
        _propose(root, name, int(result.verdict.proposal.version), remote)
    for path in publish.write(result, out):
        click.echo(f"wrote {path}")
    publish.attach(result, out, root)
    append_summary(as_markdown(result))
    sys.exit(EXIT_OK if result.verdict.healthy else EXIT_INVALID)


def _propose(root: Path, name: str, version: int, remote: str) -> None:
    from diva.errors import DivaError
    from diva.lifecycle.proposals.pull_request import next_steps
    from diva.monitor.propose import propose_production

    try:
        outcome = propose_production(root, name, version, remote)
    except DivaError as err:  # a refused gate or a release already pinned: say so, go on
        click.secho(f"no proposal: {err}", fg="yellow", err=True)
        return
    if outcome is None:
        click.echo("no proposal: diva.yaml has no serving section to pin a release in")
        return
    for line in next_steps(outcome, remote):
        click.echo(line)


COMMANDS = (monitor,)
