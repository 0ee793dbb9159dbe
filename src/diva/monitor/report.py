"""A monitoring run as JSON (for machines) and Markdown (for pull request and issue
bodies, and the workflow's step summary). Pure: the HTML report is :mod:`diva.monitor.html`,
writing and attaching them is :mod:`diva.monitor.publish`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from diva.monitor.run import MonitorReport

FILES = ("report.json", "report.md", "report.html")


def as_dict(report: MonitorReport) -> dict[str, Any]:
    document = asdict(report)
    document["healthy"] = report.verdict.healthy
    document["decision"] = asdict(report.verdict.decision)
    document["proposal"] = (
        {"alias": report.verdict.proposal.alias, "version": report.verdict.proposal.version}
        if report.verdict.proposal
        else None
    )
    return document


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a value (a metric on degenerate data) is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def as_json(report: MonitorReport) -> str:
    return json.dumps(_finite(as_dict(report)), indent=2, allow_nan=False) + "\n"


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def headline(report: MonitorReport) -> str:
    state = "healthy" if report.verdict.healthy else "UNHEALTHY"
    proposal, decision = report.verdict.proposal, report.verdict.decision
    proposed = (
        f"; proposes {proposal.alias} (version {proposal.version}) for production"
        if proposal and decision.proposed
        else f"; no proposal ({decision.reason})"
    )
    return f"{report.project}: {state}, champion version {report.champion.version}{proposed}"


def decision_line(report: MonitorReport) -> str:
    """The decision for a terminal: its reason code and its sentence."""
    decision = report.verdict.decision
    return f"decision: {decision.reason}: {decision.message}"


def as_markdown(report: MonitorReport) -> str:
    versions, decision = [report.champion, *report.challengers], report.verdict.decision
    header = " | ".join(f"{item.alias} (v{item.version})" for item in versions)
    lines = [
        f"## diva monitor: {headline(report)}",
        "",
        f"**Decision** (`{decision.reason}`): {decision.message.rstrip('.')}.",
        "",
        f"{report.rows} rows of `{report.current}`; drift measured against "
        f"`{report.reference}`; margin {report.margin:g}.",
        "",
        f"| metric | goal | {header} |",
        "|---|---|" + "---|" * len(versions),
    ]
    for objective in report.objectives:
        cells = " | ".join(_cell(item.metrics[objective.metric]) for item in versions)
        lines.append(f"| {objective.metric} | {objective.goal} | {cells} |")
    lines += ["", "| feature | method | value | threshold | drifted |", "|---|---|---|---|---|"]
    lines += [
        f"| {item.feature} | {item.method} | {item.value:.4f} | {item.threshold:g} | "
        f"{'**yes**' if item.drifted else 'no'} |"
        for item in report.drift
    ]
    if report.slos:
        lines += ["", "| SLO | objective | observed | status |", "|---|---|---|---|"]
        lines += [
            f"| {item.name} | {item.objective:g} | {_cell(item.observed)} | {item.status} |"
            for item in report.slos
        ]
    if report.missing:
        lines += ["", f"No version carries the alias: {', '.join(report.missing)}."]
    if report.verdict.reasons:
        lines += ["", *[f"* {reason}" for reason in report.verdict.reasons]]
    return "\n".join(lines) + "\n"
