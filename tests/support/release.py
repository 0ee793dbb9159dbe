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
