"""The files one monitoring job hands to the next, read back as untrusted data.

`report.json` comes from the job that ran the project's code: only its measured numbers
count, in the shape diva writes and with this spec's names; flags, statuses and the
verdict are worked out again. `versions.json` must name exactly the spec's aliases.
Built from the demand-forecast example (stage 5). MLflow is not reached: the end-to-end
run of the three jobs is in tests/e2e/test_monitor.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from diva.compiler.source import load_bytes
from diva.compiler.validate import validate_document
from diva.errors import UsageError
from diva.monitor.compare import Scored, check_slos, decide
from diva.monitor.drift import FeatureDrift
from diva.monitor.handover import VERSIONS_FILE, read_versions
from diva.monitor.measured import read_report
from diva.monitor.report import as_json
from diva.monitor.run import MonitorReport, Settings, declared_slos
from tests.support.backends import BASE_SPEC

RUN_1, RUN_2 = "a" * 32, "b" * 32
FEATURES = ["store_id", "product_id", "date", "promo", "temp_forecast_c", "sales_lag_7"]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(validate_document(load_bytes(BASE_SPEC.read_bytes())))


def measured(settings: Settings, challenger_wape: float, drift_value: float = 0.01) -> str:
    """A report.json as the scoring job writes it: champion v1, challenger v2."""
    objectives = settings.objectives()
    champion = Scored("champion", "1", RUN_1, {"wape": 0.30, "bias": 0.02})
    challenger = Scored("challenger", "2", RUN_2, {"wape": challenger_wape, "bias": 0.01})
    drift = [
        FeatureDrift(name, "psi", "numeric", drift_value, 0.2, None, drift_value > 0.2)
        for name in FEATURES
    ]
    slos = check_slos(declared_slos(settings.spec), {})
    verdict = decide(champion, [challenger], objectives, 0.02, drift, slos)
    report = MonitorReport(
        "demand-forecast", settings.model_name, "sales-all", "sales-recent", 120, objectives,
        champion, [challenger], [], drift, slos, verdict, history=[], margin=0.02,
    )  # fmt: skip
    return as_json(report)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="utf-8")
    return path


def edited(text: str, change: Any) -> str:
    document = json.loads(text)
    change(document)
    return json.dumps(document)


# --- report.json ------------------------------------------------------------------------


def test_a_report_diva_wrote_reads_back_with_its_verdict(
    settings: Settings, tmp_path: Path
) -> None:
    report = read_report(settings, written(tmp_path, measured(settings, 0.20)))
    assert report.verdict.proposal is not None
    assert report.verdict.proposal.version == "2"
    assert report.verdict.healthy is True
    assert report.run_id is None  # the judging job logs a run of its own
    assert report.history == []  # and reads the history from MLflow


def forge_a_winner(document: dict[str, Any]) -> None:
    winner = document["challengers"][0]
    document["healthy"] = True
    document["proposal"] = {"alias": "challenger", "version": "2"}
    decision = {"proposed": True, "version": "2", "reason": "proposed", "message": "forged"}
    document["decision"] = decision
    document["verdict"] = {"healthy": True, "proposal": winner, "decision": decision, "reasons": []}


def test_a_claimed_proposal_is_not_believed(settings: Settings, tmp_path: Path) -> None:
    """The challenger is worse: the verdict follows from the numbers, not from the file."""
    text = edited(measured(settings, 0.40), forge_a_winner)
    verdict = read_report(settings, written(tmp_path, text)).verdict
    assert verdict.proposal is None
    assert (verdict.decision.proposed, verdict.decision.reason) == (False, "not_better")


def test_drift_flags_are_worked_out_again(settings: Settings, tmp_path: Path) -> None:
    def hide(document: dict[str, Any]) -> None:
        for row in document["drift"]:
            row["drifted"] = False
        forge_a_winner(document)

    text = edited(measured(settings, 0.20, drift_value=0.5), hide)
    report = read_report(settings, written(tmp_path, text))
    assert all(row.drifted for row in report.drift)
    assert report.verdict.healthy is False
    assert report.verdict.proposal is None
    assert report.verdict.decision.reason == "drift"


def test_slo_statuses_are_worked_out_again(settings: Settings, tmp_path: Path) -> None:
    def breach(document: dict[str, Any]) -> None:
        (row,) = [item for item in document["slos"] if item["name"] == "error_rate"]
        row["observed"], row["status"] = 0.5, "met"

    report = read_report(settings, written(tmp_path, edited(measured(settings, 0.4), breach)))
    statuses = {row.name: row.status for row in report.slos}
    assert statuses["error_rate"] == "breached"
    assert report.verdict.healthy is False


def test_a_metric_that_was_not_a_number_comes_back_as_nan(
    settings: Settings, tmp_path: Path
) -> None:
    def nan(document: dict[str, Any]) -> None:
        document["challengers"][0]["metrics"]["bias"] = None

    report = read_report(settings, written(tmp_path, edited(measured(settings, 0.2), nan)))
    assert math.isnan(report.challengers[0].metrics["bias"])
    assert report.verdict.proposal is None  # NaN beats nothing


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(("extra",), 1), "extra: Extra inputs are not permitted"),
        (_set(("rows",), "120"), "rows: Input should be a valid integer"),
        (_set(("rows",), -1), "rows: Input should be greater than or equal to 0"),
        (_set(("champion", "version"), "../../x"), "champion.version: String should match"),
        (_set(("champion", "run_id"), "$(id)"), "champion.run_id: String should match"),
        (_set(("drift", 0, "value"), "NaN"), "drift.0.value: Input should be a valid number"),
        (_set(("drift", 0, "method"), "eyeball"), "drift.0.method: Input should be 'psi'"),
        (_set(("project",), "other"), "project 'other', expected 'demand-forecast'"),
        (_set(("champion", "alias"), "boss"), "champion alias 'boss', expected 'champion'"),
        (_set(("challengers", 0, "alias"), "x\n::error::"), "challenger aliases ['x\\n::error::']"),
        (_set(("missing",), ["challenger"]), "aliases without a version ['challenger']"),
        (_set(("current",), "elsewhere"), "current dataset 'elsewhere' is not declared"),
        (_set(("margin",), 0.5), "margin 0.5, expected 0.02"),
        (_set(("drift", 0, "feature"), "units"), "features ['units', 'product_id'"),
        (_set(("drift", 0, "threshold"), 9.0), "drift of store_id: psi > 9"),
        (_set(("challengers", 0, "metrics"), {"wape": 0.2}), "challenger: metrics ['wape']"),
        (_set(("slos", 0, "objective"), 1.0), "SLOs [('latency_p95_ms', 1.0)"),
        (_set(("objectives", 0, "goal"), "maximize"), "objectives ["),
    ],
)
def test_a_report_that_is_not_diva_s_or_not_this_spec_s_is_refused(
    settings: Settings, tmp_path: Path, change: Any, message: str
) -> None:
    path = written(tmp_path, edited(measured(settings, 0.2), change))
    with pytest.raises(UsageError) as raised:
        read_report(settings, path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["", "[]", "{", '{"project": 1}'])
def test_what_is_not_a_report_object_is_refused(
    settings: Settings, tmp_path: Path, text: str
) -> None:
    with pytest.raises(UsageError, match="not a file diva wrote"):
        read_report(settings, written(tmp_path, text))


def test_a_missing_report_is_a_usage_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a readable file"):
        read_report(settings, tmp_path / "report.json")


# --- versions.json ----------------------------------------------------------------------


def manifest(**changes: Any) -> dict[str, Any]:
    document = {
        "model": "demand-forecast",
        "champion": {"alias": "champion", "version": "1", "run_id": RUN_1},
        "challengers": [{"alias": "challenger", "version": "2", "run_id": None}],
        "missing": [],
    }
    return {**document, **changes}


def test_the_versions_manifest_names_the_folders_to_load(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / VERSIONS_FILE
    path.write_text(json.dumps(manifest()))
    versions = read_versions(settings, path)
    assert [(item.alias, item.version) for item in versions.found()] == [
        ("champion", "1"),
        ("challenger", "2"),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "other"}, "model 'other', the spec says 'demand-forecast'"),
        ({"champion": {"alias": "champion", "version": "..", "run_id": None}}, "String should"),
        ({"challengers": [], "missing": []}, "aliases without a version [], the spec says"),
        (
            {"challengers": [{"alias": "rogue", "version": "3", "run_id": None}]},
            "challenger aliases ['rogue']",
        ),
        ({"extra": True}, "Extra inputs are not permitted"),
    ],
)
def test_a_manifest_that_is_not_this_spec_s_is_refused(
    settings: Settings, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = tmp_path / VERSIONS_FILE
    path.write_text(json.dumps(manifest(**changes)))
    with pytest.raises(UsageError) as raised:
        read_versions(settings, path)
    assert message in str(raised.value)
