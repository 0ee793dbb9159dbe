"""The serving objects of the kubernetes backend, one set per ``serving.pattern``.

Each function returns the kustomize base of a pattern as ``{file name: object}``:

* ``model-as-service`` on plain Kubernetes: Deployment, Service, HorizontalPodAutoscaler,
  PodDisruptionBudget, NetworkPolicy;
* ``model-as-service`` on KServe: an InferenceService with the serving image as its
  custom predictor (KServe, or Knative under it, owns the Deployment, Service and
  autoscaler), and a PodDisruptionBudget; no NetworkPolicy, because the traffic paths
  (ingress gateway, activator, queue proxy) belong to the KServe installation;
* ``precompute``: a CronJob that runs ``mlflow models predict`` in the serving image,
  its ConfigMap of paths, a NetworkPolicy;
* ``model-on-demand``: a Deployment of the serving image with two containers, the
  scoring server and ``diva consume`` (broker settings from a ConfigMap; credentials
  from a Secret mounted as files), HorizontalPodAutoscaler, PodDisruptionBudget,
  NetworkPolicy.

``model-as-dependency`` has no Kubernetes objects: the ``package`` backend builds the
model into a wheel that the application installs.

The image is named ``<registry>/<project>-serve:unreleased`` here; each overlay sets the
environment's release (:mod:`diva.compiler.backends.kubernetes`). Every object is named after the
project, as the alert rules of the ``alerts`` backend expect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diva.compiler.backends.docker import MODEL_PATH, SERVING_PORT
from diva.compiler.backends.kubernetes import common as k8s
from diva.compiler.ir import Project, Serving

#: The tag the base names the serving image by; overlays replace it.
UNRELEASED = "unreleased"
#: CPU utilisation the autoscaler keeps replicas at.
CPU_TARGET_PERCENT = 70
#: Istio's sidecar serves its Prometheus metrics on these ports (merged, and Envoy's
#: own): the alert rules of model-as-service read them.
ISTIO_METRICS_PORTS = (15020, 15090)
#: precompute: the claim with the input and the predictions, and where it is mounted.
DATA_PATH = "/data"
PRECOMPUTE_SETTINGS = {
    "INPUT_PATH": f"{DATA_PATH}/input.csv",
    "CONTENT_TYPE": "csv",
    "OUTPUT_PATH": f"{DATA_PATH}/predictions.json",
}
#: model-on-demand: where the broker's credentials (a Secret) appear as files.
CREDENTIALS_PATH = "/var/run/secrets/diva/broker"
#: model-on-demand: the consumer container's share of the pod (it waits on the broker
#: and the scoring server; ``diva consume`` uses about 60 MiB).
CONSUMER_CPU = "100m"
CONSUMER_MEMORY = "128Mi"
#: model-on-demand: the file ``diva consume`` touches while it works, and how old it may
#: get (one request may take the consumer's --timeout, 60 s, without a touch).
HEARTBEAT_PATH = f"{k8s.TMP_PATH}/diva-consumer.alive"
HEARTBEAT_STALE_SECONDS = 120

Objects = dict[str, dict[str, Any]]


def objects(project: Project) -> Objects:
    """The base of the project's serving pattern: file name -> object (empty for
    ``model-as-dependency``)."""
    serving = project.serving
    if serving is None or serving.pattern == "model-as-dependency":
        return {}
    key = "kserve" if serving.runtime == "kserve" else serving.pattern
    return _PATTERNS[key](project, serving)


def image(project: Project) -> str:
    return project.image_repository("serve")


# --- shared parts --------------------------------------------------------------------


def _container(project: Project, serving: Serving, name: str, **extra: Any) -> dict[str, Any]:
    """The serving image as a container: resources, read-only root, ``/tmp`` mounted."""
    _, tmp_mount = k8s.tmp_volume()
    mounts = [tmp_mount, *extra.pop("volumeMounts", [])]
    return {
        "name": name,
        "image": f"{image(project)}:{UNRELEASED}",
        "imagePullPolicy": "Always",
        **extra,
        "resources": k8s.resources(serving.cpu, serving.memory, serving.gpu),
        "securityContext": k8s.container_security(),
        "volumeMounts": mounts,
    }


def _server(project: Project, serving: Serving, port_name: str) -> dict[str, Any]:
    """The scoring server of the image's entry point, probed on ``/ping``."""
    port = {"name": port_name, "containerPort": SERVING_PORT, "protocol": "TCP"}
    return _container(project, serving, "model", ports=[port], **k8s.probes())


def _pod(project: Project, component: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": k8s.labels(project.name, component)}, "spec": spec}


def _deployment(project: Project, component: str, pod: dict[str, Any]) -> dict[str, Any]:
    """A Deployment without ``replicas``: the autoscaler owns that number."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": {
            "selector": {"matchLabels": k8s.selector(project.name, component)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": _pod(project, component, pod),
        },
    }


def _autoscaler(project: Project, serving: Serving, component: str) -> dict[str, Any]:
    utilisation = {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": project.name},
            "minReplicas": serving.replicas_min,
            "maxReplicas": serving.replicas_max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": utilisation}}],
        },
    }


def _disruption_budget(project: Project, component: str, pods: dict[str, str]) -> dict[str, Any]:
    """Voluntary disruptions (node drains) take one pod at a time; a single replica may
    go, so that a drain never blocks."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": pods}},
    }


def _network_policy(
    project: Project, component: str, ingress: list[dict[str, Any]]
) -> dict[str, Any]:
    """Ingress only through ``ingress`` (none: no ingress at all); egress stays open,
    since DNS, the mesh and brokers are the cluster's."""
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": k8s.selector(project.name, component)},
        "policyTypes": ["Ingress"],
    }
    if ingress:
        spec["ingress"] = ingress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": spec,
    }


def _config_map(project: Project, component: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": k8s.metadata(f"{project.name}-{component}", project.name, component),
        "data": data,
    }


# --- the patterns --------------------------------------------------------------------


def _service_objects(project: Project, serving: Serving) -> Objects:
    component = "serving"
    tmp_volume, _ = k8s.tmp_volume()
    pod = k8s.pod_spec([_server(project, serving, k8s.HTTP_PORT_NAME)], [tmp_volume], serving.gpu)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": {
            "type": "ClusterIP",
            "selector": k8s.selector(project.name, component),
            "ports": [
                {
                    "name": k8s.HTTP_PORT_NAME,
                    "port": 80,
                    "targetPort": k8s.HTTP_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
    ports = [{"port": SERVING_PORT, "protocol": "TCP"}]
    ports += [{"port": port, "protocol": "TCP"} for port in ISTIO_METRICS_PORTS]
    return {
        "deployment.yaml": _deployment(project, component, pod),
        "service.yaml": service,
        "hpa.yaml": _autoscaler(project, serving, component),
        "pdb.yaml": _disruption_budget(project, component, k8s.selector(project.name, component)),
        "networkpolicy.yaml": _network_policy(project, component, [{"ports": ports}]),
    }


def _kserve_objects(project: Project, serving: Serving) -> Objects:
    component = "serving"
    pods = k8s.selector(project.name, component)
    tmp_volume, _ = k8s.tmp_volume()
    # KServe's custom predictor: a pod spec plus the component's own fields
    predictor = {
        "minReplicas": serving.replicas_min,
        "maxReplicas": serving.replicas_max,
        "labels": k8s.labels(project.name, component),
        **k8s.pod_spec([_server(project, serving, "http1")], [tmp_volume], serving.gpu),
    }
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": k8s.metadata(project.name, project.name, component),
        "spec": {"predictor": predictor},
    }
    return {
        "inferenceservice.yaml": service,
        "pdb.yaml": _disruption_budget(project, component, pods),
    }


def _precompute_objects(project: Project, serving: Serving) -> Objects:
    component = "batch-prediction"
    settings = _config_map(project, component, dict(PRECOMPUTE_SETTINGS))
    env = [
        {
            "name": key,
            "valueFrom": {"configMapKeyRef": {"name": settings["metadata"]["name"], "key": key}},
        }
        for key in PRECOMPUTE_SETTINGS
    ]
    # Kubernetes expands $(NAME) in a command from the container's environment
    command = ["mlflow", "models", "predict", "--model-uri", MODEL_PATH]
    command += ["--input-path", "$(INPUT_PATH)", "--content-type", "$(CONTENT_TYPE)"]
    command += ["--output-path", "$(OUTPUT_PATH)", "--env-manager", "local"]
    data_mount = {"name": "data", "mountPath": DATA_PATH}
    container = _container(
        project,
        serving,
        "predict",
        command=command,
        env=[*env, {"name": "HOME", "value": k8s.TMP_PATH}],
        volumeMounts=[data_mount],
    )
    tmp_volume, _ = k8s.tmp_volume()
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": f"{project.name}-predictions"}}
    pod = k8s.pod_spec([container], [tmp_volume, claim], serving.gpu)
    pod["restartPolicy"] = "Never"
    cron_job = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": k8s.metadata(k8s.dns_label(project.name, 52), project.name, component),
        "spec": {
            "schedule": serving.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": k8s.labels(project.name, component)},
                "spec": {"backoffLimit": 2, "template": _pod(project, component, pod)},
            },
        },
    }
    return {
        "configmap.yaml": settings,
        "cronjob.yaml": cron_job,
        "networkpolicy.yaml": _network_policy(project, component, []),
    }


def _on_demand_objects(project: Project, serving: Serving) -> Objects:
    component = "consumer"
    broker = serving.broker
    assert broker is not None  # validation asks for it with this pattern
    settings = _config_map(
        project,
        component,
        {
            "BROKER_KIND": broker.kind,
            "BROKER_URL": broker.url,
            "INPUT_TOPIC": broker.input_topic,
            "OUTPUT_TOPIC": broker.output_topic,
            "BROKER_CREDENTIALS_DIR": CREDENTIALS_PATH,
            "MODEL_SERVER": f"http://127.0.0.1:{SERVING_PORT}",
        },
    )
    tmp_volume, _ = k8s.tmp_volume()
    secret = {"secretName": f"{project.name}-broker", "optional": True}
    volumes = [tmp_volume, {"name": "broker-credentials", "secret": secret}]
    containers = [
        _server(project, serving, k8s.HTTP_PORT_NAME),
        _consumer(project, settings["metadata"]["name"]),
    ]
    pod = k8s.pod_spec(containers, volumes, serving.gpu)
    pods = k8s.selector(project.name, component)
    return {
        "configmap.yaml": settings,
        "deployment.yaml": _deployment(project, component, pod),
        "hpa.yaml": _autoscaler(project, serving, component),
        "pdb.yaml": _disruption_budget(project, component, pods),
        "networkpolicy.yaml": _network_policy(project, component, []),
    }


def _consumer(project: Project, settings: str) -> dict[str, Any]:
    """``diva consume`` in the serving image, next to the scoring server: the broker
    settings from the ConfigMap (``envFrom``: no ``$(NAME)`` expansion of their values),
    the credentials as files. Only this container sees the credentials."""
    _, tmp_mount = k8s.tmp_volume()
    mount = {"name": "broker-credentials", "mountPath": CREDENTIALS_PATH, "readOnly": True}
    return {
        "name": "consumer",
        "image": f"{image(project)}:{UNRELEASED}",
        "imagePullPolicy": "Always",
        "command": ["diva", "consume", "--heartbeat", HEARTBEAT_PATH],
        "envFrom": [{"configMapRef": {"name": settings}}],
        **_heartbeat_probes(),
        "resources": k8s.resources(CONSUMER_CPU, CONSUMER_MEMORY, 0),
        "securityContext": k8s.container_security(),
        "volumeMounts": [tmp_mount, mount],
    }


def _heartbeat_probes() -> dict[str, Any]:
    """The consumer is alive and ready while its heartbeat file is fresh: it touches
    the file between requests and while it waits for the scoring server."""
    script = (
        "import os, sys, time; "
        f"sys.exit(time.time() - os.stat({HEARTBEAT_PATH!r}).st_mtime > {HEARTBEAT_STALE_SECONDS})"
    )
    check = {"exec": {"command": ["python", "-c", script]}}
    timing = {"periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3}
    return {
        "readinessProbe": {**check, **timing},
        "livenessProbe": {**check, "initialDelaySeconds": k8s.START_SECONDS, **timing},
    }


_PATTERNS: dict[str, Callable[[Project, Serving], Objects]] = {
    "model-as-service": _service_objects,
    "kserve": _kserve_objects,
    "precompute": _precompute_objects,
    "model-on-demand": _on_demand_objects,
}
