"""Production status managed by pull request: the winning challenger's version proposed
as the production release (``serving.releases.<last environment>``), which the gate then
checks (the version exists and meets the targets) and people approve.

:func:`settle` turns the verdict's decision into the run's: proposed, or why not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from diva.compiler.pipeline import load_project
from diva.errors import DivaError
from diva.lifecycle.proposals.pin import branch_name, pin, resolve
from diva.lifecycle.proposals.pull_request import Outcome, Proposal, current_branch, next_steps
from diva.lifecycle.releases import production
from diva.monitor.compare import Decision
from diva.monitor.run import MonitorReport


def propose_production(root: Path, spec_file: str, version: int, remote: str) -> Outcome | None:
    """Open the pull request that pins ``version`` in production (None: not pushed)."""
    _, project = load_project(root, spec_file)
    if project.serving is None:
        return None
    pinned = resolve(root, project, production(project), version, None)
    proposal = Proposal(root, spec_file, branch_name(pinned), current_branch(root), remote)
    return pin(root, spec_file, pinned, proposal)


def settle(
    root: Path, spec_file: str, report: MonitorReport, remote: str | None, *, scoring: bool = False
) -> tuple[MonitorReport, list[str]]:
    """``report`` with the run's decision, and the proposal's next steps to print.

    A winner is proposed when ``remote`` is given (``--propose``) and the spec has a
    serving section; ``scoring``: the ``--models`` job, which leaves that to the next.
    """
    winner = report.verdict.proposal
    if winner is None:
        return report, []  # the verdict's decision says why: nothing wins, or it is blocked
    name = f"{winner.alias} (version {winner.version})"
    _, project = load_project(root, spec_file)
    if project.serving is None:
        message = f"{name} beats the champion, but diva.yaml has no serving section to pin a "
        return _decided(report, "no_serving", message + "release in"), []
    if scoring:
        message = f"{name} beats the champion; `diva monitor --from-report` judges and proposes"
        return _decided(report, "scoring_only", message), []
    if remote is None:
        message = f"{report.verdict.decision.message}; `diva monitor --propose` opens the pull "
        return _decided(report, "not_requested", message + "request that pins it"), []
    try:
        outcome = propose_production(root, spec_file, int(winner.version), remote)
    except DivaError as err:  # a refused gate or a release already pinned: say so, go on
        message = f"{name} beats the champion, but the release pin was refused: {err}"
        return _decided(report, "refused", message), []
    if outcome is None:  # the spec lost its serving section since it was read
        return _decided(report, "no_serving", f"{name}: diva.yaml has no serving section"), []
    where = outcome.pr_url or f"branch {outcome.branch}"  # a proposal is always pushed
    message = f"{name} beats the champion by the margin {report.margin:g} on every target: "
    decided = _decided(report, "proposed", message + f"proposed for production in {where}")
    return decided, next_steps(outcome, remote)


def _decided(report: MonitorReport, reason: str, message: str) -> MonitorReport:
    assert report.verdict.proposal is not None
    decision = Decision(reason == "proposed", report.verdict.proposal.version, reason, message)
    return replace(report, verdict=replace(report.verdict, decision=decision))
