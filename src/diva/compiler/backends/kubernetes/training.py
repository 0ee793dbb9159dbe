"""The training Job of the kubernetes backend (stage 3): ``deploy/training/``.

The training image holds the project's requirements, diva and DVC, but neither code nor
data (docs/images.md): the Job runs its entry point, ``dvc repro --pull`` of the large
datasets, in ``/project``, a checkout of the repository on the PersistentVolumeClaim
``<project>-workspace`` that the cluster's owner provides.

The image's digest exists only once ``diva build train --push`` has run, after
``diva compile``, so ``job.yaml`` names the image by the tag ``unpinned``, which no build
produces: created as it is, the pod fails to pull. It is not one of the kustomization's
resources: ``kubectl apply -k deploy/training`` sets up the namespace and its
NetworkPolicy, and the Job is created from ``job.yaml`` with the digest set, together
with ``DIVA_IMAGE_DIGEST``, the tag every MLflow run of the Job carries and the
large-scale checkpoint counts (docs/serving/kubernetes.md#the-training-job). A
kustomization the user edits would be a generated file edited by hand, which
``diva compile`` refuses to overwrite. checkov's image-digest check is skipped on this
Job alone, saying why.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.backends.docker import PROJECT_PATH
from diva.compiler.backends.kubernetes import common as k8s
from diva.compiler.ir import Project
from diva.contract import IMAGE_DIGEST_ENV, ROOT_ENV

COMPONENT = "training"
CONTAINER = "train"
#: The placeholder tag of the training image until the digest is set at creation.
UNPINNED = "unpinned"
#: A failed pipeline is rerun once (a preempted node), not forever.
BACKOFF_LIMIT = 1
#: Finished Jobs (and their logs) are kept for a day.
TTL_SECONDS = 86_400
DIGEST_SKIP = (
    "CKV_K8S_43=the training image's digest is known only after `diva build train "
    "--push`; it is set when the Job is created (docs/serving/kubernetes.md)"
)


def job_name(project: Project) -> str:
    return k8s.dns_label(f"{project.name}-train")


def namespace(project: Project) -> str:
    return k8s.dns_label(f"{project.name}-training")


def workspace_claim(project: Project) -> str:
    return f"{project.name}-workspace"


def job(project: Project) -> dict[str, Any]:
    assert project.model is not None
    cpu, memory, gpu = project.model.resources
    tmp_volume, tmp_mount = k8s.tmp_volume()
    container = {
        "name": CONTAINER,
        "image": f"{project.image_repository('train')}:{UNPINNED}",
        "imagePullPolicy": "Always",
        # the image's entry point is `dvc repro`; its data comes from the DVC remote
        "args": ["--pull", *(f"evaluate-{d.name}" for d in project.large_datasets)],
        "workingDir": PROJECT_PATH,
        "env": [
            {"name": IMAGE_DIGEST_ENV, "value": UNPINNED},
            {"name": ROOT_ENV, "value": PROJECT_PATH},
            {"name": "HOME", "value": k8s.TMP_PATH},
        ],
        "resources": k8s.resources(cpu, memory, gpu),
        "securityContext": k8s.container_security(),
        "volumeMounts": [{"name": "workspace", "mountPath": PROJECT_PATH}, tmp_mount],
    }
    claim = {"name": "workspace", "persistentVolumeClaim": {"claimName": workspace_claim(project)}}
    pod = k8s.pod_spec([container], [claim, tmp_volume], gpu)
    pod["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": k8s.metadata(
            job_name(project),
            project.name,
            COMPONENT,
            # not in the kustomization, so it names its namespace itself
            namespace=namespace(project),
            annotations={"checkov.io/skip1": DIGEST_SKIP},
        ),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {
                "metadata": {"labels": k8s.labels(project.name, COMPONENT)},
                "spec": pod,
            },
        },
    }


def network_policy(project: Project) -> dict[str, Any]:
    """Nothing connects to a training pod; it reaches out to the DVC remote and MLflow."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": k8s.metadata(job_name(project), project.name, COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": k8s.selector(project.name, COMPONENT)},
            "policyTypes": ["Ingress"],
        },
    }
