"""The ``alerts`` backend: a PrometheusRule and its runbook from the SLOs.

What the rules do with real series is tested by promtool in tests/lint/test_alerts.py;
these tests cover when files are generated, which metrics each pattern reads, how the
SLO values reach the rules, and that spec text never does.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from diva.compiler.backends import BACKENDS, alerts, emit_all
from diva.compiler.ir import Project
from tests.support.backends import base_data, load_yaml, project_of
from tests.support.hostile import HOSTILE_LINE, HOSTILE_TEXT

SLOS = {"latency_p95_ms": 250, "error_rate": 0.01, "availability": 0.995, "throughput_rps": 40}
BROKER = {"kind": "redis", "url": "redis://b:6379/0", "input_topic": "i", "output_topic": "o"}
SERVINGS: dict[str, dict[str, Any]] = {
    "service": {"pattern": "model-as-service"},
    "kserve": {"pattern": "model-as-service", "runtime": "kserve"},
    "precompute": {"pattern": "precompute", "schedule": "30 2 * * *"},
    "on-demand": {"pattern": "model-on-demand", "broker": BROKER},
    "dependency": {"pattern": "model-as-dependency"},
}


def project(case: str = "service", stage: int = 4, **slos: Any) -> Project:
    data = base_data()
    data.update(stage=stage, serving=SERVINGS[case], slos={**SLOS, **slos})
    data["slos"] = {key: value for key, value in data["slos"].items() if value is not None}
    return project_of(data)


def rule_of(project: Project) -> dict[str, Any]:
    (artifact,) = [a for a in alerts.emit(project) if a.path == alerts.RULE_FILE]
    document: dict[str, Any] = load_yaml(artifact.text)
    return document


def rules(project: Project) -> dict[str, dict[str, Any]]:
    (group,) = rule_of(project)["spec"]["groups"]
    return {rule["alert"]: rule for rule in group["rules"]}


# --- when files are generated ------------------------------------------------------------


def test_backend_is_registered_from_stage_4() -> None:
    assert BACKENDS["alerts"].first_stage == 4


def test_a_service_gets_the_rule_and_its_runbook() -> None:
    assert [a.path for a in alerts.emit(project())] == [alerts.RULE_FILE, alerts.RUNBOOK_FILE]
    assert {alerts.RULE_FILE, alerts.RUNBOOK_FILE} <= {a.path for a in emit_all(project())}


def test_nothing_before_stage_4() -> None:
    assert alerts.emit(dataclasses.replace(project(), stage=3)) == []


def test_nothing_without_slos_or_serving() -> None:
    assert alerts.emit(dataclasses.replace(project(), slos=None)) == []
    assert alerts.emit(dataclasses.replace(project(), serving=None)) == []


def test_a_dependency_runs_in_its_consumer_and_gets_no_rules() -> None:
    assert alerts.emit(project("dependency")) == []


def test_a_consumer_without_an_availability_slo_gets_no_rules() -> None:
    assert alerts.emit(project("on-demand", availability=None)) == []


# --- which alerts, from which metrics ------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("service", ["ModelLatencyP95AboveSLO", "ModelErrorRateAboveSLO",
                     "ModelAvailabilityBelowSLO", "ModelTrafficAboveSLO"]),
        ("kserve", ["ModelLatencyP95AboveSLO", "ModelErrorRateAboveSLO",
                    "ModelAvailabilityBelowSLO", "ModelTrafficAboveSLO"]),
        ("precompute", ["ModelBatchRunTooLong", "ModelBatchRunFailed"]),
        ("on-demand", ["ModelAvailabilityBelowSLO"]),
    ],
)  # fmt: skip
def test_alerts_per_pattern(case: str, names: list[str]) -> None:
    assert list(rules(project(case))) == names


def test_optional_slos_add_optional_alerts() -> None:
    assert list(rules(project(availability=None, throughput_rps=None))) == [
        "ModelLatencyP95AboveSLO",
        "ModelErrorRateAboveSLO",
    ]


@pytest.mark.parametrize(
    ("case", "metrics"),
    [
        ("service", {"istio_request_duration_milliseconds_bucket", "istio_requests_total",
                     "kube_deployment_status_replicas_available"}),
        ("kserve", {"revision_app_request_latencies_bucket", "revision_app_request_count",
                    "kube_deployment_status_replicas_available"}),
        ("precompute", {"kube_job_status_start_time", "kube_job_status_active",
                        "kube_job_owner", "kube_job_status_failed"}),
        ("on-demand", {"kube_deployment_status_replicas_available"}),
    ],
)  # fmt: skip
def test_metrics_read_per_pattern(case: str, metrics: set[str]) -> None:
    exprs = " ".join(rule["expr"] for rule in rules(project(case)).values())
    found = set(re.findall(r"\b(?:istio|revision|kube)_\w+", exprs))
    assert found == metrics


@pytest.mark.parametrize("case", ["service", "kserve", "precompute", "on-demand"])
def test_every_rule_reads_the_projects_workload_only(case: str) -> None:
    """Each series selector names the workload; a batch's job metrics are joined with
    the jobs its CronJob owns (promtool proves other workloads' series stay out)."""
    for name, rule in rules(project(case)).items():
        selectors = re.findall(r"\{[^{}]*\}", rule["expr"])
        owned = [s for s in selectors if "demand-forecast" in s]
        if case == "precompute":
            assert owned == ['{owner_kind="CronJob", owner_name="demand-forecast"}'], name
        else:
            assert selectors == owned != [], name


# --- SLO values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [(250.0, "250"), (0.01, "0.01"), (0.995, "0.995"), (1e-05, "1e-05"), (900000.0, "900000"),
     (0.25, "0.25"), (1e20, "1e+20")],
)  # fmt: skip
def test_numbers_are_exact_promql_literals(value: float, literal: str) -> None:
    assert alerts.number(value) == literal


def test_thresholds_come_from_the_slos() -> None:
    found = rules(project(latency_p95_ms=120.5, error_rate=0.002, availability=0.9995,
                          throughput_rps=75))  # fmt: skip
    assert found["ModelLatencyP95AboveSLO"]["expr"].endswith("> 120.5")
    assert found["ModelErrorRateAboveSLO"]["expr"].endswith("> 0.002")
    assert found["ModelAvailabilityBelowSLO"]["expr"].endswith("< 0.9995")
    assert found["ModelTrafficAboveSLO"]["expr"].endswith("> 75")
    assert "SLO of 120.5 ms" in found["ModelLatencyP95AboveSLO"]["annotations"]["summary"]
    assert "0.2%" in found["ModelErrorRateAboveSLO"]["annotations"]["summary"]
    assert "99.95%" in found["ModelAvailabilityBelowSLO"]["annotations"]["summary"]


def test_a_batch_runs_latency_slo_is_in_seconds() -> None:
    found = rules(project("precompute", latency_p95_ms=900000))
    assert "time() - kube_job_status_start_time > 900\n" in found["ModelBatchRunTooLong"]["expr"]


def test_every_alert_has_a_duration_severity_labels_and_annotations() -> None:
    for case in ("service", "kserve", "precompute", "on-demand"):
        for name, rule in rules(project(case)).items():
            assert re.fullmatch(r"\d+m", rule["for"]), name
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}
            assert rule["labels"]["project"] == "demand-forecast"
            assert rule["labels"]["slo"] in SLOS
            annotations = rule["annotations"]
            assert set(annotations) == {"summary", "description", "runbook"}
            assert f"slos.{rule['labels']['slo']}" in annotations["description"] or (
                name == "ModelBatchRunFailed"
            )


def test_each_runbook_link_has_its_section() -> None:
    for case in ("service", "precompute"):
        produced = {a.path: a.text for a in alerts.emit(project(case))}
        headings = re.findall(r"^## (\S+)$", produced[alerts.RUNBOOK_FILE], flags=re.MULTILINE)
        for name, rule in rules(project(case)).items():
            assert rule["annotations"]["runbook"] == f"{alerts.RUNBOOK_FILE}#{name.lower()}"
        assert headings == list(rules(project(case)))


def test_the_resource_is_a_prometheus_rule() -> None:
    document = rule_of(project())
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    assert document["metadata"]["name"] == "demand-forecast-slos"
    assert document["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "diva"
    assert "namespace" not in document["metadata"]  # applied where Prometheus looks
    assert [g["name"] for g in document["spec"]["groups"]] == ["demand-forecast.slos"]


def test_files_carry_the_header_and_are_deterministic() -> None:
    first, second = alerts.emit(project()), alerts.emit(project())
    assert first == second
    for artifact in first:
        assert "Generated by diva from diva.yaml" in artifact.text.splitlines()[0]


# --- spec text -----------------------------------------------------------------------------


def test_spec_text_never_reaches_the_rules_or_the_runbook() -> None:
    """Annotations are Go templates: a title with ``{{ }}`` would run in Prometheus.
    Only the name (a DNS label) and numbers are written."""
    hostile = base_data()
    hostile["project"].update(title=HOSTILE_LINE, description=HOSTILE_TEXT)
    hostile["model"]["name"] = "m_odel-x"
    hostile.update(stage=4, serving=SERVINGS["service"], slos=SLOS)
    benign = base_data()
    benign.update(stage=4, serving=SERVINGS["service"], slos=SLOS)
    assert alerts.emit(project_of(hostile)) == alerts.emit(project_of(benign))


def test_templates_in_annotations_are_only_labels_and_the_value() -> None:
    for case in ("service", "kserve", "precompute", "on-demand"):
        for rule in rules(project(case)).values():
            for text in rule["annotations"].values():
                for template in re.findall(r"\{\{.*?\}\}", text):
                    assert re.fullmatch(
                        r"\{\{ (\$labels\.\w+|\$value \| humanize\w*) \}\}", template
                    ), template


# --- the names the Kubernetes manifests give the workload ----------------------------------


def manifests(project: Project) -> dict[str, list[dict[str, Any]]]:
    """Names of the generated Kubernetes objects, by kind."""
    found: dict[str, list[dict[str, Any]]] = {}
    for artifact in emit_all(project):
        if artifact.path.startswith("deploy/base/") and artifact.path.endswith(".yaml"):
            document = load_yaml(artifact.text)
            if isinstance(document, dict) and "kind" in document:
                found.setdefault(document["kind"], []).append(document)
    return found


LONG_NAME = "a-very-long-project-name-that-kubernetes-must-shorten-for-cronjob"[:63]


@pytest.mark.parametrize(
    ("case", "kind", "pattern"),
    [
        ("service", "Service", r'destination_service_name="([^"]+)"'),
        ("service", "Deployment", r'deployment="([^"]+)"'),
        ("kserve", "InferenceService", r'service_name=~"(.+)-predictor\(-default\)\?"'),
        ("precompute", "CronJob", r'owner_name="([^"]+)"'),
        ("on-demand", "Deployment", r'deployment="([^"]+)"'),
    ],
)
@pytest.mark.parametrize("name", ["demand-forecast", LONG_NAME])
def test_rules_select_the_objects_the_manifests_name(
    case: str, kind: str, pattern: str, name: str
) -> None:
    data = base_data()
    data["project"]["name"] = name
    data.update(stage=4, serving=SERVINGS[case], slos=SLOS)
    subject = project_of(data)
    exprs = " ".join(rule["expr"] for rule in rules(subject).values())
    (workload,) = manifests(subject)[kind]
    assert set(re.findall(pattern, exprs)) == {workload["metadata"]["name"]}
