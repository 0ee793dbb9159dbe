"""The DIVA methodology as data: the six stages and the entry criteria of each.

The stages' numbers, short names (used in specs) and titles, and each stage's entry
criteria in the methodology's words with the evidence they need. How a criterion is
judged lives with the gate (:mod:`diva.lifecycle.checkpoints`); the wording is needed by
the compiler too (the pull request template), so it is data here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    number: int
    key: str
    title: str

    def __str__(self) -> str:
        return f"stage {self.number} ({self.title})"


STAGES: tuple[Stage, ...] = (
    Stage(0, "idea", "idea discussion"),
    Stage(1, "plan", "model planning"),
    Stage(2, "small", "small-scale modeling"),
    Stage(3, "large", "large-scale modeling"),
    Stage(4, "deploy", "model deployment"),
    Stage(5, "manage", "model management"),
)

STAGE_KEYS: tuple[str, ...] = tuple(stage.key for stage in STAGES)
LAST_STAGE = STAGES[-1].number


def stage(number: int) -> Stage:
    """The stage with this number (0..5)."""
    return STAGES[number]


def parse_stage(value: object) -> Stage:
    """A stage from its number or its short name; ``ValueError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LAST_STAGE:
        return STAGES[value]
    if isinstance(value, str) and value in STAGE_KEYS:
        return STAGES[STAGE_KEYS.index(value)]
    names = ", ".join(STAGE_KEYS)
    raise ValueError(f"must be a stage number 0..{LAST_STAGE} or one of: {names}")


#: Runs in the standardized image a stage-4 promotion needs, unless the spec says otherwise.
DEFAULT_MIN_RUNS = 2


@dataclass(frozen=True)
class Criterion:
    """One entry criterion: the stage it guards, its wording, the evidence it needs."""

    id: str
    stage: int
    wording: str
    evidence: tuple[str, ...]


CRITERIA: tuple[Criterion, ...] = (
    Criterion("idea.problem", 1, "problem and intent stated", ("spec",)),
    Criterion("idea.effect", 1, "expected effect stated", ("spec",)),
    Criterion("idea.value", 1, "value for researchers and users stated", ("spec",)),
    Criterion("idea.data", 1, "input and output data types declared", ("spec",)),
    Criterion("plan.summary", 2, "research plan stated", ("spec",)),
    Criterion("plan.references", 2, "at least one reference", ("spec",)),
    Criterion("plan.pinned", 2, "existing datasets pin a version", ("spec",)),
    Criterion("data.small", 3, "a small dataset is registered in DVC", ("dvc",)),
    Criterion("runs.small", 3, "an MLflow run on the small dataset", ("mlflow", "dvc")),
    Criterion("targets.small", 3, "small-scale targets met", ("mlflow", "dvc")),
    Criterion("cycles.small", 3, "cycle budget of stage 2 kept", ("git",)),
    Criterion("data.large", 4, "a large dataset is registered in DVC", ("dvc",)),
    Criterion(
        "runs.large",
        4,
        f"{DEFAULT_MIN_RUNS} runs in the standardized image on the large dataset",
        ("mlflow", "dvc"),
    ),
    Criterion("targets.large", 4, "the best run meets every target", ("mlflow", "dvc")),
    Criterion("model.candidate", 4, "its model version has alias candidate", ("mlflow",)),
    Criterion("cycles.large", 4, "cycle budget of stage 3 kept", ("git",)),
    Criterion("image.serving", 5, "serving image pushed, digest recorded", ("registry",)),
    Criterion("image.smoke", 5, "a smoke test of the serving image passed", ("mlflow",)),
    Criterion("model.champion", 5, "a model version has alias champion", ("mlflow",)),
    Criterion(
        "serving.release",
        5,
        "serving manifests reference that digest and version",
        ("spec", "evidence file", "mlflow"),
    ),
    Criterion("slos.declared", 5, "SLOs declared", ("spec",)),
)


def criteria_for(number: int) -> list[Criterion]:
    """The entry criteria of stage ``number``."""
    return [criterion for criterion in CRITERIA if criterion.stage == number]
