"""The gate tests' project at stage 4, as the release tests (and the act release workflow
test) use it."""

from __future__ import annotations

from pathlib import Path

from tests.support.gate import SPEC, at_stage

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
LARGE_TARGET = "  - {metric: rmse, goal: minimize, threshold: 0.1, dataset: year}\n"
RELEASES_LINE = "  releases: {}\n"


def release_spec(store: Path, registry: str, releases: str = RELEASES_LINE) -> str:
    """The gate tests' project at stage 4: a large-scale target, serving, a registry,
    and MLflow in ``store``."""
    text = at_stage(4, SPEC).replace("\ntargets:\n", f"\ntargets:\n{LARGE_TARGET}")
    return (
        f"{text}  image_registry: {registry}/diva-test\n"
        f'  mlflow: {{tracking_uri: "sqlite:///{store}"}}\n\n'
        "serving:\n  pattern: model-as-service   # served as a REST service\n"
        f"  # what each environment runs\n{releases}"
    )


def mlflow_store(folder: Path) -> Path:
    """A real MLflow store (SQLite) with model ``demo``: version 1 from a run that meets
    the large target (rmse 0.05), version 2 from one that misses it (rmse 0.5)."""
    from mlflow.tracking import MlflowClient

    database = folder / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    experiment = client.create_experiment("demo", artifact_location=str(folder / "artifacts"))
    client.create_registered_model("demo")
    for rmse in (0.05, 0.5):
        run = client.create_run(experiment, tags={"diva.project": "demo"})
        client.log_metric(run.info.run_id, "rmse", rmse)
        client.set_terminated(run.info.run_id)
        model = folder / f"model-{rmse}"
        model.mkdir()
        client.create_model_version("demo", source=str(model), run_id=run.info.run_id)
    return database
