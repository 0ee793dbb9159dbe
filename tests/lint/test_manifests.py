"""Generated Kubernetes manifests render with kustomize and pass the real validators.

Every example (compiled at stage 3 or later: an earlier one is raised to stage 3) and
every serving pattern of tests/support/backends.py (``SERVINGS``) is compiled the way a
project is, then each kustomization — the training Job and every environment's
overlay — is rendered with ``kubectl kustomize`` and checked:

* core objects with ``kubernetes-validate --strict -k 1.30.0`` (unknown fields fail);
* InferenceServices against KServe's CRD schema (``../shared/schemas/``), closed the
  way ``--strict`` closes the core schemas;
* everything with ``checkov --framework kubernetes``, which must fail no check; the only
  skip allowed is the image-digest check of an image that has no digest yet, and each
  such skip says why in its annotation.

Planted flaws show that each validator does catch what it is there for.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from diva.compiler.ir import Project
from diva.compiler.pipeline import Job, plan_job
from diva.compiler.writer import apply
from tests.support.backends import DIGEST, SERVINGS, pattern_data, project_of, spec_bytes
from tests.support.linters import checkov, run, tool
from tests.support.paths import EXAMPLES, ROOT

KUBERNETES_VERSION = "1.30.0"
KSERVE_SCHEMA = ROOT.parent / "shared" / "schemas" / "kserve-inferenceservice-v1beta1.schema.json"
KSERVE_KIND = ("serving.kserve.io/v1beta1", "InferenceService")
#: what the cases must produce between them, so that no validator passes on nothing
EXPECTED_KINDS = {
    "ConfigMap",
    "CronJob",
    "Deployment",
    "HorizontalPodAutoscaler",
    "InferenceService",
    "Job",
    "Namespace",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
}
#: where `nox -s tests` installs checkov (noxfile.py), for runs of pytest without nox
NOX_CHECKOV = ROOT / ".nox" / "_tools" / "checkov" / "bin" / "checkov"
#: a base image for examples raised to stage 3
STAND_IN_BASE = "registry.example.com/base/{framework}:1@sha256:" + "0" * 64


def example_data(spec: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(spec.read_text(encoding="utf-8"))
    if project_of(data).stage < 3:
        data["stage"] = 3
        framework = data["model"]["framework"]
        bases = data.setdefault("platform", {}).setdefault("base_images", {})
        bases[framework] = STAND_IN_BASE.format(framework=framework)
    return data


CASES: dict[str, dict[str, Any]] = {
    f"example-{spec.parent.name}": example_data(spec) for spec in EXAMPLES
} | {f"pattern-{pattern}": pattern_data(pattern) for pattern in SERVINGS}


def targets_of(project: Project) -> list[str]:
    """The kustomizations a compiled project has: the training Job, then one overlay
    per environment when its serving pattern has Kubernetes objects."""
    targets = ["training"]
    serving = project.serving
    if project.stage >= 4 and serving and serving.pattern != "model-as-dependency":
        targets += [f"overlays/{environment}" for environment in project.environments]
    return targets


TARGETS = [
    (case, target) for case, data in CASES.items() for target in targets_of(project_of(data))
]
TARGET_IDS = [f"{case}:{target}" for case, target in TARGETS]


def load_all(text: str) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe", pure=True).load_all(io.StringIO(text)) if doc]


def dump_all(documents: list[dict[str, Any]]) -> str:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump_all(documents, stream)
    return stream.getvalue()


def images(value: Any) -> Iterator[str]:
    """Every container image named anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("containers", "initContainers"):
                yield from (container["image"] for container in item)
            else:
                yield from images(item)
    elif isinstance(value, list):
        for item in value:
            yield from images(item)


def is_kserve(document: dict[str, Any]) -> bool:
    return (document.get("apiVersion"), document.get("kind")) == KSERVE_KIND


# --- compile and render -----------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    returncode: int
    stderr: str
    documents: list[dict[str, Any]]
    #: every rendered object, as checkov reads it
    path: Path
    #: the core objects only, as kubernetes-validate reads them
    core_path: Path


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed (it renders kustomizations offline)")
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Rendered]:
    """Every case compiled into its own project folder, each kustomization rendered."""
    root = tmp_path_factory.mktemp("manifests")
    out = root / "rendered"
    out.mkdir()
    results = {}
    for case, data in CASES.items():
        project = root / case
        project.mkdir()
        (project / "diva.yaml").write_bytes(spec_bytes(data))
        apply(plan_job(Job(project / "diva.yaml", project)))
        for case_, target in TARGETS:
            if case_ == case:
                results[case, target] = render(project / "deploy" / target, out, case, target)
    return results


def render(folder: Path, out: Path, case: str, target: str) -> Rendered:
    """``kubectl kustomize`` of ``folder``; for the training folder, its Job too (the
    Job is created from job.yaml, outside the kustomization)."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    documents = load_all(result.stdout) if result.returncode == 0 else []
    if target == "training":
        documents += load_all((folder / "job.yaml").read_text(encoding="utf-8"))
    name = f"{case}--{target.replace('/', '-')}"
    path, core_path = out / f"{name}.yaml", out / f"{name}.core.yaml"
    path.write_text(dump_all(documents))
    core_path.write_text(dump_all([doc for doc in documents if not is_kserve(doc)]))
    return Rendered(result.returncode, result.stderr, documents, path, core_path)


def test_each_case_has_its_kustomizations(tmp_path: Path) -> None:
    """An overlay per environment of a pattern with Kubernetes objects; none otherwise."""
    for case, data in CASES.items():
        project = project_of(data)
        overlays = [target for case_, target in TARGETS if case_ == case][1:]
        if project.serving is not None and project.serving.pattern != "model-as-dependency":
            assert len(overlays) == len(project.environments), case


@pytest.mark.parametrize(("case", "target"), TARGETS, ids=TARGET_IDS)
def test_kustomization_renders(
    case: str, target: str, rendered: dict[tuple[str, str], Rendered]
) -> None:
    result = rendered[case, target]
    assert result.returncode == 0, result.stderr
    assert result.documents


def test_the_cases_cover_every_kind(rendered: dict[tuple[str, str], Rendered]) -> None:
    """The validators below cannot pass by finding nothing to validate."""
    kinds = {doc["kind"] for result in rendered.values() for doc in result.documents}
    assert kinds >= EXPECTED_KINDS


def test_the_training_job_is_pinned_as_documented(tmp_path: Path) -> None:
    """docs/serving/kubernetes.md#the-training-job: kubectl, offline, sets the digest
    on the image and in DIVA_IMAGE_DIGEST."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "diva.yaml").write_bytes(spec_bytes(CASES["pattern-precompute"]))
    apply(plan_job(Job(project / "diva.yaml", project)))
    reference = f"ghcr.io/acme-retail/demand-forecast-train@{DIGEST}"
    job = project / "deploy" / "training" / "job.yaml"
    pinned = kubectl_local("set", "image", "-f", str(job), f"train={reference}")
    pinned = kubectl_local("set", "env", "-f", "-", f"DIVA_IMAGE_DIGEST={DIGEST}", stdin=pinned)
    (document,) = load_all(pinned)
    (container,) = document["spec"]["template"]["spec"]["containers"]
    assert container["image"] == reference
    assert {"name": "DIVA_IMAGE_DIGEST", "value": DIGEST} in container["env"]
    assert document["metadata"]["namespace"] == "demand-forecast-training"


def kubectl_local(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [kubectl(), *args, "--local", "-o", "yaml"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("environment", "reference"),
    [("staging", f"@{DIGEST}"), ("production", ":v3"), ("dev", ":unreleased")],
)
def test_rendered_workloads_run_the_environment_release(
    environment: str, reference: str, rendered: dict[tuple[str, str], Rendered]
) -> None:
    (deployment,) = [
        doc
        for doc in rendered["pattern-service", f"overlays/{environment}"].documents
        if doc["kind"] == "Deployment"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/acme-retail/demand-forecast-serve{reference}"
    assert deployment["metadata"]["namespace"] == f"demand-forecast-{environment}"


# --- kubernetes-validate ------------------------------------------------------------------


def kubernetes_validate(*paths: Path) -> dict[str, list[str]]:
    """The output lines of one run, by the file they are about."""
    command = [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION]
    result = subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=300, check=False
    )
    lines: dict[str, list[str]] = {}
    for line in (result.stdout + result.stderr).splitlines():
        level, _, rest = line.partition(" ")
        file, _, message = rest.partition(" ")
        lines.setdefault(file, []).append(f"{level} {message}")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return lines


@pytest.fixture(scope="module")
def validated(
    rendered: dict[tuple[str, str], Rendered], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    return kubernetes_validate(*(result.core_path for result in rendered.values()))


@pytest.mark.parametrize(("case", "target"), TARGETS, ids=TARGET_IDS)
def test_core_objects_pass_kubernetes_validate(
    case: str,
    target: str,
    rendered: dict[tuple[str, str], Rendered],
    validated: dict[str, list[str]],
) -> None:
    result = rendered[case, target]
    lines = validated.get(str(result.core_path), [])
    core = [doc for doc in result.documents if not is_kserve(doc)]
    assert [line for line in lines if not line.startswith("INFO ")] == []
    assert len([line for line in lines if " passed for resource " in line]) == len(core)


def test_kubernetes_validate_does_catch_an_unknown_field(
    rendered: dict[tuple[str, str], Rendered], tmp_path: Path
) -> None:
    """--strict means something: a misspelt field (camel case gone wrong) fails."""
    documents = copy.deepcopy(rendered["pattern-service", "overlays/staging"].documents)
    (deployment,) = [doc for doc in documents if doc["kind"] == "Deployment"]
    security = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security["readOnlyRootFileSystem"] = security.pop("readOnlyRootFilesystem")
    path = tmp_path / "planted.yaml"
    path.write_text(dump_all([deployment]))
    (line,) = kubernetes_validate(path)[str(path)]
    assert line.startswith("ERROR ")
    assert "readOnlyRootFileSystem" in line


# --- the KServe schema -------------------------------------------------------------------


def closed(schema: Any) -> Any:
    """``schema`` with unknown properties refused wherever it lists the known ones and
    does not say it keeps unknown ones (the API server would silently drop them)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    keeps = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in schema and "additionalProperties" not in schema and not keeps:
        result["additionalProperties"] = False
    return result


@pytest.fixture(scope="module")
def kserve_validator() -> jsonschema.protocols.Validator:
    if not KSERVE_SCHEMA.is_file():
        pytest.skip(f"{KSERVE_SCHEMA} is missing (the vendored schemas live in ../shared)")
    schema = closed(json.loads(KSERVE_SCHEMA.read_text(encoding="utf-8")))
    validator: jsonschema.protocols.Validator = jsonschema.Draft7Validator(schema)
    return validator


def kserve_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def inference_services(result: Rendered) -> Iterator[dict[str, Any]]:
    return (doc for doc in result.documents if is_kserve(doc))


@pytest.mark.parametrize(("case", "target"), TARGETS, ids=TARGET_IDS)
def test_inference_services_match_the_kserve_schema(
    case: str,
    target: str,
    rendered: dict[tuple[str, str], Rendered],
    kserve_validator: jsonschema.protocols.Validator,
) -> None:
    for document in inference_services(rendered[case, target]):
        assert kserve_errors(kserve_validator, document) == []


def test_kserve_schema_does_catch_an_unknown_field(
    rendered: dict[tuple[str, str], Rendered], kserve_validator: jsonschema.protocols.Validator
) -> None:
    (service,) = inference_services(rendered["pattern-kserve", "overlays/staging"])
    planted = copy.deepcopy(service)
    planted["spec"]["predictor"]["minReplica"] = planted["spec"]["predictor"].pop("minReplicas")
    (error,) = kserve_errors(kserve_validator, planted)
    assert "minReplica" in error


# --- checkov --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckovReport:
    summary: dict[str, Any]
    #: the IDs of the failed checks, by file path
    failed: dict[str, list[str]]
    #: (check ID, its reason) of the skipped checks, by file path
    skipped: dict[str, list[tuple[str, str]]]
    planted: Path


def planted_deployment(documents: list[dict[str, Any]], directory: Path) -> Path:
    """A rendered Deployment whose container may write its root filesystem."""
    (deployment,) = copy.deepcopy([doc for doc in documents if doc["kind"] == "Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesystem"
    ] = False
    path = directory / "planted.yaml"
    path.write_text(dump_all([deployment]))
    return path


def checkov_executable() -> str:
    """``DIVA_CHECKOV``, else checkov on PATH, else the one nox installed."""
    configured = "DIVA_CHECKOV" in os.environ or shutil.which("checkov") is not None
    return checkov() if configured or not NOX_CHECKOV.is_file() else str(NOX_CHECKOV)


@pytest.fixture(scope="module")
def checkov_report(
    rendered: dict[tuple[str, str], Rendered], tmp_path_factory: pytest.TempPathFactory
) -> CheckovReport:
    """One checkov run over every rendered kustomization and a planted flaw."""
    work = tmp_path_factory.mktemp("checkov")  # the working directory has no .checkov.yaml
    flawed = planted_deployment(rendered["pattern-service", "overlays/staging"].documents, work)
    # not --quiet: it would leave the skipped checks out of the report
    command = [checkov_executable(), "--skip-download", "--compact", "--framework", "kubernetes"]
    for path in [*(result.path for result in rendered.values()), flawed]:
        command += ["--file", str(path)]
    report = json.loads(run(*command, "--output", "json", unset=("CKV_", "BC_"), cwd=work))
    failed: dict[str, list[str]] = {}
    for check in report["results"]["failed_checks"]:
        failed.setdefault(check["file_abs_path"], []).append(check["check_id"])
    skipped: dict[str, list[tuple[str, str]]] = {}
    for check in report["results"]["skipped_checks"]:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        skipped.setdefault(check["file_abs_path"], []).append((check["check_id"], reason))
    return CheckovReport(report["summary"], failed, skipped, flawed)


def test_checkov_parses_every_file(checkov_report: CheckovReport) -> None:
    assert checkov_report.summary["parsing_errors"] == 0
    assert checkov_report.summary["resource_count"] > len(TARGETS)


@pytest.mark.parametrize(("case", "target"), TARGETS, ids=TARGET_IDS)
def test_checkov_fails_no_check(
    case: str,
    target: str,
    rendered: dict[tuple[str, str], Rendered],
    checkov_report: CheckovReport,
) -> None:
    assert checkov_report.failed.get(str(rendered[case, target].path), []) == []


@pytest.mark.parametrize(("case", "target"), TARGETS, ids=TARGET_IDS)
def test_checkov_skips_only_the_digest_check_of_unpinned_images(
    case: str,
    target: str,
    rendered: dict[tuple[str, str], Rendered],
    checkov_report: CheckovReport,
) -> None:
    result = rendered[case, target]
    skipped = checkov_report.skipped.get(str(result.path), [])
    assert {check for check, _ in skipped} <= {"CKV_K8S_43"}
    assert all(reason for _, reason in skipped), skipped  # each says why
    checked = [doc for doc in result.documents if not is_kserve(doc)]  # unknown to checkov
    unpinned = [image for image in images(checked) if "@sha256:" not in image]
    assert bool(skipped) == bool(unpinned)


def test_checkov_does_catch_a_planted_flaw(checkov_report: CheckovReport) -> None:
    """The zero-failures test means something: a writable root filesystem is found,
    under the path the other tests look up."""
    assert "CKV_K8S_22" in checkov_report.failed[str(checkov_report.planted)]
