"""Out-of-band changes: MLflow's aliases compared with what ``serving.releases`` pins.

The spec is what was approved: each environment pins a model version, and the release
workflow points the environment's alias (``champion`` for production) at it. Anyone
with write access to the MLflow registry can move an alias in its UI, and a model
reaches production without a pull request, a gate or an approval. :func:`verify` reads
every alias and says where it differs from the pin; :func:`ratify` proposes the moved
alias's version as the new pin, by pull request, so that it goes through the gate and
the approvals of a release (``diva release pin --pr``). The other way out is to restore
the pin: ``diva release alias ENV`` points the alias back at what the spec pins (what
was approved needs no new approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diva.compiler.pipeline import load_project
from diva.errors import UsageError
from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.mlflow import Mlflow
from diva.lifecycle.proposals.aliases import ReleaseUnavailable
from diva.lifecycle.proposals.pin import Pinned, branch_name, pin, resolve
from diva.lifecycle.proposals.pull_request import Outcome, Proposal, git
from diva.lifecycle.releases import alias_for, pinned


@dataclass(frozen=True)
class Checked:
    """One environment: the version its release pins and the one its alias carries."""

    environment: str
    alias: str
    pinned: int
    actual: str | None

    @property
    def holds(self) -> bool:
        return self.actual == str(self.pinned)

    def describe(self) -> str:
        if self.holds:
            return f"{self.environment}: alias {self.alias} on version {self.pinned}, as pinned"
        moved = f"is on version {self.actual}" if self.actual else "points at no version"
        return (
            f"{self.environment}: alias {self.alias} {moved}, but serving.releases."
            f"{self.environment} pins version {self.pinned}: moved outside a pull request"
        )


def verify(root: Path, spec_file: str, environments: list[str]) -> list[Checked]:
    """Each environment's alias against its pin (every environment that pins a release
    when none is named)."""
    spec, project = load_project(root, spec_file)
    releases = pinned(project, environments)
    assert project.model is not None  # pinned() said so
    model = project.model.registered_name
    try:
        registry = Mlflow(root, project.mlflow.tracking_uri)
        return [
            Checked(env, alias, release.model_version, registry.alias(model, alias))
            for env, release in releases.items()
            for alias in [alias_for(spec, env)]
        ]
    except UnreachableError as err:
        raise ReleaseUnavailable(str(err)) from err


def ratify(root: Path, spec_file: str, checked: Checked, base: str, remote: str) -> Outcome:
    """A pull request that pins what the alias now carries: the moved version goes
    through the gate and the release's approvals like any release."""
    if checked.actual is None or not checked.actual.isdigit():
        raise UsageError(
            f"{checked.environment}: alias {checked.alias} points at no version; nothing to "
            f"ratify: restore it with `diva release alias {checked.environment}`"
        )
    _, project = load_project(root, spec_file)
    wanted = resolve(root, project, checked.environment, int(checked.actual), None)
    pinned = Pinned(
        wanted.environment,
        wanted.model_version,
        wanted.image_digest,
        (f"alias {checked.alias} was moved to version {checked.actual} outside a pull request",),
    )
    proposal = Proposal(root, spec_file, branch_name(pinned), base, remote, draft=True)
    outcome = pin(root, spec_file, pinned, proposal)
    assert outcome is not None
    git(root, "checkout", "-q", base)  # the next environment's proposal starts from it too
    return outcome
