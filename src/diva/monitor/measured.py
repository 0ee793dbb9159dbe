"""A monitoring report handed over by the job that scored the versions, read back as data.

That job ran the project's requirements and unpickled the registry's models, so whatever
it wrote may be forged. :func:`read_report` accepts ``report.json`` only in the shape
:mod:`diva.monitor.report` writes, and only with the names and settings of this spec.
It keeps the measured numbers and nothing else: the drift flags, the SLO statuses and
the verdict are worked out again here from the spec, and the history is MLflow's.
:func:`conclude` also checks that the aliases still point at the versions that were
scored, before it logs the run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field

from diva import runtime
from diva.errors import UsageError
from diva.monitor.compare import Objective, Scored, check_slos, decide
from diva.monitor.drift import FeatureDrift
from diva.monitor.handover import RUN_ID, VERSION, Strict, parsed
from diva.monitor.run import MonitorReport, Registry, Settings, Versions, declared_slos, logged


class ScoredEntry(Strict):
    alias: str
    version: str = Field(pattern=VERSION)
    run_id: str | None = Field(default=..., pattern=RUN_ID)
    #: null: the metric was not a finite number
    metrics: dict[str, float | None]


class ObjectiveEntry(Strict):
    metric: str
    goal: Literal["minimize", "maximize"]


class DriftEntry(Strict):
    feature: str
    method: Literal["psi", "ks"]
    kind: Literal["numeric", "categorical"]
    value: float = Field(allow_inf_nan=False)
    threshold: float
    p_value: float | None
    drifted: bool


class SloEntry(Strict):
    name: str
    objective: float
    observed: float | None
    status: str


class HistoryEntry(Strict):
    when: str
    version: str
    metrics: dict[str, float | None]


class ProposalEntry(Strict):
    alias: str
    version: str


class DecisionEntry(Strict):
    proposed: bool
    version: str | None = Field(pattern=VERSION)
    reason: str
    message: str


class VerdictEntry(Strict):
    healthy: bool
    proposal: ScoredEntry | None
    decision: DecisionEntry
    reasons: list[str]


class ReportFile(Strict):
    """``report.json`` as :func:`diva.monitor.report.as_json` writes it."""

    project: str
    model: str
    reference: str
    current: str
    rows: int = Field(ge=0)
    objectives: list[ObjectiveEntry]
    champion: ScoredEntry
    challengers: list[ScoredEntry]
    missing: list[str]
    drift: list[DriftEntry]
    slos: list[SloEntry]
    verdict: VerdictEntry
    history: list[HistoryEntry]
    margin: float
    run_id: str | None
    healthy: bool
    decision: DecisionEntry
    proposal: ProposalEntry | None


def conclude(root: Path, settings: Settings, path: Path) -> MonitorReport:
    """The report at ``path``, judged again and logged to MLflow as a monitoring run."""
    report = read_report(settings, path)
    context = runtime.context(["--dataset", report.current], root=root)
    registry = Registry(context.tracking_uri(), settings.model_name)
    _unmoved(path, registry.versions(settings.monitoring), report)
    return logged(context, registry, report)


def _unmoved(path: Path, now: Versions, report: MonitorReport) -> None:
    """The aliases point where they pointed when the versions were scored."""
    versions = (report.champion, *report.challengers)
    scored = [(item.alias, item.version, item.run_id) for item in versions]
    current = [(item.alias, item.version, item.run_id) for item in now.found()]
    if scored != current or report.missing != now.missing:
        raise UsageError(
            f"{path}: the monitoring aliases moved since the versions were scored "
            f"(scored {scored}, now {current}); run the monitor again"
        )


def read_report(settings: Settings, path: Path) -> MonitorReport:
    """The measured numbers of ``path``, refused unless they fit this spec."""
    document: ReportFile = parsed(ReportFile, path)
    problems = _problems(settings, document)
    if problems:
        raise UsageError(f"{path}: not a report of this spec: {'; '.join(problems)}")
    return _judged(settings, document)


def _problems(settings: Settings, document: ReportFile) -> list[str]:
    problems = [
        f"{what} {got!r}, expected {want!r}"
        for what, (got, want) in _pairs(settings, document).items()
        if got != want
    ]
    if document.current not in settings.spec.datasets:
        problems.append(f"current dataset {document.current!r} is not declared")
    metrics = sorted({item.metric for item in document.objectives})
    for item in (document.champion, *document.challengers):
        if sorted(item.metrics) != metrics:
            problems.append(f"{item.alias}: metrics {sorted(item.metrics)}, expected {metrics}")
    return problems + _drift_problems(settings, document.drift)


def _pairs(settings: Settings, document: ReportFile) -> dict[str, tuple[object, object]]:
    """What the file says next to what the spec says, by what it is."""
    monitoring, spec = settings.monitoring, settings.spec
    inputs, _ = settings.columns()
    objectives = [Objective(item.metric, item.goal) for item in document.objectives]
    found = [item.alias for item in document.challengers]
    return {
        "project": (document.project, spec.project.name),
        "model": (document.model, settings.model_name),
        "reference dataset": (document.reference, monitoring.reference_dataset),
        "margin": (document.margin, monitoring.margin),
        "objectives": (objectives, settings.objectives()),
        "champion alias": (document.champion.alias, monitoring.champion),
        "challenger aliases": (found, [a for a in monitoring.challengers if a in found]),
        "aliases without a version": (
            document.missing,
            [a for a in monitoring.challengers if a not in found],
        ),
        "features": ([item.feature for item in document.drift], inputs),
        "SLOs": (
            [(item.name, item.objective) for item in document.slos],
            list(declared_slos(spec).items()),
        ),
    }


def _drift_problems(settings: Settings, drift: list[DriftEntry]) -> list[str]:
    configured = settings.monitoring.drift
    problems = []
    for item in drift:
        # categorical features are always measured with PSI (diva.monitor.drift)
        method = "psi" if item.kind == "categorical" else configured.method
        if (item.method, item.threshold) != (method, configured.threshold):
            problems.append(f"drift of {item.feature}: {item.method} > {item.threshold:g}")
        if (item.p_value is None) != (item.method == "psi"):
            problems.append(f"drift of {item.feature}: a p-value goes with KS only")
    return problems


def _judged(settings: Settings, document: ReportFile) -> MonitorReport:
    """The domain report from the file's numbers; flags, statuses and verdict derived."""
    objectives = settings.objectives()
    champion = _scored(document.champion)
    challengers = [_scored(item) for item in document.challengers]
    drift = [
        FeatureDrift(
            item.feature,
            item.method,
            item.kind,
            item.value,
            item.threshold,
            item.p_value,
            item.value > item.threshold,
        )
        for item in document.drift
    ]
    observed = {item.name: item.observed for item in document.slos if item.observed is not None}
    slos = check_slos(declared_slos(settings.spec), observed)
    margin = settings.monitoring.margin
    verdict = decide(champion, challengers, objectives, margin, drift, slos)
    return MonitorReport(
        document.project,
        document.model,
        document.reference,
        document.current,
        document.rows,
        objectives,
        champion,
        challengers,
        list(document.missing),
        drift,
        slos,
        verdict,
        history=[],
        margin=margin,
    )


def _scored(entry: ScoredEntry) -> Scored:
    # report.json writes a metric that was NaN as null: it is NaN again here
    metrics = {name: math.nan if value is None else value for name, value in entry.metrics.items()}
    return Scored(entry.alias, entry.version, entry.run_id, metrics)
