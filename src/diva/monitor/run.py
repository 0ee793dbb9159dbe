"""One monitoring run: load the champion and the challengers from MLflow, evaluate them on
the current data, measure drift against the reference data, check the SLOs, and log the
outcome to MLflow as a run of its own (step ``monitor``).

MLflow, pandas and scikit-learn are imported here, never on the compile path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from diva import runtime
from diva.compiler.spec.model import Spec
from diva.compiler.spec.operations import Monitoring
from diva.errors import UnavailableError, UsageError
from diva.monitor.compare import Objective, Scored, SloCheck, Verdict, check_slos, decide
from diva.monitor.drift import FeatureDrift, drift_table
from diva.monitor.metrics import METRICS
from diva.urls import redact, strip_userinfo

#: The MLflow tag of monitoring runs, and the prefix of their per-version metrics.
STEP = "monitor"


class MonitorUnavailable(UnavailableError):  # noqa: N818 - reads as what happened
    """MLflow, a model version or the monitoring data cannot be reached."""


@dataclass(frozen=True)
class HistoryPoint:
    """The champion's metrics in one earlier (or this) monitoring run."""

    when: str
    version: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class MonitorReport:
    project: str
    model: str
    reference: str
    current: str
    rows: int
    objectives: list[Objective]
    champion: Scored
    challengers: list[Scored]
    missing: list[str]
    drift: list[FeatureDrift]
    slos: list[SloCheck]
    verdict: Verdict
    history: list[HistoryPoint]
    margin: float
    run_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """What the spec says about this project's monitoring."""

    spec: Spec

    @property
    def monitoring(self) -> Monitoring:
        if self.spec.monitoring is None:
            raise UsageError("diva.yaml has no monitoring section (needed from stage 5)")
        return self.spec.monitoring

    @property
    def model_name(self) -> str:
        assert self.spec.model is not None  # required by validation from stage 2
        return str(self.spec.model.name or self.spec.project.name)

    def objectives(self) -> list[Objective]:
        seen: dict[str, Objective] = {}
        for target in self.spec.targets:
            seen.setdefault(target.metric, Objective(target.metric, target.goal))
        unknown = [name for name in seen if name not in METRICS]
        if unknown:
            known = ", ".join(sorted(METRICS))
            raise UsageError(f"cannot compute {', '.join(unknown)} from predictions ({known})")
        return list(seen.values())

    def columns(self) -> tuple[list[str], str]:
        inputs = [field.name for field in self.spec.idea.inputs]
        outputs = [field.name for field in self.spec.idea.outputs]
        if not inputs or len(outputs) != 1:
            raise UsageError("monitoring needs idea.inputs and exactly one idea.outputs entry")
        return inputs, outputs[0]

    def current(self, current: str | None) -> str:
        """The dataset with the newest data: ``current``, else the spec's."""
        return current or self.monitoring.current_dataset or self.monitoring.reference_dataset


def dataset_frame(root: Path, spec: Spec, name: str) -> Any:
    """The rows of dataset ``name``: its CSV file, or every CSV file in its folder."""
    import pandas as pd

    if name not in spec.datasets:
        raise UsageError(f"unknown dataset {name!r} (declared: {', '.join(spec.datasets)})")
    path = root / spec.datasets[name].path
    files = [path] if path.is_file() else sorted(path.glob("**/*.csv"))
    if not files:
        raise MonitorUnavailable(f"{path}: no CSV data (run `dvc pull {spec.datasets[name].path}`)")
    return pd.concat([pd.read_csv(file) for file in files], ignore_index=True)


def observed_slos(path: Path | None) -> dict[str, float]:
    """Serving metrics from a JSON file: numbers, or Prometheus instant-query results."""
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"{path}: not a readable JSON file ({err})") from err
    if not isinstance(document, dict):
        raise UsageError(f"{path}: expected an object of SLO name -> value")
    return {str(name): _number(path, str(name), value) for name, value in document.items()}


def _number(path: Path, name: str, value: Any) -> float:
    """A plain number, or the single sample of a Prometheus ``/api/v1/query`` answer."""
    if isinstance(value, dict):
        try:
            (sample,) = value["data"]["result"]
            value = sample["value"][1]
        except (KeyError, TypeError, ValueError) as err:
            raise UsageError(f"{path}: {name}: not a one-sample Prometheus result") from err
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{path}: {name}: {value!r} is not a number") from err


@dataclass(frozen=True)
class Found:
    """The model version that a monitoring alias points at."""

    alias: str
    version: str
    run_id: str | None


@dataclass(frozen=True)
class Versions:
    """What the monitoring aliases point at: the champion, the challengers found, and the
    challengers' aliases that no version carries."""

    model: str
    champion: Found
    challengers: list[Found]
    missing: list[str]

    def found(self) -> list[Found]:
        return [self.champion, *self.challengers]


#: A model version, loaded: anything with ``predict(features)``.
Loader = Callable[[Found], Any]


class Registry:
    """The registered model's versions by alias, loaded or downloaded."""

    def __init__(self, uri: str, model: str) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(uri)  # `models:/` URIs are resolved against the global one
        mlflow.set_registry_uri(uri)
        self.uri, self.model = uri, model
        self.client: Any = MlflowClient(tracking_uri=uri)

    def version(self, alias: str) -> Any | None:
        try:
            return self.client.get_model_version_by_alias(self.model, alias)
        except Exception as err:  # MLflow raises its own exception for a missing alias
            if "not found" in str(err).lower() or "RESOURCE_DOES_NOT_EXIST" in str(err):
                return None
            raise MonitorUnavailable(
                f"MLflow at {strip_userinfo(self.uri)}: {redact(str(err))}"
            ) from err

    def versions(self, monitoring: Monitoring) -> Versions:
        champion = self.version(monitoring.champion)
        if champion is None:
            raise MonitorUnavailable(
                f"no version of {self.model} carries the alias {monitoring.champion!r}"
            )
        challengers, missing = [], []
        for alias in monitoring.challengers:
            found = self.version(alias)
            if found is None:
                missing.append(alias)
            else:
                challengers.append(_found(alias, found))
        return Versions(self.model, _found(monitoring.champion, champion), challengers, missing)

    def load(self, found: Found) -> Any:
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(self.uri_of(found))

    def download(self, found: Found, folder: Path) -> None:
        """The version's files into ``folder``, not loaded: nothing of it runs here."""
        import mlflow.artifacts

        folder.mkdir(parents=True, exist_ok=True)
        mlflow.artifacts.download_artifacts(artifact_uri=self.uri_of(found), dst_path=str(folder))

    def uri_of(self, found: Found) -> str:
        return f"models:/{self.model}/{found.version}"


def _found(alias: str, version: Any) -> Found:
    return Found(alias, str(version.version), version.run_id)


def score(
    model: Any, found: Found, features: Any, actual: Any, objectives: Sequence[Objective]
) -> Scored:
    """``model``'s target metrics on ``features`` against ``actual``."""
    predicted = model.predict(features)
    metrics = {item.metric: METRICS[item.metric](actual, predicted) for item in objectives}
    return Scored(found.alias, found.version, found.run_id, metrics)


def monitor(
    root: Path, spec: Spec, current: str | None = None, slo_file: Path | None = None
) -> MonitorReport:
    """Evaluate, compare, measure drift, check SLOs and log the run to MLflow."""
    settings = Settings(spec)
    context = runtime.context(["--dataset", settings.current(current)], root=root)
    registry = Registry(context.tracking_uri(), settings.model_name)
    versions = registry.versions(settings.monitoring)
    report = measure(root, spec, versions, registry.load, current, slo_file)
    return logged(context, registry, report)


def measure(
    root: Path,
    spec: Spec,
    versions: Versions,
    load: Loader,
    current: str | None = None,
    slo_file: Path | None = None,
) -> MonitorReport:
    """Score each version (loaded by ``load``) on the current data, measure drift, check
    the SLOs and decide; logs nothing."""
    settings = Settings(spec)
    monitoring = settings.monitoring
    objectives = settings.objectives()
    inputs, output = settings.columns()
    current_name = settings.current(current)
    reference = dataset_frame(root, spec, monitoring.reference_dataset)
    rows = dataset_frame(root, spec, current_name)
    missing_columns = [name for name in (*inputs, output) if name not in rows.columns]
    if missing_columns:
        raise UsageError(f"dataset {current_name!r} lacks the columns {', '.join(missing_columns)}")
    features, actual = rows[inputs], rows[output]
    scored = [score(load(item), item, features, actual, objectives) for item in versions.found()]
    drift = drift_table(
        reference, rows, inputs, monitoring.drift.method, monitoring.drift.threshold
    )
    slos = check_slos(declared_slos(spec), observed_slos(slo_file))
    champion, challengers = scored[0], scored[1:]
    return MonitorReport(
        spec.project.name,
        settings.model_name,
        monitoring.reference_dataset,
        current_name,
        len(rows),
        objectives,
        champion,
        challengers,
        versions.missing,
        drift,
        slos,
        decide(champion, challengers, objectives, monitoring.margin, drift, slos),
        history=[],
        margin=monitoring.margin,
    )


def declared_slos(spec: Spec) -> dict[str, float]:
    if spec.slos is None:
        return {}
    return {name: value for name, value in spec.slos.model_dump().items() if value is not None}


def logged(context: Any, registry: Registry, report: MonitorReport) -> MonitorReport:
    """``report`` with the history of earlier monitoring runs, after logging this one."""
    import mlflow

    history = _history(registry, context)
    with context.run(STEP) as run:
        mlflow.log_metrics(_run_metrics(report))
        mlflow.set_tags(dict(_run_tags(report)))
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    history.append(HistoryPoint(now, report.champion.version, report.champion.metrics))
    return replace(report, history=history, run_id=run.info.run_id)


def _history(registry: Registry, context: Any) -> list[HistoryPoint]:
    experiment = registry.client.get_experiment_by_name(context.config["mlflow"]["experiment"])
    if experiment is None:
        return []
    runs = registry.client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`diva.step` = '{STEP}'",
        order_by=["attributes.start_time ASC"],
    )
    points = []
    for found in runs:
        metrics = {
            key.removeprefix("champion."): value
            for key, value in found.data.metrics.items()
            if key.startswith("champion.")
        }
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(found.info.start_time / 1000))
        points.append(
            HistoryPoint(when, found.data.tags.get("diva.monitor.champion", "?"), metrics)
        )
    return points


def _run_metrics(report: MonitorReport) -> dict[str, float]:
    metrics = {f"champion.{k}": v for k, v in report.champion.metrics.items()}
    for item in report.challengers:
        metrics.update({f"{item.alias}.{k}": v for k, v in item.metrics.items()})
    metrics.update({f"drift.{item.feature}": item.value for item in report.drift})
    metrics.update(
        {f"slo.{item.name}": item.observed for item in report.slos if item.observed is not None}
    )
    metrics["healthy"] = float(report.verdict.healthy)
    return metrics


def _run_tags(report: MonitorReport) -> Mapping[str, str]:
    tags = {
        "diva.monitor.champion": report.champion.version,
        "diva.monitor.current": report.current,
        "diva.monitor.healthy": str(report.verdict.healthy).lower(),
    }
    if report.verdict.proposal is not None:
        tags["diva.monitor.proposal"] = report.verdict.proposal.version
    return tags
