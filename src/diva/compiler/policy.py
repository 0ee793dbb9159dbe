"""The policy of a spec: the fields a gate judges by, as they take effect.

A pull request is data; the base branch is the policy. These fields decide what a
checkpoint asks for (targets, cycle budgets, monitoring thresholds), where the gate looks
for evidence (MLflow, the DVC remote, the image registry, whether evidence may be
self-attested), who owns the project (the team) and who the project and its model are
(the names runs and versions are looked up by). :func:`of` reads them from a validated
spec into plain JSON values, defaults filled in, so that declaring a section a stage
needs (``monitoring`` at stage 5, say) with its defaults changes nothing; the IR carries
them as ``Project.policy`` for :mod:`diva.lifecycle.policy` to compare.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from diva.compiler.spec.model import Approvals, Need, Spec
from diva.compiler.spec.operations import Monitoring

Read = Callable[[Spec], Any]


@dataclass(frozen=True)
class Approval:
    """``count`` approvals by distinct holders of ``role``; ``declared`` in the spec, or a
    default (which a role naming nobody in the team does not make required)."""

    role: str
    count: int = 1
    declared: bool = False


QM, ME, DC = "quality_managers", "model_engineers", "data_curators"
#: Whose approval each kind of pull request needs when ``approvals`` does not say: the
#: seed's roles. The kinds: a promotion into each stage by its key, ``back``, a
#: ``release`` of an environment before production, a ``production_release``, ``policy``.
DEFAULT_APPROVALS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "plan": (QM,),
        "small": (QM,),
        "large": (QM, DC),
        "deploy": (QM, ME),
        "manage": (ME, QM),
        "back": (QM,),
        "release": (ME,),
        "production_release": (ME, QM),
        "policy": (QM,),
    }
)
APPROVAL_KINDS: tuple[str, ...] = tuple(Approvals.model_fields)


def approvals(spec: Spec) -> Mapping[str, tuple[Approval, ...]]:
    """The approvals each kind of pull request needs: the spec's, else the default."""
    effective = {}
    for kind in APPROVAL_KINDS:
        declared = getattr(spec.approvals, kind)
        if declared is None:
            effective[kind] = tuple(Approval(role) for role in DEFAULT_APPROVALS[kind])
        else:
            effective[kind] = tuple(
                Approval(need.role, need.count, True)
                if isinstance(need, Need)
                else Approval(need, 1, True)
                for need in declared
            )
    return MappingProxyType(effective)


def _approvals_json(spec: Spec) -> Any:
    return {
        kind: [{"role": need.role, "count": need.count} for need in needs]
        for kind, needs in approvals(spec).items()
    }


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(item) for item in value]
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _monitoring(key: str) -> Read:
    default = Monitoring.model_fields[key].default

    def read(spec: Spec) -> Any:
        return _json(getattr(spec.monitoring, key) if spec.monitoring else default)

    return read


#: Each policy field, by its dotted path in the spec, and how its effective value is read.
FIELDS: dict[str, Read] = {
    "project.name": lambda spec: spec.project.name,
    "model.name": lambda spec: (spec.model.name if spec.model else None) or spec.project.name,
    "targets": lambda spec: _json(spec.targets),
    "plan.cycles": lambda spec: _json(spec.plan.cycles),
    "team": lambda spec: _json(spec.team),
    "approvals": _approvals_json,
    "platform.mlflow": lambda spec: _json(spec.platform.mlflow),
    "platform.dvc": lambda spec: _json(spec.platform.dvc),
    "platform.image_registry": lambda spec: spec.platform.image_registry,
    "platform.evidence": lambda spec: spec.platform.evidence,
    "monitoring.champion": _monitoring("champion"),
    "monitoring.challengers": _monitoring("challengers"),
    "monitoring.drift": _monitoring("drift"),
    "monitoring.margin": _monitoring("margin"),
}


def of(spec: Spec) -> Mapping[str, Any]:
    """The effective value of every policy field of ``spec``."""
    return MappingProxyType({path: read(spec) for path, read in FIELDS.items()})


def overlay(head: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """``head`` (a spec document's data) with every policy field as ``base`` has it: the
    document the gate judges. A field the base does not set is removed (its default
    applies); a field whose section the head does not have is left to the head (the
    ``policy`` row of the gate reports the difference)."""
    judged = copy.deepcopy(head)
    for path in FIELDS:
        *parents, key = path.split(".")
        target = _section(judged, parents)
        if target is None:
            continue
        source = _section(base, parents)
        if source is not None and key in source:
            target[key] = copy.deepcopy(source[key])
        else:
            target.pop(key, None)
    return judged


def _section(document: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    for key in keys:
        document = document.get(key)  # type: ignore[assignment]
        if not isinstance(document, dict):
            return None
    return document
