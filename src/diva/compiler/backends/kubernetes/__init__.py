"""Kubernetes backend: the training Job (stage 3) and the serving manifests (stage 4).

* ``deploy/training/`` — the training Job and a kustomization of its namespace
  ``<project>-training`` (:mod:`diva.compiler.backends.kubernetes.training`);
* ``deploy/base/`` — the objects of ``serving.pattern`` (:mod:`.serving`)
  and their kustomization;
* ``deploy/overlays/<environment>/`` — one per ``platform.environments`` entry: the
  namespace ``<project>-<environment>``, the ``app.kubernetes.io/instance`` label, and
  the environment's release: the serving image by the digest of
  ``serving.releases.<environment>``, else by its tag ``v<model version>``, else by the
  tag ``unreleased``, and the model version as the ``diva.io/model-version``
  annotation. ``kubectl apply -k deploy/overlays/<environment>`` deploys it.

``model-as-dependency`` has no base and no overlays. Every value reaches the YAML as
data, serialized once by :func:`diva.compiler.render.yaml_text` (docs/serving/kubernetes.md).
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.kubernetes import common as k8s
from diva.compiler.backends.kubernetes import serving as k8s_serving
from diva.compiler.backends.kubernetes import training as k8s_training
from diva.compiler.ir import Project, Release
from diva.compiler.render import Artifact, yaml_text
from diva.contract import DEPLOY_DIR

TRAINING_DIR = f"{DEPLOY_DIR}/training"
BASE_DIR = f"{DEPLOY_DIR}/base"
OVERLAYS_DIR = f"{DEPLOY_DIR}/overlays"
KUSTOMIZATION = "kustomization.yaml"
NAMESPACE_FILE = "namespace.yaml"
#: kustomize does not know where an InferenceService keeps its containers.
KSERVE_CONFIG = "kustomizeconfig.yaml"
#: Pod Security Standards: restricted is what the pods meet; it is reported (warn,
#: audit), not enforced, so that a mesh's injected init containers still start.
POD_SECURITY = {
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def emit(project: Project) -> list[Artifact]:
    if project.stage < 3 or project.model is None:
        return []
    files = _training(project)
    serving = k8s_serving.objects(project) if project.stage >= 4 else {}
    if serving:
        files |= _base(project, serving)
        for environment in project.environments:
            files |= _overlay(project, environment)
    return [Artifact(path, yaml_text(data, project.spec_file)) for path, data in files.items()]


def namespace_of(project: Project, environment: str) -> str:
    """The namespace of an environment's overlay: ``<project>-<environment>``, as a
    DNS-1123 label."""
    return k8s.dns_label(f"{project.name}-{environment}")


def _kustomization(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def _namespace(name: str, project: Project, component: str) -> dict[str, Any]:
    meta = k8s.metadata(name, project.name, component)
    meta["labels"] |= POD_SECURITY
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _training(project: Project) -> dict[str, Any]:
    namespace = k8s_training.namespace(project)
    # the Job is created from job.yaml once its image is pinned (k8s_training)
    kustomization = _kustomization(
        namespace=namespace, resources=[NAMESPACE_FILE, "networkpolicy.yaml"]
    )
    return {
        f"{TRAINING_DIR}/{KUSTOMIZATION}": kustomization,
        f"{TRAINING_DIR}/{NAMESPACE_FILE}": _namespace(namespace, project, k8s_training.COMPONENT),
        f"{TRAINING_DIR}/job.yaml": k8s_training.job(project),
        f"{TRAINING_DIR}/networkpolicy.yaml": k8s_training.network_policy(project),
    }


def _base(project: Project, objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    files: dict[str, Any] = {f"{BASE_DIR}/{name}": data for name, data in objects.items()}
    fields: dict[str, Any] = {"resources": sorted(objects)}
    if "inferenceservice.yaml" in objects:
        fields["configurations"] = [KSERVE_CONFIG]
        files[f"{BASE_DIR}/{KSERVE_CONFIG}"] = _kserve_config()
    files[f"{BASE_DIR}/{KUSTOMIZATION}"] = _kustomization(**fields)
    return files


def _kserve_config() -> dict[str, Any]:
    """Teaches kustomize's image transformer the predictor's containers."""
    path = "spec/predictor/containers[]/image"
    return {"images": [{"path": path, "kind": "InferenceService"}]}


def _overlay(project: Project, environment: str) -> dict[str, Any]:
    namespace = namespace_of(project, environment)
    assert project.serving is not None
    release = project.serving.releases.get(environment)
    version = str(release.model_version) if release else k8s_serving.UNRELEASED
    annotations = {k8s.MODEL_VERSION_ANNOTATION: version}
    if release is None or release.image_digest is None:
        annotations["checkov.io/skip1"] = _unpinned_reason(environment, release)
    kustomization = _kustomization(
        namespace=namespace,
        resources=["../../base", NAMESPACE_FILE],
        labels=[{"pairs": {"app.kubernetes.io/instance": namespace}, "includeTemplates": True}],
        commonAnnotations=annotations,
        images=[{"name": k8s_serving.image(project), **_image_version(release)}],
    )
    folder = f"{OVERLAYS_DIR}/{environment}"
    return {
        f"{folder}/{KUSTOMIZATION}": kustomization,
        f"{folder}/{NAMESPACE_FILE}": _namespace(namespace, project, "serving"),
    }


def _image_version(release: Release | None) -> dict[str, str]:
    if release is None:
        return {"newTag": k8s_serving.UNRELEASED}
    if release.image_digest is None:
        return {"newTag": f"v{release.model_version}"}
    return {"digest": release.image_digest}


def _unpinned_reason(environment: str, release: Release | None) -> str:
    """Why an environment's image has no digest yet: checkov's digest check is skipped
    for that environment only, saying so."""
    if release is None:
        what = f"no release for {environment} yet (serving.releases.{environment})"
    else:
        what = f"model version {release.model_version} by its tag until the release workflow"
        what += f" records its digest (serving.releases.{environment}.image_digest)"
    return f"CKV_K8S_43={what}"
