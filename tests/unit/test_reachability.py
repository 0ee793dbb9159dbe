"""``diva validate`` warns when the CI gate can never read the evidence's stores.

A warning keeps the spec valid (exit 0); ``--strict`` makes it exit 1; the JSON output
carries it with ``"severity": "warning"``; each is located at its setting, or at
``stage`` when the setting is left to its default.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.commands import diva

BASE = """\
diva: 1
project: {name: demo, title: Demo}
stage: %s
datasets:
  month: {scale: small, path: data/month}
model:
  framework: sklearn
  task: regression
  entrypoints: {train: src/train.py, evaluate: src/evaluate.py}
targets:
  - {metric: rmse, goal: minimize, threshold: 0.1, dataset: month}
"""
TEAM = """\
platform:
  mlflow: {tracking_uri: "%s"}
  dvc:
    remote: {name: team, url: "%s"}
"""


def validate(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    (tmp_path / "diva.yaml").write_text(text)
    result = diva(tmp_path, "validate", *args)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout


def test_the_default_stores_at_stage_2_give_two_warnings_at_stage(tmp_path: Path) -> None:
    code, out = validate(tmp_path, BASE % "small")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("diva.yaml:3:1: warning: platform -> dvc -> remote -> url: ")
    assert "the DVC remote .diva/dvc-remote is a folder on the author's machine" in lines[0]
    assert "point platform.dvc.remote.url at storage CI can reach" in lines[0]
    assert lines[1].startswith("diva.yaml:3:1: warning: platform -> mlflow -> tracking_uri: ")
    assert "the MLflow store sqlite:///.diva/mlflow.db is a store on the author's" in lines[1]
    assert lines[2] == "diva.yaml: valid (demo, stage 2 (small-scale modeling)), 2 warnings"


def test_before_stage_2_nothing_is_checked_in_a_store(tmp_path: Path) -> None:
    code, out = validate(tmp_path, BASE % "plan")
    assert (code, out) == (0, "diva.yaml: valid (demo, stage 1 (model planning))\n")


def test_team_services_give_no_warning(tmp_path: Path) -> None:
    team = TEAM % ("https://mlflow.example.com", "webdavs://dav.example.com/dvc")
    code, out = validate(tmp_path, BASE % "small" + team, "--strict")
    assert code == 0
    assert "warning" not in out


def test_a_warning_points_at_its_setting_and_strict_fails(tmp_path: Path) -> None:
    mixed = TEAM % ("https://mlflow.example.com", "/mnt/shared/dvc")
    code, out = validate(tmp_path, BASE % "small" + mixed, "--strict")
    assert code == 1
    (warning,) = [line for line in out.splitlines() if ": warning: " in line]
    assert warning.startswith("diva.yaml:15:31: warning: platform -> dvc -> remote -> url: ")
    assert "a folder that CI sees only if its runners mount the same path" in warning


def test_self_attested_evidence_is_a_choice_not_a_mistake(tmp_path: Path) -> None:
    attested = BASE % "small" + "platform: {evidence: self-attested}\n"
    assert validate(tmp_path, attested, "--strict") == (
        0,
        "diva.yaml: valid (demo, stage 2 (small-scale modeling))\n",
    )


@pytest.mark.parametrize("strict", [(), ("--strict",)])
def test_json_carries_the_severity(tmp_path: Path, strict: tuple[str, ...]) -> None:
    code, out = validate(tmp_path, BASE % "small", "--format", "json", *strict)
    assert code == (1 if strict else 0)
    issues = json.loads(out)
    assert [issue["severity"] for issue in issues] == ["warning", "warning"]
    assert [issue["path"][-1] for issue in issues] == ["url", "tracking_uri"]
