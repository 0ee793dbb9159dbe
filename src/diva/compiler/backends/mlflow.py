"""MLflow backend: the project's tracking configuration and an ``MLproject``.

``generated/project.json`` is the one place that names the tracking URI, experiment,
registered model and artifact location, and where each dataset's pipeline reads and
writes. :mod:`diva.runtime`, the stage gates and CI all read it.
"""

from __future__ import annotations

from typing import Any

from diva.compiler.ir import Project
from diva.compiler.render import Artifact, json_text, yaml_text
from diva.contract import RUNTIME_CONFIG

CONFIG_VERSION = 1


def emit(project: Project) -> list[Artifact]:
    if project.model is None:
        return []
    return [
        Artifact(RUNTIME_CONFIG, json_text(_config(project), project.spec_file)),
        Artifact("MLproject", yaml_text(_mlproject(project), project.spec_file)),
        Artifact("python_env.yaml", yaml_text(_python_env(project), project.spec_file)),
    ]


def _config(project: Project) -> dict[str, Any]:
    assert project.model is not None
    return {
        "version": CONFIG_VERSION,
        "project": project.name,
        "stage": project.stage,
        "mlflow": {
            "tracking_uri": project.mlflow.tracking_uri,
            "experiment": project.mlflow.experiment,
            "registered_model": project.model.registered_name,
            "artifact_location": project.mlflow.artifact_location,
        },
        "model": {"framework": project.model.framework, "task": project.model.task},
        "datasets": {
            dataset.name: {
                "scale": dataset.scale,
                "path": dataset.path,
                "version": dataset.version,
                "prepared": dataset.prepared if project.model.prepare else None,
                "model": dataset.model,
                "metrics": dataset.metrics,
                "plots": dataset.plots,
            }
            for dataset in project.pipeline_datasets
        },
        "targets": [
            {
                "metric": target.metric,
                "goal": target.goal,
                "threshold": target.threshold,
                "dataset": target.dataset,
                "scale": target.scale,
            }
            for target in project.targets
        ],
        "dvc": {"remote": {"name": project.dvc_remote[0], "url": project.dvc_remote[1]}},
    }


def _mlproject(project: Project) -> dict[str, Any]:
    model = project.model
    assert model is not None
    default = project.pipeline_datasets[0].name if project.pipeline_datasets else ""
    steps = [("prepare", model.prepare), ("train", model.train), ("evaluate", model.evaluate)]
    return {
        "name": project.name,
        "python_env": "python_env.yaml",
        "entry_points": {
            step: {
                "parameters": {"dataset": {"type": "string", "default": default}},
                "command": f"python {script} --dataset {{dataset}}",
            }
            for step, script in steps
            if script
        },
    }


def _python_env(project: Project) -> dict[str, Any]:
    return {
        "python": project.python,
        "build_dependencies": ["pip"],
        "dependencies": ["-r requirements.txt"],
    }
