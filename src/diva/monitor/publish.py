"""The monitoring reports written to a folder and logged as artifacts of the monitoring run.

The I/O half of the reports: :mod:`diva.monitor.report` (JSON, Markdown) and
:mod:`diva.monitor.html` render them, this module writes them and attaches them to MLflow.
"""

from __future__ import annotations

from pathlib import Path

from diva import runtime
from diva.compiler.writer import write_text_atomic
from diva.monitor.html import as_html
from diva.monitor.report import FILES, as_json, as_markdown
from diva.monitor.run import MonitorReport


def write(report: MonitorReport, folder: Path) -> list[Path]:
    """Write the three reports into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = (as_json(report), as_markdown(report), as_html(report))
    paths = [folder / name for name in FILES]
    for path, text in zip(paths, texts, strict=True):
        write_text_atomic(path, text)
    return paths


def attach(report: MonitorReport, folder: Path, root: Path) -> None:
    """Log the written reports as artifacts of the monitoring run."""
    if report.run_id is None:
        return
    from mlflow.tracking import MlflowClient

    uri = runtime.context(["--dataset", report.current], root=root).tracking_uri()
    for name in FILES:
        MlflowClient(tracking_uri=uri).log_artifact(report.run_id, str(folder / name), "monitor")
