"""Alerts backend: Prometheus alert rules derived from the SLOs (from stage 4).

``deploy/monitoring/prometheus-rule.yaml`` is a Prometheus Operator ``PrometheusRule``
whose alerts fire when the serving workload breaks ``slos``; ``deploy/monitoring/
runbook.md`` says what each alert means and what to check first (each alert's
``runbook`` annotation points at its section).

MLflow's scoring server exports no Prometheus metrics of its own, so the rules read the
metrics that the platform around it exports, chosen per serving pattern (docs/serving/
alerts.md has the full table):

* ``model-as-service`` on plain Kubernetes: Istio's standard request metrics, reported
  by the sidecar of the serving pods (``reporter="destination"``);
* ``model-as-service`` on KServe: Knative's queue-proxy metrics of the predictor;
* availability of a Deployment and the runs of a batch CronJob: kube-state-metrics.

An SLO that no standard exporter measures for a pattern (the latency of a message
consumer, for example) gets no rule, rather than a rule that can never fire. The
``model-as-dependency`` pattern runs inside its consumer's process: no rules at all.

Every series is aggregated by namespace, so one rule file covers every environment that
runs the workload. Only the project's name (a DNS-1123 label) and numbers reach the
PromQL and the annotations, which Prometheus renders as Go templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from diva.compiler.backends.kubernetes.common import dns_label
from diva.compiler.ir import Project, Slos
from diva.compiler.render import Artifact, markdown_text, yaml_text
from diva.contract import DEPLOY_DIR

MONITORING_DIR = f"{DEPLOY_DIR}/monitoring"
RULE_FILE = f"{MONITORING_DIR}/prometheus-rule.yaml"
RUNBOOK_FILE = f"{MONITORING_DIR}/runbook.md"

#: The rate window of request metrics, and how long an SLO must stay broken.
WINDOW = "5m"
#: The availability SLO is judged over this window, sampled every minute.
AVAILABILITY_WINDOW = "1h"

#: Kubernetes limits CronJob names to 52 characters (the Job names append 11).
CRONJOB_NAME_MAX = 52

_DNS_LABEL = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Alert:
    """One alerting rule and its runbook entry."""

    name: str
    slo: str
    expr: str
    duration: str
    severity: str
    summary: str
    description: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Requests:
    """Where the request metrics of an HTTP serving workload come from."""

    source: str
    histogram: str
    counter: str
    selector: str
    namespace: str
    server_errors: str


def emit(project: Project) -> list[Artifact]:
    alerts = rules(project)
    if not alerts:
        return []
    return [
        Artifact(RULE_FILE, yaml_text(_prometheus_rule(project, alerts), project.spec_file)),
        Artifact(RUNBOOK_FILE, markdown_text(_runbook(project, alerts), project.spec_file)),
    ]


def rules(project: Project) -> list[Alert]:
    """The alerts of the project's serving pattern, in a fixed order."""
    serving, slos = project.serving, project.slos
    if serving is None or slos is None or project.stage < 4:
        return []
    name = _name(project.name)
    if serving.pattern == "model-as-service":
        kserve = serving.runtime == "kserve"
        requests = _kserve(name) if kserve else _istio(name)
        deployment = f'deployment=~"{name}-predictor(-.*)?"' if kserve else f'deployment="{name}"'
        return [
            _latency(name, slos, requests),
            _errors(name, slos, requests),
            *_availability(name, slos, deployment),
            *_throughput(name, slos, requests),
        ]
    if serving.pattern == "model-on-demand":
        return _availability(name, slos, f'deployment="{name}"')
    if serving.pattern == "precompute":
        cronjob = dns_label(name, CRONJOB_NAME_MAX)  # the CronJob's name, as k8s_serving gives it
        return [_batch_duration(name, cronjob, slos), _batch_failed(name, cronjob)]
    return []  # model-as-dependency: the consumer's process, the consumer's metrics


def _name(name: str) -> str:
    # validated by the spec; checked again because it lands inside PromQL strings
    if not _DNS_LABEL.fullmatch(name):
        raise RuntimeError(f"not a DNS-1123 label: {name!r}")
    return name


def number(value: float) -> str:
    """A PromQL number literal: integers without a fraction, others exactly."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


# --- request metrics -------------------------------------------------------------------


def _istio(name: str) -> Requests:
    return Requests(
        source="Istio's standard metrics (the serving pods' sidecars)",
        histogram="istio_request_duration_milliseconds_bucket",
        counter="istio_requests_total",
        selector=f'reporter="destination", destination_service_name="{name}"',
        namespace="destination_service_namespace",
        server_errors='response_code=~"5.."',
    )


def _kserve(name: str) -> Requests:
    return Requests(
        source="Knative's queue-proxy metrics of the KServe predictor",
        histogram="revision_app_request_latencies_bucket",
        counter="revision_app_request_count",
        selector=f'service_name=~"{name}-predictor(-default)?"',
        namespace="namespace_name",
        server_errors='response_code_class="5xx"',
    )


def _rate(metric: str, selector: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{selector}}}[{WINDOW}]))"


def _latency(name: str, slos: Slos, requests: Requests) -> Alert:
    threshold = number(slos.latency_p95_ms)
    buckets = _rate(requests.histogram, requests.selector, f"{requests.namespace}, le")
    return Alert(
        name="ModelLatencyP95AboveSLO",
        slo="latency_p95_ms",
        expr=f"histogram_quantile(0.95, {buckets})\n  > {threshold}",
        duration="10m",
        severity="warning",
        summary=f"{name}: p95 latency above the SLO of {threshold} ms",
        description=(
            f"The 95th percentile latency of {name}'s requests in namespace "
            f"{{{{ $labels.{requests.namespace} }}}} is {{{{ $value | humanize }}}} ms "
            f"(slos.latency_p95_ms: {threshold} ms), measured from {requests.source}."
        ),
        checks=(
            "Is traffic above what the replicas sustain? Compare the request rate with "
            "slos.throughput_rps and the autoscaler's replica count.",
            "Are the pods throttled on CPU or near their memory limit?",
            "Did a new model version or image roll out just before the alert?",
        ),
    )


def _errors(name: str, slos: Slos, requests: Requests) -> Alert:
    threshold = number(slos.error_rate)
    selector = requests.selector
    failed = _rate(requests.counter, f"{selector}, {requests.server_errors}", requests.namespace)
    every = _rate(requests.counter, selector, requests.namespace)
    return Alert(
        name="ModelErrorRateAboveSLO",
        slo="error_rate",
        expr=f"{failed}\n  / {every}\n  > {threshold}",
        duration=WINDOW,
        severity="critical",
        summary=f"{name}: error rate above the SLO of {_percent(slos.error_rate)}",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of {name}'s requests in namespace "
            f"{{{{ $labels.{requests.namespace} }}}} fail with a 5xx status "
            f"(slos.error_rate: {threshold}), measured from {requests.source}."
        ),
        checks=(
            "Read the serving pods' logs: a failing prediction shows MLflow's traceback.",
            "Do requests still match the model's input schema (a client changed)?",
            "Roll back: point the environment's release at the previous model version.",
        ),
    )


def _availability(name: str, slos: Slos, deployment: str) -> list[Alert]:
    if slos.availability is None:
        return []
    threshold = number(slos.availability)
    up = f"max by (namespace) (kube_deployment_status_replicas_available{{{deployment}}}) > bool 0"
    return [
        Alert(
            name="ModelAvailabilityBelowSLO",
            slo="availability",
            expr=f"avg_over_time(({up})[{AVAILABILITY_WINDOW}:1m])\n  < {threshold}",
            duration="5m",
            severity="critical",
            summary=f"{name}: available less than {_percent(slos.availability)} of the time",
            description=(
                f"{name} had a ready replica in namespace {{{{ $labels.namespace }}}} only "
                f"{{{{ $value | humanizePercentage }}}} of the last {AVAILABILITY_WINDOW} "
                f"(slos.availability: {threshold}), measured from kube-state-metrics."
            ),
            checks=(
                "Why are no pods ready? `kubectl describe` the Deployment's pods: image "
                "pull, crash loop, failing readiness probe, unschedulable.",
                "Does the model still load? The scoring server answers /ping only then.",
            ),
        )
    ]


def _throughput(name: str, slos: Slos, requests: Requests) -> list[Alert]:
    if slos.throughput_rps is None:
        return []
    threshold = number(slos.throughput_rps)
    return [
        Alert(
            name="ModelTrafficAboveSLO",
            slo="throughput_rps",
            expr=f"{_rate(requests.counter, requests.selector, requests.namespace)}\n"
            f"  > {threshold}",
            duration="15m",
            severity="info",
            summary=f"{name}: traffic above the {threshold} requests/s the SLOs plan for",
            description=(
                f"{name} receives {{{{ $value | humanize }}}} requests/s in namespace "
                f"{{{{ $labels.{requests.namespace} }}}}, more than slos.throughput_rps "
                f"({threshold}): the latency SLO was not planned for this load."
            ),
            checks=("Raise serving.replicas.max, or slos.throughput_rps after a load test.",),
        )
    ]


# --- batch runs (precompute) -----------------------------------------------------------


def _owned(cronjob: str) -> str:
    return (
        "and on (namespace, job_name) "
        f'kube_job_owner{{owner_kind="CronJob", owner_name="{_name(cronjob)}"}}'
    )


def _batch_duration(name: str, cronjob: str, slos: Slos) -> Alert:
    seconds = number(slos.latency_p95_ms / 1000)
    return Alert(
        name="ModelBatchRunTooLong",
        slo="latency_p95_ms",
        expr=(
            f"time() - kube_job_status_start_time > {seconds}\n"
            "  and on (namespace, job_name) kube_job_status_active > 0\n"
            f"  {_owned(cronjob)}"
        ),
        duration="1m",
        severity="warning",
        summary=f"{name}: a batch run takes longer than the SLO of {seconds} s",
        description=(
            f"Job {{{{ $labels.job_name }}}} of {name} in namespace "
            "{{ $labels.namespace }} has been running for {{ $value | humanizeDuration }} "
            f"(slos.latency_p95_ms: {number(slos.latency_p95_ms)} ms), measured from "
            "kube-state-metrics."
        ),
        checks=(
            "Did the input grow? Compare the rows read with the previous runs.",
            "Is the Job's pod throttled or waiting for a node?",
        ),
    )


def _batch_failed(name: str, cronjob: str) -> Alert:
    return Alert(
        name="ModelBatchRunFailed",
        slo="error_rate",
        expr=f"kube_job_status_failed > 0\n  {_owned(cronjob)}",
        duration="1m",
        severity="critical",
        summary=f"{name}: a batch run failed; its predictions are missing",
        description=(
            f"Job {{{{ $labels.job_name }}}} of {name} in namespace "
            "{{ $labels.namespace }} failed, measured from kube-state-metrics. Delete the "
            "failed Job once it is dealt with to clear the alert."
        ),
        checks=(
            "Read the failed pod's log (`kubectl logs job/<job>`).",
            "Rerun once fixed: `kubectl create job --from=cronjob/<cronjob> <name>`.",
        ),
    )


# --- outputs ---------------------------------------------------------------------------


def _anchor(alert: Alert) -> str:
    return alert.name.lower()


def _rule(project: Project, alert: Alert) -> dict[str, object]:
    return {
        "alert": alert.name,
        "expr": alert.expr,
        "for": alert.duration,
        "labels": {"severity": alert.severity, "project": project.name, "slo": alert.slo},
        "annotations": {
            "summary": alert.summary,
            "description": alert.description,
            "runbook": f"{RUNBOOK_FILE}#{_anchor(alert)}",
        },
    }


def _prometheus_rule(project: Project, alerts: list[Alert]) -> dict[str, object]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{project.name}-slos",
            "labels": {
                "app.kubernetes.io/name": project.name,
                "app.kubernetes.io/component": "alerts",
                "app.kubernetes.io/managed-by": "diva",
            },
        },
        "spec": {
            "groups": [
                {
                    "name": f"{project.name}.slos",
                    "rules": [_rule(project, alert) for alert in alerts],
                }
            ]
        },
    }


def _runbook(project: Project, alerts: list[Alert]) -> str:
    lines = [
        f"# Runbook: the SLO alerts of {project.name}",
        "",
        f"The alerts of `{RULE_FILE}`, derived from `slos` in {project.spec_file}. "
        "Every alert carries the label `project` and the namespace it fired in.",
    ]
    for alert in alerts:
        lines += [
            "",
            f"## {alert.name}",
            "",
            f"{alert.summary}. Severity {alert.severity}, SLO `slos.{alert.slo}`; the alert "
            f"fires once this query has returned a value for {alert.duration}:",
            "",
            "```promql",
            alert.expr,
            "```",
            "",
            "First checks:",
            "",
            *[f"* {check}" for check in alert.checks],
        ]
    return "\n".join(lines)
