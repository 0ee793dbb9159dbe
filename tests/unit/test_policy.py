"""The policy of a spec: which changes are policy changes, and the spec the gate judges
by (the head's with the base's policy fields)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from diva.compiler import policy as compiler_policy
from diva.compiler.ir import Project
from diva.lifecycle import policy
from tests.support.gate import context, spec_document


def project(document: dict[str, Any]) -> Project:
    return context(document, root=None).project  # type: ignore[arg-type]


def changed(edit: Any) -> list[str]:
    base = spec_document()
    head = copy.deepcopy(base)
    edit(head)
    return policy.changed(project(base), project(head))


def _set(path: str, value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        for part in parents:
            document = document.setdefault(part, {})
        document[key] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_set("project.name", "other"), "project.name"),
        (_set("model.name", "someone-elses-model"), "model.name"),
        (lambda d: d["targets"][0].update(threshold=0.5), "targets"),
        (lambda d: d["targets"].pop(), "targets"),
        (_set("plan.cycles", {"small": 9, "large": 2}), "plan.cycles"),
        (_set("team", {"quality_managers": ["@me"]}), "team"),
        (_set("platform.mlflow", {"tracking_uri": "http://127.0.0.1:1"}), "platform.mlflow"),
        (_set("platform.dvc", {"remote": {"name": "mine", "url": "/tmp/r"}}), "platform.dvc"),
        (_set("platform.image_registry", "ghcr.io/me"), "platform.image_registry"),
        (_set("platform.evidence", "self-attested"), "platform.evidence"),
    ],
)
def test_each_policy_field_is_a_policy_change(edit: Any, field: str) -> None:
    assert field in changed(edit)


@pytest.mark.parametrize(
    "edit",
    [
        _set("stage", 3),
        _set("idea.problem", "said differently"),
        _set("plan.summary", "a new plan"),
        _set("model.params", {"alpha": 0.5}),
        _set("model.name", "demo"),  # the project's name: the default, said out loud
        _set("platform.mlflow", {"tracking_uri": "sqlite:///.diva/mlflow.db"}),  # the default
    ],
)
def test_data_and_defaults_said_out_loud_are_no_policy_change(edit: Any) -> None:
    assert changed(edit) == []


def test_a_monitoring_section_with_its_default_aliases_is_no_change() -> None:
    monitoring = {"schedule": "0 6 * * 1", "reference_dataset": "month"}
    assert changed(_set("monitoring", monitoring)) == []
    renamed = {**monitoring, "champion": "candidate"}
    assert changed(_set("monitoring", renamed)) == ["monitoring.champion"]


def test_the_reviewers_are_the_bases_quality_managers_or_modelers() -> None:
    document = spec_document()
    document["team"] = {"modelers": ["@kim"]}
    assert policy.reviewers(project(document)) == ["@kim"]
    document["team"]["quality_managers"] = ["@acme/qa"]
    assert policy.reviewers(project(document)) == ["@acme/qa"]


def test_overlay_puts_back_the_bases_policy_and_keeps_the_heads_data() -> None:
    base = spec_document()
    head = copy.deepcopy(base)
    head["stage"] = 3
    head["targets"][0]["threshold"] = 0.5
    head["platform"]["mlflow"] = {"tracking_uri": "http://127.0.0.1:1"}
    head["plan"]["summary"] = "new words"
    judged = compiler_policy.overlay(head, base)
    assert judged["targets"] == base["targets"]
    assert "mlflow" not in judged["platform"]  # the base sets none: the default applies
    assert (judged["stage"], judged["plan"]["summary"]) == (3, "new words")
    assert head["targets"][0]["threshold"] == 0.5  # the head itself is left alone
    assert policy.changed(project(base), project(judged)) == []
