"""Library-level validation: every problem at once, in file order, with hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.compiler.source import load_bytes
from diva.compiler.spec.model import Spec
from diva.compiler.validate import validate_document
from diva.errors import SpecError
from tests.support.paths import EXAMPLES

BASE = """\
diva: 1
project: {name: p, title: T}
stage: small
datasets:
  raw: {scale: small, path: data/raw}
model:
  framework: sklearn
  task: regression
  entrypoints: {train: src/train.py, evaluate: src/evaluate.py}
"""


def messages(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_document(load_bytes(text.encode()))
    return [issue.render() for issue in caught.value.issues]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.parent.name)
def test_examples_are_valid(path: Path) -> None:
    assert isinstance(validate_document(load_bytes(path.read_bytes())), Spec)


def test_stage_names_and_numbers_are_the_same_stage() -> None:
    named = validate_document(load_bytes(BASE.encode()))
    numbered = validate_document(load_bytes(BASE.replace("stage: small", "stage: 2").encode()))
    assert named.stage == numbered.stage == 2


def test_rules_still_run_on_intact_sections_when_another_section_is_broken() -> None:
    text = BASE.replace("name: p", "name: P") + (
        "targets:\n  - {metric: rmse, goal: minimize, threshold: 1, dataset: rw}\n"
    )
    assert messages(text) == [
        "diva.yaml:2:17: project -> name: must be a DNS-1123 label: lowercase letters, digits "
        "and '-', starting with a letter, not ending with '-', at most 63 characters",
        "diva.yaml:11:59: targets -> 0 -> dataset: unknown dataset 'rw' (declared: raw); "
        "did you mean 'raw'?",
    ]


def test_rules_reading_a_broken_section_are_skipped_not_guessed() -> None:
    text = BASE.replace("path: data/raw", "pth: data/raw")
    assert [message.split(": ", 1)[1] for message in messages(text)] == [
        "datasets -> raw: missing required key 'path'",
        "datasets -> raw -> pth: unknown key 'pth'; did you mean 'path'?",
    ]


def test_expression_in_any_string_or_key_is_refused() -> None:
    text = BASE + "targets: []\nidea: {problem: 'uses ${{ secrets.X }}'}\n"
    assert messages(text) == [
        "diva.yaml:11:17: idea -> problem: must not contain '${{' (GitHub Actions would "
        "evaluate it in generated workflows)"
    ]


def test_stage_requirement_points_at_the_stage_when_the_section_is_absent() -> None:
    text = BASE.replace("stage: small", "stage: deploy")
    rendered = messages(text)
    assert rendered[0].startswith("diva.yaml:3:8: ")
    assert "serving: stage 4 (model deployment) requires the 'serving' section" in "\n".join(
        rendered
    )


def test_escaped_nul_inside_params_is_refused() -> None:
    text = BASE.replace(
        "evaluate: src/evaluate.py}", 'evaluate: src/evaluate.py}\n  params: {x: "a\\0b"}'
    )
    assert messages(text) == [
        "diva.yaml:10:15: model -> params -> x: must not contain a NUL character"
    ]


def test_nested_dataset_paths_are_refused() -> None:
    spec = BASE.replace(
        "  raw: {scale: small, path: data/raw}\n",
        "  raw: {scale: small, path: data/raw}\n  sub: {scale: large, path: data/raw/sub}\n",
    )
    assert messages(spec) == [
        "diva.yaml:6:29: datasets -> sub -> path: is inside the path of dataset 'raw' (data/raw)"
    ]


def test_nan_is_not_a_threshold() -> None:
    text = BASE + "targets:\n  - {metric: rmse, goal: minimize, threshold: .nan, dataset: raw}\n"
    assert messages(text)[0].endswith("targets -> 0 -> threshold: must be a finite number")


def test_hyper_parameters_may_be_nan_or_infinite() -> None:
    text = BASE.replace(
        "evaluate: src/evaluate.py}", "evaluate: src/evaluate.py}\n  params: {a: .nan, b: [.inf]}"
    )
    spec = validate_document(load_bytes(text.encode()))
    assert spec.model is not None
    assert spec.model.params["b"] == [float("inf")]


def test_a_url_shown_in_a_type_error_has_no_credentials() -> None:
    text = BASE + 'platform:\n  mlflow: "https://kim:s3cret@mlflow.example.com"\n'
    [message] = messages(text)
    assert "s3cret" not in message
    assert "kim" not in message
    assert message.endswith("expected a mapping, got text ('https://mlflow.example.com')")


def test_userinfo_in_a_spec_url_is_located_and_not_echoed() -> None:
    text = BASE + 'platform:\n  mlflow: {tracking_uri: "https://ghp_s3cret@mlflow.example.com"}\n'
    [message] = messages(text)
    assert message.startswith("diva.yaml:11:26: platform -> mlflow -> tracking_uri: must not hold")
    assert "s3cret" not in message
