"""The ``kubernetes`` backend: the training Job, serving manifests per pattern, overlays.

The specs are the demand-forecast example with its ``serving`` section replaced by one
per pattern (:data:`SERVINGS`) and three environments in the three states of a release
(:data:`RELEASES`): none (dev), a model version by tag (production), a digest (staging).
tests/lint/test_manifests.py runs the real validators on the same specs.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva.compiler.backends import BACKENDS, emit_all, kubernetes
from diva.compiler.ir import Project
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply
from tests.unit.test_github_backend import base_data, project_of, spec_bytes

DIGEST = "sha256:" + "5e" * 32
ENVIRONMENTS = ["dev", "staging", "production"]
RELEASES = {
    "staging": {"model_version": 4, "image_digest": DIGEST},
    "production": {"model_version": 3},
}
BROKER = {
    "kind": "redis",
    "url": "redis://broker.messaging:6379/0",
    "input_topic": "demand.requests",
    "output_topic": "demand.predictions",
}
#: one serving section per pattern (and runtime)
SERVINGS: dict[str, dict[str, Any]] = {
    "service": {
        "pattern": "model-as-service",
        "resources": {"cpu": "1", "memory": "2Gi", "gpu": 1},
        "replicas": {"min": 2, "max": 5},
    },
    "kserve": {
        "pattern": "model-as-service",
        "runtime": "kserve",
        "resources": {"cpu": "2", "memory": "4Gi"},
        "replicas": {"min": 1, "max": 4},
    },
    "precompute": {"pattern": "precompute", "schedule": "30 2 * * *"},
    "on-demand": {"pattern": "model-on-demand", "broker": BROKER},
    "dependency": {"pattern": "model-as-dependency"},
}
#: the files of each pattern's base, besides kustomization.yaml
BASE_FILES = {
    "service": {"deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml", "networkpolicy.yaml"},
    "kserve": {"inferenceservice.yaml", "pdb.yaml", "kustomizeconfig.yaml"},
    "precompute": {"configmap.yaml", "cronjob.yaml", "networkpolicy.yaml"},
    "on-demand": {
        "configmap.yaml",
        "deployment.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "networkpolicy.yaml",
    },
    "dependency": set(),
}
TRAINING_FILES = {
    "deploy/training/job.yaml",
    "deploy/training/kustomization.yaml",
    "deploy/training/namespace.yaml",
    "deploy/training/networkpolicy.yaml",
}


def pattern_data(pattern: str, stage: int = 4, **serving: Any) -> dict[str, Any]:
    data = base_data()
    data["stage"] = stage
    data["serving"] = {**SERVINGS[pattern], "releases": RELEASES, **serving}
    data["platform"]["environments"] = ENVIRONMENTS
    return data


def files(project: Project) -> dict[str, Any]:
    """The backend's files, parsed."""
    yaml = YAML(typ="safe", pure=True)
    return {a.path: yaml.load(io.StringIO(a.text)) for a in kubernetes.emit(project)}


def texts(project: Project) -> dict[str, str]:
    return {artifact.path: artifact.text for artifact in kubernetes.emit(project)}


def pattern_files(pattern: str, **serving: Any) -> dict[str, Any]:
    return files(project_of(pattern_data(pattern, **serving)))


def containers(pod_owner: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_owner["spec"]
    if pod_owner["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    result: list[dict[str, Any]] = pod["containers"]
    return result


def pod_of(pod_owner: dict[str, Any]) -> dict[str, Any]:
    spec = pod_owner["spec"]
    if pod_owner["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, Any] = spec["template"]["spec"]
    return result


# --- registration and stages ---------------------------------------------------------


def test_backend_is_registered_from_stage_3() -> None:
    assert BACKENDS["kubernetes"].first_stage == 3
    assert BACKENDS["kubernetes"].emit is kubernetes.emit


@pytest.mark.parametrize("stage", [0, 2])
def test_no_manifests_before_stage_3(stage: int) -> None:
    data = base_data()
    data["stage"] = stage
    del data["monitoring"]
    if stage < 2:
        for key in ("model", "datasets", "targets", "serving", "slos"):
            data.pop(key)
    project = project_of(data)
    assert kubernetes.emit(project) == []
    assert not [a.path for a in emit_all(project) if a.path.startswith("deploy/training")]


def test_stage_3_gets_the_training_job_only() -> None:
    data = base_data()
    data["stage"] = 3
    for key in ("monitoring", "serving", "slos"):
        del data[key]
    assert set(texts(project_of(data))) == TRAINING_FILES


@pytest.mark.parametrize("pattern", sorted(SERVINGS))
def test_stage_4_files_per_pattern(pattern: str) -> None:
    found = set(pattern_files(pattern))
    expected = set(TRAINING_FILES)
    if BASE_FILES[pattern]:
        expected |= {f"deploy/base/{name}" for name in BASE_FILES[pattern]}
        expected.add("deploy/base/kustomization.yaml")
        for environment in ENVIRONMENTS:
            expected.add(f"deploy/overlays/{environment}/kustomization.yaml")
            expected.add(f"deploy/overlays/{environment}/namespace.yaml")
    assert found == expected


@pytest.mark.parametrize("pattern", sorted(SERVINGS))
def test_base_kustomization_lists_every_base_file(pattern: str) -> None:
    found = pattern_files(pattern)
    if not BASE_FILES[pattern]:
        return
    kustomization = found["deploy/base/kustomization.yaml"]
    listed = set(kustomization["resources"]) | set(kustomization.get("configurations", []))
    assert listed == BASE_FILES[pattern]


def test_every_file_carries_the_generated_header() -> None:
    for pattern in SERVINGS:
        for path, text in texts(project_of(pattern_data(pattern))).items():
            assert text.startswith("# Generated by diva from diva.yaml. Do not edit"), path


# --- the training Job ----------------------------------------------------------------


def training_job(**resources: Any) -> dict[str, Any]:
    data = pattern_data("precompute")
    data["model"]["resources"] = resources
    job: dict[str, Any] = files(project_of(data))["deploy/training/job.yaml"]
    return job


def test_training_job_runs_the_large_pipeline_in_the_training_image() -> None:
    job = training_job()
    (container,) = containers(job)
    assert container["image"] == "ghcr.io/acme-retail/demand-forecast-train:unpinned"
    assert container["args"] == ["--pull", "evaluate-sales-all", "evaluate-sales-recent"]
    assert "command" not in container  # the image's entry point: dvc repro
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert pod_of(job)["restartPolicy"] == "Never"


def test_training_job_resources_come_from_the_model() -> None:
    (container,) = containers(training_job(cpu="6", memory="24Gi"))
    assert container["resources"] == {
        "requests": {"cpu": "6", "memory": "24Gi"},
        "limits": {"cpu": "6", "memory": "24Gi"},
    }


def test_training_job_gets_gpus_and_tolerates_gpu_nodes() -> None:
    job = training_job(gpu=2)
    (container,) = containers(job)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert "nvidia.com/gpu" not in container["resources"]["requests"]
    assert pod_of(job)["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert "tolerations" not in pod_of(training_job())


def test_training_job_writes_only_to_its_volumes() -> None:
    job = training_job()
    (container,) = containers(job)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {"/project": "workspace", "/tmp": "tmp"}
    volumes = {volume["name"]: volume for volume in pod_of(job)["volumes"]}
    claim = volumes["workspace"]["persistentVolumeClaim"]["claimName"]
    assert claim == "demand-forecast-workspace"
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}


def test_training_job_skips_only_the_digest_check() -> None:
    annotations = training_job()["metadata"]["annotations"]
    skips = {key: value for key, value in annotations.items() if key.startswith("checkov.io")}
    assert list(skips) == ["checkov.io/skip1"]
    assert skips["checkov.io/skip1"].startswith("CKV_K8S_43=")


def test_training_kustomization_sets_up_the_namespace_but_leaves_the_job_out() -> None:
    """The Job is created from job.yaml once its image is pinned (docs/serving/)."""
    found = pattern_files("precompute")
    kustomization = found["deploy/training/kustomization.yaml"]
    assert kustomization["namespace"] == "demand-forecast-training"
    assert kustomization["resources"] == ["namespace.yaml", "networkpolicy.yaml"]
    assert found["deploy/training/namespace.yaml"]["metadata"]["name"] == "demand-forecast-training"
    job = found["deploy/training/job.yaml"]
    assert job["metadata"]["namespace"] == "demand-forecast-training"


# --- hardening of every workload ----------------------------------------------------


def workloads(found: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = {"Deployment", "CronJob", "Job"}
    return [data for data in found.values() if data.get("kind") in kinds]


@pytest.mark.parametrize("pattern", sorted(SERVINGS))
def test_every_workload_is_hardened(pattern: str) -> None:
    found = pattern_files(pattern)
    for workload in workloads(found):
        pod = pod_of(workload)
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["runAsUser"] == 10001
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


# --- model-as-service ---------------------------------------------------------------


def test_service_deployment_probes_the_scoring_server() -> None:
    (container,) = containers(pattern_files("service")["deploy/base/deployment.yaml"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ping", "port": 8080}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert "command" not in container  # the image's entry point: the scoring server


def test_service_resources_and_gpu_come_from_serving() -> None:
    deployment = pattern_files("service")["deploy/base/deployment.yaml"]
    (container,) = containers(deployment)
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": 1}
    assert pod_of(deployment)["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_autoscaler_bounds_come_from_the_spec() -> None:
    found = pattern_files("service")
    hpa = found["deploy/base/hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["scaleTargetRef"]["name"] == "demand-forecast"
    assert "replicas" not in found["deploy/base/deployment.yaml"]["spec"]  # the HPA's


def test_service_selects_the_deployment_pods() -> None:
    found = pattern_files("service")
    pods = found["deploy/base/deployment.yaml"]["spec"]["template"]["metadata"]["labels"]
    for path in ("service.yaml", "pdb.yaml", "networkpolicy.yaml"):
        spec = found[f"deploy/base/{path}"]["spec"]
        chosen = spec.get("selector", spec.get("podSelector"))
        chosen = chosen.get("matchLabels", chosen)
        assert chosen.items() <= pods.items(), path


def test_kserve_runs_the_serving_image_as_a_custom_predictor() -> None:
    found = pattern_files("kserve")
    service = found["deploy/base/inferenceservice.yaml"]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 4)
    (container,) = predictor["containers"]
    assert container["image"] == "ghcr.io/acme-retail/demand-forecast-serve:unreleased"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ping"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert not {"deploy/base/deployment.yaml", "deploy/base/hpa.yaml"} & set(found)


# --- precompute and model-on-demand ----------------------------------------------------


def test_precompute_runs_predict_on_the_schedule() -> None:
    found = pattern_files("precompute")
    cron_job = found["deploy/base/cronjob.yaml"]
    assert cron_job["spec"]["schedule"] == "30 2 * * *"
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = containers(cron_job)
    assert container["command"][:3] == ["mlflow", "models", "predict"]
    assert container["command"][-2:] == ["--env-manager", "local"]
    settings = found["deploy/base/configmap.yaml"]["data"]
    for name in re.findall(r"\$\((\w+)\)", " ".join(container["command"])):
        assert name in settings


def test_on_demand_gets_the_broker_from_a_config_map() -> None:
    found = pattern_files("on-demand")
    settings = found["deploy/base/configmap.yaml"]
    assert settings["data"]["BROKER_KIND"] == "redis"
    assert settings["data"]["BROKER_URL"] == "redis://broker.messaging:6379/0"
    assert settings["data"]["INPUT_TOPIC"] == "demand.requests"
    assert settings["data"]["OUTPUT_TOPIC"] == "demand.predictions"
    assert settings["data"]["MODEL_SERVER"] == "http://127.0.0.1:8080"
    deployment = found["deploy/base/deployment.yaml"]
    model, consumer = containers(deployment)
    assert consumer["envFrom"] == [{"configMapRef": {"name": settings["metadata"]["name"]}}]
    assert "envFrom" not in model  # the scoring server needs no broker settings


def test_on_demand_runs_the_scoring_server_and_diva_consume_side_by_side() -> None:
    found = pattern_files("on-demand")
    model, consumer = containers(found["deploy/base/deployment.yaml"])
    assert (model["name"], consumer["name"]) == ("model", "consumer")
    assert model["image"] == consumer["image"]
    assert "command" not in model  # the image's entry point: mlflow models serve
    assert model["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert consumer["command"][:2] == ["diva", "consume"]
    assert "ports" not in consumer
    assert consumer["livenessProbe"]["exec"] == consumer["readinessProbe"]["exec"]
    for container in (model, consumer):
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_on_demand_consumer_probe_reads_the_heartbeat_file(tmp_path: Path) -> None:
    """The probe passes while the file ``diva consume --heartbeat`` touches is fresh, and
    fails when it is stale or missing."""
    (_, consumer) = containers(pattern_files("on-demand")["deploy/base/deployment.yaml"])
    option = consumer["command"].index("--heartbeat")
    heartbeat = tmp_path / "alive"
    command = [
        part.replace(consumer["command"][option + 1], str(heartbeat))
        for part in consumer["livenessProbe"]["exec"]["command"]
    ]
    command[0] = sys.executable

    def probe() -> int:
        return subprocess.run(command, capture_output=True, check=False, timeout=30).returncode

    assert probe() != 0
    heartbeat.touch()
    assert probe() == 0
    old = time.time() - 3600
    os.utime(heartbeat, (old, old))
    assert probe() != 0


def test_on_demand_credentials_reach_the_consumer_only() -> None:
    found = pattern_files("on-demand")
    model, consumer = containers(found["deploy/base/deployment.yaml"])
    mount = {
        "name": "broker-credentials",
        "mountPath": "/var/run/secrets/diva/broker",
        "readOnly": True,
    }
    assert mount in consumer["volumeMounts"]
    assert mount not in model["volumeMounts"]


def test_on_demand_credentials_come_from_a_secret_by_name_only() -> None:
    found = pattern_files("on-demand")
    assert not [data for data in found.values() if data.get("kind") == "Secret"]
    volumes = pod_of(found["deploy/base/deployment.yaml"])["volumes"]
    (secret,) = [volume["secret"] for volume in volumes if "secret" in volume]
    assert secret == {"secretName": "demand-forecast-broker", "optional": True}


# --- overlays: one per environment -------------------------------------------------


def overlay(pattern: str, environment: str) -> dict[str, Any]:
    found = pattern_files(pattern)
    result: dict[str, Any] = found[f"deploy/overlays/{environment}/kustomization.yaml"]
    return result


@pytest.mark.parametrize(
    ("environment", "image", "version"),
    [
        ("staging", {"digest": DIGEST}, "4"),
        ("production", {"newTag": "v3"}, "3"),
        ("dev", {"newTag": "unreleased"}, "unreleased"),
    ],
)
def test_overlay_pins_the_environment_release(
    environment: str, image: dict[str, str], version: str
) -> None:
    kustomization = overlay("service", environment)
    assert kustomization["images"] == [
        {"name": "ghcr.io/acme-retail/demand-forecast-serve", **image}
    ]
    assert kustomization["commonAnnotations"]["diva.io/model-version"] == version
    skip = kustomization["commonAnnotations"].get("checkov.io/skip1")
    if "digest" in image:
        assert skip is None  # nothing to excuse: checkov checks the digest
    else:
        assert skip is not None
        assert skip.startswith("CKV_K8S_43=")


def test_overlay_namespace_and_instance_label() -> None:
    kustomization = overlay("precompute", "staging")
    assert kustomization["namespace"] == "demand-forecast-staging"
    assert kustomization["resources"] == ["../../base", "namespace.yaml"]
    (labels,) = kustomization["labels"]
    assert labels["pairs"] == {"app.kubernetes.io/instance": "demand-forecast-staging"}


def test_namespaces_are_dns_labels_even_for_odd_environment_names() -> None:
    data = pattern_data("service", releases={})
    long = "e" + "x" * 62
    data["platform"]["environments"] = ["blue_green", "blue-green", long]
    found = files(project_of(data))
    names = [
        found[f"deploy/overlays/{environment}/namespace.yaml"]["metadata"]["name"]
        for environment in data["platform"]["environments"]
    ]
    assert names[1] == "demand-forecast-blue-green"
    assert len(set(names)) == 3
    for name in names:
        assert re.fullmatch(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", name), name


def test_names_of_a_long_project_fit_their_limits() -> None:
    data = pattern_data("precompute")
    data["project"]["name"] = "p" * 63
    found = files(project_of(data))
    assert len(found["deploy/base/cronjob.yaml"]["metadata"]["name"]) <= 52  # + job suffix
    for path in ("job.yaml", "namespace.yaml"):
        assert len(found[f"deploy/training/{path}"]["metadata"]["name"]) <= 63, path


# --- hostile values stay data ----------------------------------------------------------

#: Everything a URL may hold (no whitespace, no password) that YAML or a shell would read.
HOSTILE_URL = "redis://b:6379/?q=\":{evil:1}#'&*a!t|>%{{}}$(HOME)${X}`id`"


def test_hostile_broker_url_stays_one_value() -> None:
    data = pattern_data("on-demand", broker={**BROKER, "url": HOSTILE_URL})
    found = files(project_of(data))
    assert found["deploy/base/configmap.yaml"]["data"]["BROKER_URL"] == HOSTILE_URL
    clean = pattern_files("on-demand")
    assert set(found) == set(clean)
    for path, document in found.items():
        if path != "deploy/base/configmap.yaml":
            assert document == clean[path], path  # nothing else changes
    settings = found["deploy/base/configmap.yaml"]["data"]
    assert set(settings) == set(clean["deploy/base/configmap.yaml"]["data"])


def test_hostile_url_reaches_no_command_or_env_value() -> None:
    """Kubernetes expands ``$(NAME)`` in commands, arguments and env values, not in a
    ConfigMap read with envFrom."""
    data = pattern_data("on-demand", broker={**BROKER, "url": HOSTILE_URL})
    for container in containers(files(project_of(data))["deploy/base/deployment.yaml"]):
        assert "env" not in container
        assert HOSTILE_URL not in str(container)


# --- switching patterns ------------------------------------------------------------


def compile_into(folder: Path, data: dict[str, Any]) -> set[str]:
    """Compile ``data`` in ``folder`` as ``diva compile`` does; the files under deploy/."""
    (folder / "diva.yaml").write_bytes(spec_bytes(data))
    apply(plan_job(Job(folder / "diva.yaml", folder)))
    deploy = folder / "deploy"
    return {path.relative_to(folder).as_posix() for path in deploy.rglob("*") if path.is_file()}


def serving_manifests(paths: set[str]) -> set[str]:
    return {path for path in paths if path.startswith(("deploy/base/", "deploy/overlays/"))}


def test_changing_the_pattern_switches_the_files_and_removes_stale_ones(tmp_path: Path) -> None:
    service = compile_into(tmp_path, pattern_data("service"))
    assert "deploy/base/deployment.yaml" in service
    precompute = compile_into(tmp_path, pattern_data("precompute"))
    expected = {f"deploy/base/{name}" for name in BASE_FILES["precompute"]}
    assert {p for p in precompute if p.startswith("deploy/base/")} == expected | {
        "deploy/base/kustomization.yaml"
    }
    for stale in ("deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml"):
        assert not (tmp_path / "deploy" / "base" / stale).exists(), stale
    dependency = compile_into(tmp_path, pattern_data("dependency"))
    assert serving_manifests(dependency) == set()
    assert not (tmp_path / "deploy" / "overlays").exists()
    assert dependency >= TRAINING_FILES


def test_dropping_an_environment_removes_its_overlay(tmp_path: Path) -> None:
    compile_into(tmp_path, pattern_data("kserve"))
    data = pattern_data("kserve")
    data["platform"]["environments"] = ["staging", "production"]
    remaining = compile_into(tmp_path, data)
    assert not [path for path in remaining if path.startswith("deploy/overlays/dev/")]
    assert not (tmp_path / "deploy" / "overlays" / "dev").exists()
