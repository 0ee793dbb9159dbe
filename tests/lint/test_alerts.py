"""The generated alert rules, checked and unit-tested by the real promtool.

For each kind of serving workload, the rule file's ``spec.groups`` is extracted into a
plain rules file; ``promtool check rules`` must accept it, and ``promtool test rules``
replays synthetic series (``input_series``) in which each SLO is broken — the alert
must fire, with its labels and its annotations rendered from the measured value — and
series in which it is met, close to the threshold and next to series of other workloads
that break it — the alert must stay silent.

promtool comes from Debian's ``prometheus`` package (.ci/docker-setup installs it; the
server is never started). Without it the module skips, and CI's DIVA_NO_SKIP=1 turns
the skip into a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from diva.compiler.backends import alerts
from diva.compiler.render import yaml_text
from tests.support.backends import base_data, load_yaml, project_of

PROMTOOL = shutil.which("promtool")
if PROMTOOL is None:  # CI's DIVA_NO_SKIP=1 makes this a failure
    pytest.skip(
        "promtool is not installed (Debian's prometheus package, see .ci/docker-setup)",
        allow_module_level=True,
    )

NAME = "demand-forecast"
SLOS = {"latency_p95_ms": 250, "error_rate": 0.01, "availability": 0.9, "throughput_rps": 50}
BROKER = {"kind": "redis", "url": "redis://b:6379/0", "input_topic": "i", "output_topic": "o"}
SERVINGS: dict[str, dict[str, Any]] = {
    "service": {"pattern": "model-as-service"},
    "kserve": {"pattern": "model-as-service", "runtime": "kserve"},
    "precompute": {"pattern": "precompute", "schedule": "30 2 * * *"},
    "on-demand": {"pattern": "model-on-demand", "broker": BROKER},
}


@dataclass(frozen=True)
class Scenario:
    """Series, and what ``alert`` does at ``at``: fire with ``labels`` and ``value``
    (how its annotations show the measured value), or stay silent (``labels`` None)."""

    alert: str
    series: dict[str, str]
    at: str = "30m"
    labels: dict[str, str] | None = None
    value: str = ""
    slos: dict[str, float] = field(default_factory=lambda: SLOS)


def rule_text(case: str, slos: dict[str, float] = SLOS) -> str:
    data = base_data()
    data.update(stage=4, serving=SERVINGS[case], slos=slos)
    (rule,) = [a for a in alerts.emit(project_of(data)) if a.path == alerts.RULE_FILE]
    return rule.text


def rules_file(directory: Path, case: str, slos: dict[str, float] = SLOS) -> Path:
    """The PrometheusRule's ``spec.groups`` as a plain Prometheus rules file."""
    groups = load_yaml(rule_text(case, slos))["spec"]["groups"]
    path = directory / "rules.yaml"
    path.write_text(yaml_text({"groups": groups}, "test"))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )


def rendered(template: str, labels: dict[str, str], value: str) -> str:
    """An annotation as Prometheus renders it: ``$labels.X`` and ``$value | FUNC``."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], template)
    return re.sub(r"\{\{ \$value \| \w+ \}\}", value, text)


def expected_alerts(rules: Path, scenario: Scenario) -> list[dict[str, Any]]:
    (rule,) = [
        r
        for r in load_yaml(rules.read_text())["groups"][0]["rules"]
        if r["alert"] == scenario.alert
    ]  # the alert exists: a silent test of a missing alert would pass
    if scenario.labels is None:
        return []
    labels = {**rule["labels"], **scenario.labels}
    annotations = {
        key: rendered(text, labels, scenario.value) for key, text in rule["annotations"].items()
    }
    return [{"exp_labels": labels, "exp_annotations": annotations}]


def unit_test(rules: Path, scenario: Scenario) -> dict[str, Any]:
    return {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series, "values": values}
                    for series, values in scenario.series.items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": scenario.at,
                        "alertname": scenario.alert,
                        "exp_alerts": expected_alerts(rules, scenario),
                    }
                ],
            }
        ],
    }


# --- series ----------------------------------------------------------------------------


def istio(metric: str, service: str = NAME, **labels: str) -> str:
    base = {
        "reporter": "destination",
        "destination_service_name": service,
        "destination_service_namespace": "prod",
    }
    return series(f"istio_{metric}", {**base, **labels})


def knative(metric: str, service: str = f"{NAME}-predictor", **labels: str) -> str:
    base = {"service_name": service, "namespace_name": "prod"}
    return series(f"revision_app_request_{metric}", {**base, **labels})


def series(metric: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{metric}{{{inner}}}"


def buckets(metric: Any, per_minute: dict[str, int], **labels: str) -> dict[str, str]:
    """Cumulative histogram buckets: ``per_minute`` requests up to each bound."""
    return {
        metric("request_duration_milliseconds_bucket" if metric is istio else "latencies_bucket",
               le=bound, **labels): f"0+{count}x40"
        for bound, count in per_minute.items()
    }  # fmt: skip


def requests(metric: Any, ok: int, failed: int, **labels: str) -> dict[str, str]:
    """Per minute, ``ok`` requests answered with a 2xx status and ``failed`` with a 5xx."""
    if metric is istio:
        name, key, codes = "requests_total", "response_code", ("200", "503")
    else:
        name, key, codes = "count", "response_code_class", ("2xx", "5xx")
    return {
        metric(name, **{key: code}, **labels): f"0+{count}x40"
        for code, count in zip(codes, (ok, failed), strict=True)
    }


SLOW = {"100": 0, "250": 0, "500": 0, "1000": 60, "+Inf": 60}  # p95 975 ms
FAST = {"100": 0, "250": 60, "500": 60, "1000": 60, "+Inf": 60}  # p95 242.5 ms, just under


def deployments(name: str, values: str, other: str = "1x100") -> dict[str, str]:
    return {
        series("kube_deployment_status_replicas_available", {"namespace": "prod",
               "deployment": name}): values,
        series("kube_deployment_status_replicas_available", {"namespace": "prod",
               "deployment": "other"}): other,
    }  # fmt: skip


def job(cronjob: str, job_name: str, **metrics: str) -> dict[str, str]:
    owner = {
        "namespace": "prod",
        "job_name": job_name,
        "owner_kind": "CronJob",
        "owner_name": cronjob,
        "owner_is_controller": "true",
    }
    found = {series("kube_job_owner", owner): "1x40"}
    for metric, values in metrics.items():
        labels = {"namespace": "prod", "job_name": job_name}
        found[series(f"kube_job_status_{metric}", labels)] = values
    return found


def request_scenarios(metric: Any, namespace: str, other: str) -> list[Scenario]:
    where = {namespace: "prod"}
    return [
        Scenario("ModelLatencyP95AboveSLO", buckets(metric, SLOW), labels=where, value="975"),
        Scenario(
            "ModelLatencyP95AboveSLO",
            buckets(metric, FAST) | buckets(metric, SLOW, **{other: "other"}),
        ),
        Scenario("ModelErrorRateAboveSLO", requests(metric, 98, 2), labels=where, value="2%"),
        Scenario(
            "ModelErrorRateAboveSLO",
            requests(metric, 995, 5) | requests(metric, 0, 60, **{other: "other"}),
        ),
        Scenario("ModelTrafficAboveSLO", requests(metric, 3600, 0), labels=where, value="60"),
        Scenario("ModelTrafficAboveSLO", requests(metric, 2400, 0)),
    ]


def availability_scenarios(deployment: str) -> list[Scenario]:
    where = {"namespace": "prod"}
    return [
        # a crash loop: no ready replica for the whole window
        Scenario(
            "ModelAvailabilityBelowSLO",
            deployments(deployment, "0x100"),
            at="90m",
            labels=where,
            value="0%",
        ),
        # 3 minutes down in the last hour: within availability 0.9; another one is down
        Scenario(
            "ModelAvailabilityBelowSLO",
            deployments(deployment, "1x60 0x3 1x37", other="0x100"),
            at="90m",
        ),
    ]


def slowed_down_at_25m() -> dict[str, str]:
    """Requests take 242.5 ms at p95 until minute 25, 975 ms after."""
    fast_then_none = "0+60x25 1500+0x15"
    return {
        istio("request_duration_milliseconds_bucket", le=bound): values
        for bound, values in {
            "100": "0x40", "250": fast_then_none, "500": fast_then_none,
            "1000": "0+60x40", "+Inf": "0+60x40",
        }.items()
    }  # fmt: skip


def outcome(scenario: Scenario) -> str:
    return "silent" if scenario.labels is None else "fires"


SCENARIOS: dict[str, list[Scenario]] = {
    "service": [
        *request_scenarios(istio, "destination_service_namespace", "destination_service_name"),
        # broken for less than the alert's `for: 10m`: pending, not firing; later firing
        Scenario("ModelLatencyP95AboveSLO", slowed_down_at_25m(), at="30m"),
        Scenario(
            "ModelLatencyP95AboveSLO",
            slowed_down_at_25m(),
            at="38m",
            labels={"destination_service_namespace": "prod"},
            value="975",
        ),
        *availability_scenarios(NAME),
    ],
    "kserve": [
        *request_scenarios(knative, "namespace_name", "service_name"),
        *availability_scenarios(f"{NAME}-predictor-00001-deployment"),
    ],
    "precompute": [
        # started at 0, still running at 20 minutes; the SLO allows 15
        Scenario(
            "ModelBatchRunTooLong",
            job(NAME, f"{NAME}-290001", start_time="0x40", active="1x40"),
            at="20m",
            labels={"namespace": "prod", "job_name": f"{NAME}-290001"},
            value="20m 0s",
            slos={**SLOS, "latency_p95_ms": 900000},
        ),
        # running for 10 minutes, a finished long run, another CronJob's long run
        Scenario(
            "ModelBatchRunTooLong",
            job(NAME, f"{NAME}-290002", start_time="600x40", active="1x40")
            | job(NAME, f"{NAME}-290000", start_time="0x40", active="0x40")
            | job("other", "other-290001", start_time="0x40", active="1x40"),
            at="20m",
            slos={**SLOS, "latency_p95_ms": 900000},
        ),
        Scenario(
            "ModelBatchRunFailed",
            job(NAME, f"{NAME}-290001", failed="0x5 1x35"),
            labels={"namespace": "prod", "job_name": f"{NAME}-290001"},
        ),
        Scenario(
            "ModelBatchRunFailed",
            job(NAME, f"{NAME}-290001", failed="0x40")
            | job("other", "other-290001", failed="1x40"),
        ),
    ],
    "on-demand": availability_scenarios(NAME),
}
CASES = [
    pytest.param(case, scenario, id=f"{case}-{scenario.alert}-{scenario.at}-{outcome(scenario)}")
    for case, scenarios in SCENARIOS.items()
    for scenario in scenarios
]


EXTREME_SLOS = {"latency_p95_ms": 0.5, "error_rate": 0, "availability": 1, "throughput_rps": 1e-05}


@pytest.mark.parametrize("slos", [SLOS, EXTREME_SLOS], ids=["usual", "extreme"])
@pytest.mark.parametrize("case", sorted(SERVINGS))
def test_promtool_accepts_the_rules(case: str, slos: dict[str, float], tmp_path: Path) -> None:
    result = promtool("check", "rules", str(rules_file(tmp_path, case, slos)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("case", "scenario"), CASES)
def test_alert_fires_when_the_slo_is_broken_only(
    case: str, scenario: Scenario, tmp_path: Path
) -> None:
    rules = rules_file(tmp_path, case, scenario.slos)
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml_text(unit_test(rules, scenario), "test"))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_generated_alert_is_tested() -> None:
    for case in SERVINGS:
        generated = {
            rule["alert"] for rule in load_yaml(rule_text(case))["spec"]["groups"][0]["rules"]
        }
        firing = {s.alert for s in SCENARIOS[case] if s.labels is not None}
        silent = {s.alert for s in SCENARIOS[case] if s.labels is None}
        assert generated == firing == silent, case
