"""The verdict of a monitoring run from measured numbers, and its JSON and Markdown."""

from __future__ import annotations

import json
import math

import pytest

from diva.monitor.compare import (
    REASONS,
    Decision,
    Objective,
    Scored,
    SloCheck,
    beats,
    best_challenger,
    check_slos,
    decide,
)
from diva.monitor.drift import FeatureDrift
from diva.monitor.report import as_json, as_markdown
from diva.monitor.run import MonitorReport

RMSE = Objective("rmse", "minimize")
R2 = Objective("r2", "maximize")


def scored(alias: str, version: str, rmse: float, r2: float) -> Scored:
    return Scored(alias, version, f"run-{version}", {"rmse": rmse, "r2": r2})


def drift(feature: str, value: float) -> FeatureDrift:
    return FeatureDrift(feature, "psi", "numeric", value, 0.2, None, value > 0.2)


@pytest.mark.parametrize(
    ("challenger", "champion", "goal", "margin", "expected"),
    [
        (0.9, 1.0, "minimize", 0.05, True),
        (0.96, 1.0, "minimize", 0.05, False),  # better, but by less than the margin
        (1.0, 1.0, "minimize", 0.0, False),  # a tie is no win
        (0.80, 0.75, "maximize", 0.05, True),
        (0.78, 0.75, "maximize", 0.05, False),
        (-0.9, -1.0, "maximize", 0.05, True),  # relative to |champion|
    ],
)
def test_beats_by_a_relative_margin(
    challenger: float, champion: float, goal: str, margin: float, expected: bool
) -> None:
    assert beats(challenger, champion, goal, margin) is expected  # type: ignore[arg-type]


def test_a_challenger_must_win_on_every_target() -> None:
    champion = scored("champion", "1", 1.0, 0.80)
    mixed = scored("challenger", "2", 0.5, 0.70)  # better rmse, worse r2
    assert best_challenger(champion, [mixed], [RMSE, R2], 0.0) is None


def test_of_several_winners_the_best_on_the_first_target_is_chosen() -> None:
    champion = scored("champion", "1", 1.0, 0.80)
    good, better = scored("a", "2", 0.8, 0.85), scored("b", "3", 0.6, 0.84)
    assert best_challenger(champion, [good, better], [RMSE, R2], 0.0) == better


def test_drift_blocks_the_proposal_and_fails_the_run() -> None:
    champion, challenger = scored("champion", "1", 1.0, 0.8), scored("challenger", "2", 0.5, 0.9)
    verdict = decide(champion, [challenger], [RMSE], 0.0, [drift("x0", 0.6)], [])
    assert verdict.healthy is False
    assert verdict.proposal is None
    assert verdict.reasons[0] == "drift: x0 PSI 0.600 > 0.2"


def test_no_drift_proposes_the_winner() -> None:
    champion, challenger = scored("champion", "1", 1.0, 0.8), scored("challenger", "2", 0.5, 0.9)
    verdict = decide(champion, [challenger], [RMSE], 0.0, [drift("x0", 0.01)], [])
    assert (verdict.healthy, verdict.proposal) == (True, challenger)


def test_slo_statuses() -> None:
    objectives = {
        "latency_p95_ms": 200,
        "error_rate": 0.01,
        "availability": 0.99,
        "throughput_rps": 50,
    }
    observed = {"latency_p95_ms": 250, "error_rate": 0.001, "throughput_rps": 3}
    statuses = {item.name: item.status for item in check_slos(objectives, observed)}
    assert statuses == {
        "latency_p95_ms": "breached",
        "error_rate": "met",
        "availability": "not observed",
        "throughput_rps": "report only",
    }


def report(**changes: object) -> MonitorReport:
    champion, challenger = scored("champion", "1", 1.0, 0.8), scored("challenger", "2", 0.5, 0.9)
    values: dict[str, object] = {
        "project": "p",
        "model": "p",
        "reference": "full",
        "current": "recent",
        "rows": 10,
        "objectives": [RMSE, R2],
        "champion": champion,
        "challengers": [challenger],
        "missing": [],
        "drift": [drift("x0", 0.01)],
        "slos": [],
        "history": [],
        "margin": 0.0,
        "verdict": decide(champion, [challenger], [RMSE, R2], 0.0, [], []),
    }
    values.update(changes)
    return MonitorReport(**values)  # type: ignore[arg-type]


def test_json_report_is_strict_json_even_with_nan_metrics() -> None:
    degenerate = scored("challenger", "2", math.nan, 0.9)
    document = json.loads(as_json(report(challengers=[degenerate])))
    assert document["challengers"][0]["metrics"]["rmse"] is None
    assert document["proposal"] == {"alias": "challenger", "version": "2"}


def test_markdown_report_tables() -> None:
    text = as_markdown(report())
    assert text.startswith("## diva monitor: p: healthy, champion version 1; no proposal (not_re")
    assert "| rmse | minimize | 1 | 0.5 |" in text
    assert "| x0 | psi | 0.0100 | 0.2 | no |" in text


# --- the decision: what is proposed, or why not ------------------------------------------


def decision_of(
    challengers: list[Scored],
    margin: float = 0.05,
    drifts: tuple[FeatureDrift, ...] = (drift("x0", 0.01),),
    slos: tuple[SloCheck, ...] = (),
) -> Decision:
    champion = scored("champion", "1", 1.0, 0.80)
    return decide(champion, challengers, [RMSE, R2], margin, drifts, slos).decision


@pytest.mark.parametrize(
    ("challengers", "margin", "reason", "version", "words"),
    [
        ([], 0.05, "no_challenger", None, "no version carries a challenger alias"),
        ([scored("challenger", "1", 1.0, 0.80)], 0.05, "tie", "1", "a tie is no win"),
        (
            [scored("challenger", "2", 0.98, 0.81)],
            0.05,
            "within_margin",
            "2",
            "is better, but not by the margin 0.05 on every target (rmse 0.98 against 1, "
            "r2 0.81 against 0.8)",
        ),
        (
            [scored("challenger", "2", 0.5, 0.70)],
            0.0,
            "not_better",
            "2",
            "challenger (version 2) is not better than the champion on every target "
            "(r2 0.7 against 0.8)",
        ),
        (
            [scored("a", "2", 1.5, 0.5), scored("b", "3", 0.99, 0.80)],
            0.05,
            "within_margin",
            "3",
            "b (version 3) is better",
        ),
        (
            [scored("a", "2", 1.5, 0.5), scored("b", "3", 1.2, 0.9)],
            0.05,
            "not_better",
            "2",
            "no challenger is better than the champion on every target; a (version 2) comes",
        ),
        (
            [scored("challenger", "2", math.nan, 0.9)],
            0.05,
            "not_better",
            "2",
            "rmse nan against 1",
        ),
        (
            [scored("challenger", "2", 0.5, 0.9)],
            0.05,
            "not_requested",
            "2",
            "challenger (version 2) beats the champion by the margin 0.05 on every target",
        ),
    ],
)
def test_every_verdict_says_what_it_would_propose_or_why_not(
    challengers: list[Scored], margin: float, reason: str, version: str | None, words: str
) -> None:
    decision = decision_of(challengers, margin)
    assert (decision.proposed, decision.reason, decision.version) == (False, reason, version)
    assert words in decision.message
    assert reason in REASONS


def test_a_winner_on_drifted_data_is_held_back_with_the_reason_drift() -> None:
    decision = decision_of([scored("challenger", "2", 0.5, 0.9)], drifts=(drift("x0", 0.6),))
    assert (decision.reason, decision.version) == ("drift", "2")
    assert "the data drifted: no proposal until the drift is understood" in decision.message


def test_a_winner_while_an_slo_is_breached_is_held_back() -> None:
    champion, challenger = scored("champion", "1", 1.0, 0.8), scored("challenger", "2", 0.5, 0.9)
    slos = check_slos({"error_rate": 0.01}, {"error_rate": 0.05})
    verdict = decide(champion, [challenger], [RMSE, R2], 0.05, [], slos)
    assert (verdict.healthy, verdict.proposal) == (False, None)
    assert verdict.decision.reason == "slo_breached"
    assert "an SLO is breached: no proposal while serving misses it" in verdict.reasons[-1]


def test_the_decision_is_in_the_json_and_the_markdown_report() -> None:
    champion, tie = scored("champion", "1", 1.0, 0.8), scored("challenger", "1", 1.0, 0.8)
    tied = report(challengers=[tie], verdict=decide(champion, [tie], [RMSE, R2], 0.0, [], []))
    document = json.loads(as_json(tied))
    assert document["decision"] == {
        "proposed": False,
        "version": "1",
        "reason": "tie",
        "message": "challenger (version 1) scores the same as the champion on every target: "
        "a tie is no win",
    }
    assert document["proposal"] is None
    markdown = as_markdown(tied)
    assert markdown.startswith("## diva monitor: p: healthy, champion version 1; no proposal (tie)")
    assert "**Decision** (`tie`): challenger (version 1) scores the same" in markdown
