"""DVC backend: ``dvc.yaml`` (one pipeline per dataset of an active scale) and ``params.yaml``.

Layout: each project gets its own ``dvc.yaml`` next to its ``diva.yaml``. DVC rewrites
``dvc.lock`` after every stage, so one file with every project's stages costs time
quadratic in the stage count; one small file per project keeps a monorepo linear
(``dvc repro -R`` or one ``dvc repro`` per project).
"""

from __future__ import annotations

from typing import Any

from diva.compiler.ir import Dataset, Model, Project
from diva.compiler.render import Artifact, yaml_text

PARAMS_FILE = "params.yaml"


def emit(project: Project) -> list[Artifact]:
    model = project.model
    if model is None:  # validation requires a model from stage 2; nothing to pipe without it
        return []
    stages: dict[str, Any] = {}
    for dataset in project.pipeline_datasets:
        stages.update(_stages(model, dataset))
    artifacts = [Artifact("dvc.yaml", yaml_text({"stages": stages}, project.spec_file))]
    if model.params:
        params = yaml_text(_thaw(model.params), project.spec_file)
        artifacts.append(Artifact(PARAMS_FILE, params))
    return artifacts


def _stages(model: Model, dataset: Dataset) -> dict[str, Any]:
    code = list(model.code_deps)
    params = [{PARAMS_FILE: sorted(model.params)}] if model.params else []
    source = dataset.path
    stages: dict[str, Any] = {}
    if model.prepare:
        stages[f"prepare-{dataset.name}"] = _stage(
            f"python {model.prepare} --dataset {dataset.name}",
            deps=[*code, dataset.path],
            params=params,
            outs=[dataset.prepared],
        )
        source = dataset.prepared
    stages[f"train-{dataset.name}"] = _stage(
        f"python {model.train} --dataset {dataset.name}",
        deps=[*code, source],
        params=params,
        outs=[dataset.model],
    )
    stages[f"evaluate-{dataset.name}"] = {
        **_stage(
            f"python {model.evaluate} --dataset {dataset.name}",
            deps=[*code, source, dataset.model],
            params=params,
            outs=[],
        ),
        "metrics": [{dataset.metrics: {"cache": False}}],
        "plots": [{dataset.plots: {"cache": False}}],
    }
    return stages


def _stage(cmd: str, *, deps: list[str], params: list[Any], outs: list[str]) -> dict[str, Any]:
    stage: dict[str, Any] = {"cmd": cmd, "deps": deps}
    if params:
        stage["params"] = params
    if outs:
        stage["outs"] = outs
    return stage


def _thaw(value: Any) -> Any:
    """Plain dicts and lists again, for the serializer."""
    if hasattr(value, "items"):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value
