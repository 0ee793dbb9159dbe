"""Production status managed by pull request: the winning challenger's version proposed
as the production release (``serving.releases.<last environment>``), which the gate then
checks (the version exists and meets the targets) and people approve."""

from __future__ import annotations

from pathlib import Path

from diva.compiler.pipeline import load_project
from diva.lifecycle.proposals.pin import branch_name, pin, resolve
from diva.lifecycle.proposals.pull_request import Outcome, Proposal, current_branch
from diva.lifecycle.releases import production


def propose_production(root: Path, spec_file: str, version: int, remote: str) -> Outcome | None:
    """Open the pull request that pins ``version`` in production (None: not pushed)."""
    _, project = load_project(root, spec_file)
    if project.serving is None:
        return None
    pinned = resolve(root, project, production(project), version, None)
    proposal = Proposal(root, spec_file, branch_name(pinned), current_branch(root), remote)
    return pin(root, spec_file, pinned, proposal)
