"""``diva promote``: ask for the next stage by pull request.

Makes the stage's branch (:func:`branch_name`; rebuilt on the current commit when it
exists), edits the spec's ``stage`` in place (only the value's characters change:
comments and formatting stay), recompiles, records the MLflow evidence CI cannot reach,
runs the gate, commits, pushes with a lease, and opens the pull request with ``gh`` when
it is installed and logged in (or refreshes the one open) — else prints what to run.
"""

from __future__ import annotations

from pathlib import Path

from diva.compiler.source import load_bytes
from diva.errors import UsageError
from diva.lifecycle.evidence.git import cycles, stage_history
from diva.lifecycle.proposals.pull_request import (
    GateRefused,
    Outcome,
    Proposal,
    capture_evidence,
    compile_spec,
    current_branch,
    propose,
    require_clean,
)
from diva.lifecycle.proposals.spec_edit import scalar_text, set_scalar
from diva.stages import Stage, parse_stage, stage

#: The error of a promotion the gate refuses (the CLI names it so).
PromotionRefused = GateRefused

__all__ = ["Outcome", "PromotionRefused", "branch_name", "promote", "set_stage"]


def set_stage(text: str, target: Stage) -> str:
    """``text`` with only the stage value replaced, in the same form (number or name)."""
    written = (scalar_text(text, ("stage",)) or "").strip("'\"")
    value = target.key if not written.isdigit() else str(target.number)
    return set_scalar(text, ("stage",), value)


def promote(
    root: Path,
    target_text: str | None,
    *,
    spec_file: str = "diva.yaml",
    draft: bool = False,
    remote: str = "origin",
) -> Outcome:
    """Carry out a promotion; raises :class:`PromotionRefused` when the gate fails."""
    require_clean(root)
    spec_path = root / spec_file
    text = spec_path.read_bytes().decode("utf-8")  # keep CRLF line ends as they are
    current = parse_stage(load_bytes(text.encode("utf-8")).data.get("stage"))
    target = _target(current, target_text)
    proposal = Proposal(
        root, spec_file, branch_name(root, spec_file, target), current_branch(root), remote, draft
    )

    def change() -> None:
        spec_path.write_bytes(set_stage(text, target).encode("utf-8"))
        compile_spec(root, spec_file)
        capture_evidence(root, spec_file)

    return propose(proposal, f"Promote to {target}", change)


def branch_name(root: Path, spec_file: str, target: Stage) -> str:
    """``diva/stage-N-name`` for the first cycle of the target stage, ``…-C`` for its
    cycle C: a re-run in the same cycle rebuilds the same branch, a new cycle (the
    project went back and enters the stage again) never reuses the merged one."""
    entered = cycles(stage_history(root, "HEAD", spec_file)).get(target.number, 0)
    name = f"diva/stage-{target.number}-{target.key}"
    return f"{name}-{entered + 1}" if entered else name


def _target(current: Stage, text: str | None) -> Stage:
    if text is None:
        if current.number == 5:
            raise UsageError(f"{current} is the last stage")
        return stage(current.number + 1)
    try:
        return parse_stage(int(text) if text.isdigit() else text)
    except ValueError as err:
        raise UsageError(f"{text!r}: {err}") from err
