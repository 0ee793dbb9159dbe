"""The verdict of a monitoring run, from numbers already measured: pure functions.

A challenger is proposed when it beats the champion on every target metric by the
spec's margin (relative) and no feature drifted; a drifted feature or a breached SLO
makes the run unhealthy (the job fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from diva.monitor.drift import FeatureDrift

Goal = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Scored:
    """One model version evaluated on the monitoring data."""

    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float]


@dataclass(frozen=True)
class Objective:
    """A target metric and which way is better."""

    metric: str
    goal: Goal


@dataclass(frozen=True)
class SloCheck:
    name: str
    objective: float
    observed: float | None
    #: "met", "breached", "not observed", or "report only" (throughput: low traffic is no breach)
    status: str


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    proposal: Scored | None
    reasons: list[str] = field(default_factory=list)


def beats(challenger: float, champion: float, goal: Goal, margin: float) -> bool:
    """Whether ``challenger`` is better than ``champion`` by ``margin`` (relative)."""
    if goal == "minimize":
        return challenger <= champion - abs(champion) * margin and challenger < champion
    return challenger >= champion + abs(champion) * margin and challenger > champion


def wins(
    challenger: Scored, champion: Scored, objectives: Sequence[Objective], margin: float
) -> bool:
    return bool(objectives) and all(
        beats(challenger.metrics[item.metric], champion.metrics[item.metric], item.goal, margin)
        for item in objectives
    )


def best_challenger(
    champion: Scored, challengers: Sequence[Scored], objectives: Sequence[Objective], margin: float
) -> Scored | None:
    """The winning challenger; of several, the best on the first target."""
    winners = [item for item in challengers if wins(item, champion, objectives, margin)]
    if not winners:
        return None
    first = objectives[0]
    sign = 1 if first.goal == "minimize" else -1
    return min(winners, key=lambda item: sign * item.metrics[first.metric])


def check_slos(objectives: Mapping[str, float], observed: Mapping[str, float]) -> list[SloCheck]:
    """Each declared SLO against what serving reported (None: nothing observed)."""
    checks = []
    for name, objective in objectives.items():
        value = observed.get(name)
        if value is None:
            status = "not observed"
        elif name == "throughput_rps":
            status = "report only"
        elif name == "availability":
            status = "met" if value >= objective else "breached"
        else:  # latency_p95_ms, error_rate: lower is better
            status = "met" if value <= objective else "breached"
        checks.append(SloCheck(name, objective, value, status))
    return checks


def decide(
    champion: Scored,
    challengers: Sequence[Scored],
    objectives: Sequence[Objective],
    margin: float,
    drift: Sequence[FeatureDrift],
    slos: Sequence[SloCheck],
) -> Verdict:
    reasons = [
        f"drift: {item.feature} {item.method.upper()} {item.value:.3f} > {item.threshold:g}"
        for item in drift
        if item.drifted
    ]
    reasons += [
        f"SLO breached: {item.name} observed {item.observed:g}, objective {item.objective:g}"
        for item in slos
        if item.status == "breached"
    ]
    winner = best_challenger(champion, challengers, objectives, margin)
    if winner is not None and any(item.drifted for item in drift):
        reasons.append(
            f"{winner.alias} (version {winner.version}) beats the champion, but the data "
            "drifted: no proposal until the drift is understood"
        )
        winner = None
    return Verdict(not any(d.drifted for d in drift) and not _breached(slos), winner, reasons)


def _breached(slos: Sequence[SloCheck]) -> bool:
    return any(item.status == "breached" for item in slos)
