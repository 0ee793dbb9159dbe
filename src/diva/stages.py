"""The six DIVA stages: numbers, short names used in specs, and titles."""

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
