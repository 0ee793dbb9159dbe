"""Building blocks of the kubernetes backend: names, labels, hardened pods, resources.

Every workload diva generates runs the same way: as UID 10001 (the user of both images),
with a read-only root filesystem and an ``emptyDir`` at ``/tmp``, no privilege
escalation, every capability dropped, the runtime's default seccomp profile and no
service account token. Objects are plain data (dicts and lists); nothing here is text.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from diva.compiler.backends.docker import SERVING_PORT, USER_ID

#: Annotation and label prefix of diva's own keys (the images use ``io.diva.*`` labels).
DOMAIN = "diva.io"
MODEL_VERSION_ANNOTATION = f"{DOMAIN}/model-version"
#: The extended resource of NVIDIA's device plugin, and its usual node taint.
GPU_RESOURCE = "nvidia.com/gpu"
#: Where pods get a writable scratch folder (the root filesystem is read-only).
TMP_PATH = "/tmp"  # noqa: S108 — an emptyDir of the pod's own, not the host's /tmp
#: The serving container's port name (Istio reads the protocol from the prefix).
HTTP_PORT_NAME = "http"
#: The scoring server's health endpoint (MLflow's ``/ping``).
HEALTH_PATH = "/ping"
#: Seconds the scoring server gets to load the model (the image's HEALTHCHECK start period).
START_SECONDS = 60

_LABEL_MAX = 63


def dns_label(text: str, limit: int = _LABEL_MAX) -> str:
    """``text`` as a DNS-1123 label of at most ``limit`` characters.

    Names in the spec are DNS-1123 labels or ``Name``s (which may hold ``_``); joined,
    they may be too long. Such a name keeps its readable head and ends in a hash of the
    whole, so two different names never meet in one shortened form.
    """
    if len(text) <= limit and re.fullmatch(r"[a-z](?:[a-z0-9-]*[a-z0-9])?", text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = re.sub(r"[^a-z0-9-]", "-", text)[: limit - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def labels(project: str, component: str) -> dict[str, str]:
    """The recommended labels of every object of ``component``."""
    return {
        "app.kubernetes.io/name": project,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": project,
        "app.kubernetes.io/managed-by": "diva",
    }


def selector(project: str, component: str) -> dict[str, str]:
    """The labels that select a component's pods: stable, unlike the others."""
    return {"app.kubernetes.io/name": project, "app.kubernetes.io/component": component}


def metadata(name: str, project: str, component: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": labels(project, component), **extra}


def resources(cpu: str, memory: str, gpu: int) -> dict[str, Any]:
    """Requests equal to limits (a guaranteed pod); GPUs as a limit, which Kubernetes
    copies into the requests."""
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpu > 0:
        limits[GPU_RESOURCE] = gpu
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def gpu_tolerations(gpu: int) -> list[dict[str, str]]:
    """GPU nodes are usually tainted with the resource's name: pods that need one
    tolerate it."""
    if gpu <= 0:
        return []
    return [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]


def _seccomp() -> dict[str, str]:
    return {"type": "RuntimeDefault"}


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "fsGroup": USER_ID,
        "seccompProfile": _seccomp(),
    }


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": USER_ID,
        "runAsGroup": USER_ID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": _seccomp(),
    }


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """The scratch volume and its mount at ``/tmp``."""
    return {"name": "tmp", "emptyDir": {}}, {"name": "tmp", "mountPath": TMP_PATH}


def pod_spec(
    containers: list[dict[str, Any]], volumes: list[dict[str, Any]], gpu: int
) -> dict[str, Any]:
    """A hardened pod: no service account token, non-root, GPU nodes tolerated."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": containers,
        "volumes": volumes,
    }
    tolerations = gpu_tolerations(gpu)
    if tolerations:
        spec["tolerations"] = tolerations
    return spec


def http_probe(**timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": HEALTH_PATH, "port": SERVING_PORT}, **timing}


def probes() -> dict[str, Any]:
    """Readiness and liveness on the scoring server's ``/ping``; liveness waits for the
    model to load, as the image's HEALTHCHECK does."""
    return {
        "readinessProbe": http_probe(periodSeconds=10, timeoutSeconds=5, failureThreshold=3),
        "livenessProbe": http_probe(
            initialDelaySeconds=START_SECONDS,
            periodSeconds=30,
            timeoutSeconds=5,
            failureThreshold=3,
        ),
    }
