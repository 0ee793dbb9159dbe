"""``diva monitor``: the stage-5 monitoring run (registered on the main group by
:mod:`diva.cli`). MLflow, pandas, scipy and matplotlib are imported when it runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from diva.cli.common import append_summary, project_root, spec_option
from diva.errors import EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from diva.monitor.run import MonitorReport, Settings

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
@click.option(
    "--download",
    "download_dir",
    metavar="DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="Only download the versions the aliases point at into DIR, for --models DIR in a "
    "job without secrets; loads, scores and logs nothing.",
)
@click.option(
    "--models",
    "models_dir",
    metavar="DIR",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Score the versions --download put in DIR instead of loading them from MLflow; "
    "writes the reports, logs and proposes nothing, exits 0 once they are written.",
)
@click.option(
    "--from-report",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Judge, log and (with --propose) propose from the report.json of a --models run "
    "instead of evaluating; the file is checked against the spec and the aliases.",
)
def monitor(
    spec: Path,
    current: str | None,
    slo_file: Path | None,
    out: Path,
    propose: bool,
    remote: str,
    download_dir: Path | None,
    models_dir: Path | None,
    from_report: Path | None,
) -> None:
    """Compare the champion with the challengers, measure drift, check the SLOs.

    Loads the MLflow versions carrying monitoring.champion and monitoring.challengers,
    evaluates each on the current data (the spec's targets' metrics), measures every
    input feature's drift against monitoring.reference_dataset (PSI or KS, threshold
    from monitoring.drift), and checks the SLOs against --metrics. Writes the reports
    (JSON, Markdown, HTML with plots), logs a monitoring run to MLflow, and appends the
    Markdown to $GITHUB_STEP_SUMMARY. When a challenger beats the champion by
    monitoring.margin on every target, nothing drifted and no SLO is breached, --propose
    opens the pull request that pins its version in production. Every run states its
    decision (the last line, the reports' "decision"): proposed, or why not, as a reason
    code (docs/monitoring.md). Exit 0 healthy, 1 drift or a breached SLO, 2 usage
    error, 4 MLflow or the data unreachable.

    --download, --models and --from-report split one run over three jobs, so that the
    project's code never runs next to the release token: download (MLflow credentials),
    score (no secrets), then judge, log and propose (the token).
    """
    _check_modes(download_dir, models_dir, from_report, propose, current, slo_file)
    from diva.extras import require

    require("diva monitor", "monitor", MODULES)
    from diva.compiler.validate import load_spec
    from diva.monitor import handover
    from diva.monitor.run import Settings

    root, name = project_root(spec)
    settings = Settings(load_spec(root / name))
    if download_dir is not None:
        versions = handover.download(root, settings, download_dir)
        found = ", ".join(f"{item.alias} (version {item.version})" for item in versions.found())
        click.echo(f"downloaded {found} into {download_dir}")
    elif models_dir is not None:
        from diva.monitor.propose import settle
        from diva.monitor.report import as_markdown

        measured = handover.evaluate(root, settings, models_dir, current, slo_file)
        measured, _ = settle(root, name, measured, None, scoring=True)
        click.echo(as_markdown(measured))
        _publish(measured, out, None)
    else:
        _judge(root, name, settings, current, slo_file, out, (propose, remote), from_report)


def _check_modes(
    download_dir: Path | None,
    models_dir: Path | None,
    from_report: Path | None,
    propose: bool,
    current: str | None,
    slo_file: Path | None,
) -> None:
    modes = [
        option
        for option, value in (
            ("--download", download_dir),
            ("--models", models_dir),
            ("--from-report", from_report),
        )
        if value is not None
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} exclude each other")
    if propose and (download_dir or models_dir):
        raise click.UsageError("--propose goes with an evaluation or --from-report")
    given = (("--current", current), ("--metrics", slo_file))
    measured = [option for option, value in given if value]
    if measured and (download_dir or from_report):
        raise click.UsageError(f"{', '.join(measured)}: only an evaluation measures")


def _judge(
    root: Path,
    name: str,
    settings: Settings,
    current: str | None,
    slo_file: Path | None,
    out: Path,
    proposal: tuple[bool, str],
    from_report: Path | None,
) -> None:
    """Evaluate (or read the handed-over report), log the run, propose, exit on health."""
    from diva.monitor.measured import conclude
    from diva.monitor.propose import settle
    from diva.monitor.report import as_markdown
    from diva.monitor.run import monitor as run_monitor

    if from_report is not None:
        result = conclude(root, settings, from_report)
    else:
        result = run_monitor(root, settings.spec, current, slo_file)
    propose, remote = proposal
    result, next_steps = settle(root, name, result, remote if propose else None)
    click.echo(as_markdown(result))
    for line in next_steps:
        click.echo(line)
    _publish(result, out, root)
    sys.exit(EXIT_OK if result.verdict.healthy else EXIT_INVALID)


def _publish(result: MonitorReport, out: Path, root: Path | None) -> None:
    """The reports written (and with ``root``, attached to the logged run) and summed up."""
    from diva.monitor import publish
    from diva.monitor.report import as_markdown, decision_line

    for path in publish.write(result, out):
        click.echo(f"wrote {path}")
    if root is not None:
        publish.attach(result, out, root)
    append_summary(as_markdown(result))
    click.echo(decision_line(result))


COMMANDS = (monitor,)
