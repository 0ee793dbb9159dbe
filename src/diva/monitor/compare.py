"""The verdict of a monitoring run, from numbers already measured: pure functions.

A challenger is proposed when it beats the champion on every target metric by the
spec's margin (relative), no feature drifted and no SLO is breached; a drifted feature
or a breached SLO makes the run unhealthy (the job fails). Every verdict carries its
:class:`Decision`: what is proposed, or why nothing is (a reason code of :data:`REASONS`).
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


#: Why a run proposes what it proposes, or nothing: the reason codes of a decision.
REASONS = {
    "proposed": "the winner's branch was pushed and its pull request opened (or explained)",
    "not_requested": "a challenger wins; without --propose nothing is opened",
    "scoring_only": "a challenger wins; the --models job leaves proposing to --from-report",
    "no_challenger": "no version carries a challenger alias",
    "tie": "the best challenger scores the same as the champion",
    "within_margin": "a challenger is better, but not by monitoring.margin on every target",
    "not_better": "no challenger is better than the champion on every target",
    "drift": "a challenger wins, but a feature drifted",
    "slo_breached": "a challenger wins, but an SLO is breached",
    "no_serving": "a challenger wins, but diva.yaml has no serving section to pin it in",
    "refused": "a challenger wins, but the release pin was refused",
}


@dataclass(frozen=True)
class Decision:
    """Whether this run proposes a version for production, and why (not)."""

    proposed: bool
    #: the winning challenger's version, or the closest one's when nothing wins
    version: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    proposal: Scored | None
    decision: Decision
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
    drifted, breached = any(item.drifted for item in drift), _breached(slos)
    winner = best_challenger(champion, challengers, objectives, margin)
    if winner is None:
        decision = _no_winner(champion, challengers, objectives, margin)
    else:
        name = f"{winner.alias} (version {winner.version})"
        if drifted:
            message = f"{name} beats the champion, but the data drifted: no proposal until "
            decision = Decision(False, winner.version, "drift", message + "the drift is understood")
        elif breached:
            message = f"{name} beats the champion, but an SLO is breached: no proposal while "
            decision = Decision(
                False, winner.version, "slo_breached", message + "serving misses it"
            )
        else:
            message = f"{name} beats the champion by the margin {margin:g} on every target"
            decision = Decision(False, winner.version, "not_requested", message)
        if drifted or breached:
            reasons.append(decision.message)
            winner = None
    return Verdict(not drifted and not breached, winner, decision, reasons)


def _breached(slos: Sequence[SloCheck]) -> bool:
    return any(item.status == "breached" for item in slos)


#: How close a challenger that does not win comes, worst first.
_STANDINGS = ("not_better", "tie", "within_margin")


def _no_winner(
    champion: Scored, challengers: Sequence[Scored], objectives: Sequence[Objective], margin: float
) -> Decision:
    """Why no challenger wins: the closest one's standing against the champion."""
    if not challengers:
        message = "no version carries a challenger alias: nothing to compare the champion with"
        return Decision(False, None, "no_challenger", message)
    standings = [(_standing(item, champion, objectives, margin), item) for item in challengers]
    reason, closest = max(standings, key=lambda pair: _STANDINGS.index(pair[0]))
    name = f"{closest.alias} (version {closest.version})"
    if reason == "tie":
        message = f"{name} scores the same as the champion on every target: a tie is no win"
        return Decision(False, closest.version, reason, message)
    short = [
        f"{item.metric} {_value(closest, item)} against {_value(champion, item)}"
        for item in objectives
        if not beats(closest.metrics[item.metric], champion.metrics[item.metric], item.goal, margin)
    ]
    if reason == "within_margin":
        message = f"{name} is better, but not by the margin {margin:g} on every target"
    else:
        message = f"{name} is not better than the champion on every target"
        if len(challengers) > 1:
            message = f"no challenger is better than the champion on every target; {name}"
            message += " comes closest"
    return Decision(False, closest.version, reason, f"{message} ({', '.join(short)})")


def _standing(
    challenger: Scored, champion: Scored, objectives: Sequence[Objective], margin: float
) -> str:
    """``not_better`` (worse, or not comparable, on a target), ``tie`` (the same on
    every target) or ``within_margin`` (better or the same, not by the margin on all)."""
    outcomes = set()
    for item in objectives:
        mine, theirs = challenger.metrics[item.metric], champion.metrics[item.metric]
        if beats(mine, theirs, item.goal, margin):
            outcomes.add("win")
        elif mine == theirs:
            outcomes.add("tie")
        elif beats(mine, theirs, item.goal, 0.0):
            outcomes.add("within")
        else:
            return "not_better"  # worse, or NaN
    return "tie" if outcomes <= {"tie"} else "within_margin"


def _value(scored: Scored, objective: Objective) -> str:
    return f"{scored.metrics[objective.metric]:.4g}"
