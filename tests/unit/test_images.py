"""The smoke test's request making and judging, and the evidence the image commands
record. Their checks before any engine work are in tests/integration/test_image_commands.py;
the real engine and registry are exercised in tests/images/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from diva.contract import repository_of
from diva.errors import UsageError
from diva.images.smoke import Field, Report, judge, render, sample_body
from diva.lifecycle.evidence import record
from diva.lifecycle.evidence.mlflow import Run
from tests.support.gate import FakeRuns, context, spec_document
from tests.support.gate import judge as judge_checkpoint

NUMBERS = [Field("x0", "float"), Field("n", "integer"), Field("flag", "boolean")]


# --- smoke requests and answers ------------------------------------------------------


def test_sample_requests_follow_the_declared_inputs() -> None:
    body = sample_body(NUMBERS, 5, seed=3)
    split = body["dataframe_split"]
    assert split["columns"] == ["x0", "n", "flag"]
    assert len(split["data"]) == 5
    for x0, n, flag in split["data"]:
        assert isinstance(x0, float)
        assert isinstance(n, int)
        assert not isinstance(n, bool)
        assert isinstance(flag, bool)
    assert sample_body(NUMBERS, 5, seed=3) == body
    assert sample_body(NUMBERS, 5, seed=4) != body


@pytest.mark.parametrize("inputs", [[], [Field("picture", "image")]])
def test_inputs_that_cannot_be_made_up_ask_for_a_request_file(inputs: list[Field]) -> None:
    with pytest.raises(UsageError, match="pass --request FILE"):
        sample_body(inputs, 1, seed=0)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"predictions": [1.0, 2.0]}, None),
        ({"predictions": [{"y": 1.0}, {"y": 2}]}, None),
        ([1.0, 2.0], "no 'predictions' list"),
        ({"predictions": [1.0]}, "1 predictions for 2 rows"),
        ({"predictions": [1.0, "high"]}, "y should be a number, got 'high'"),
        ({"predictions": [1.0, float("nan")]}, "y should be a number"),
        ({"predictions": [True, 1.0]}, "y should be a number, got True"),
    ],
)
def test_answers_are_judged(answer: Any, problem: str | None) -> None:
    found = judge(answer, 2, [Field("y", "float")])
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_the_report_passes_on_correct_answers_and_reports_latency() -> None:
    report = Report("img", "sha256:1", requests=4, slo_latency_p95_ms=10, slo_error_rate=0.0)
    report.latencies_ms = [1.0, 2.0, 3.0, 40.0]
    assert report.passed
    assert report.latency_within_slo is False  # reported, not failed
    assert "is OVER latency_p95_ms 10" in render(report)
    assert report.as_evidence()["latency_ms"]["p50"] == pytest.approx(2.5)


def test_one_failed_request_fails_a_zero_error_budget() -> None:
    report = Report("img", None, requests=10, errors=["HTTP 500"], slo_error_rate=0.0)
    assert not report.passed
    assert Report("img", None, requests=10, errors=["x"], slo_error_rate=0.1).passed


def test_the_json_report_keeps_the_error_messages_and_their_count() -> None:
    report = Report("img", None, requests=3, errors=["HTTP 500: b'boom'"], slo_error_rate=0.0)
    report.latencies_ms = [1.0, 2.0]
    document = report.as_dict()
    assert document["errors"] == 1
    assert document["error_messages"] == ["HTTP 500: b'boom'"]
    assert document["latencies_ms"] == [1.0, 2.0]
    assert document["passed"] is False


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("demo-train:env-1", "demo-train"),
        ("127.0.0.1:5000/demo-serve", "127.0.0.1:5000/demo-serve"),
        ("127.0.0.1:5000/demo-serve:v3", "127.0.0.1:5000/demo-serve"),
        ("registry.example.com/ml/demo@sha256:ab", "registry.example.com/ml/demo"),
        ("host:443/a/b:tag@sha256:ab", "host:443/a/b"),
    ],
)
def test_the_repository_of_a_reference_keeps_a_registry_port(
    reference: str, repository: str
) -> None:
    assert repository_of(reference) == repository


# --- evidence --------------------------------------------------------------------------


def test_merge_keeps_what_others_recorded(tmp_path: Path) -> None:
    record.merge(tmp_path, {"images": {"training": {"digest": "sha256:1"}}})
    record.merge(tmp_path, {"images": {"serving": {"digest": "sha256:2"}}})
    record.merge(tmp_path, {"mlflow": {"versions": {"r": "1"}}, "stage": 3})
    record.merge(tmp_path, {"mlflow": {"aliases": {}}, "stage": 4}, replace=("mlflow",))
    document = json.loads((tmp_path / record.EVIDENCE_FILE).read_text())
    assert next(iter(document)) == "$comment"
    assert document["images"] == {
        "training": {"digest": "sha256:1"},
        "serving": {"digest": "sha256:2"},
    }
    assert document["mlflow"] == {"aliases": {}}
    assert document["stage"] == 4
    assert [path.name for path in tmp_path.iterdir()] == [record.EVIDENCE_FILE]


def _smoke_evidence(root: Path, smoke_digest: str, passed: bool) -> None:
    record.merge(root, {"images": {"serving": {"reference": "r/x:v1", "digest": "sha256:a"}}})
    smoke = {"digest": smoke_digest, "passed": passed, "requests": 50, "errors": 0 if passed else 3}
    record.merge(root, {"smoke": {**smoke, "latency_ms": {"p95": 7.5}}})


def smoke_run(run_id: str, digest: str, passed: bool) -> Run:
    tags = {"diva.project": "demo", "diva.kind": "smoke", "diva.image.digest": digest}
    return Run(run_id, {**tags, "diva.smoke.passed": str(passed).lower()}, {})


def smoke_verdict(root: Path, runs: list[Run] | None, attested: bool = False) -> tuple[str, str]:
    ctx = context(spec_document(), root, runs=FakeRuns(runs) if runs is not None else None)
    ctx.attested = attested
    verdict = judge_checkpoint("image.smoke", ctx)
    return verdict.status, verdict.detail


def test_the_smoke_checkpoint_needs_a_passed_smoke_run_of_the_serving_image(
    tmp_path: Path,
) -> None:
    _smoke_evidence(tmp_path, "sha256:a", passed=True)
    assert smoke_verdict(tmp_path, [smoke_run("r1", "sha256:a", passed=True)]) == (
        "pass",
        "1 of 1 smoke run(s) of sha256:a passed (test runs)",
    )
    status, detail = smoke_verdict(tmp_path, [smoke_run("r1", "sha256:a", passed=False)])
    assert (status, detail) == ("fail", "0 of 1 smoke run(s) of sha256:a passed")
    other_image = [smoke_run("r1", "sha256:b", passed=True)]
    assert smoke_verdict(tmp_path, other_image) == (
        "fail",
        "no smoke test of sha256:a logged to MLflow (`diva smoke`)",
    )


def test_a_smoke_test_only_in_the_evidence_file_is_not_proof(tmp_path: Path) -> None:
    """The attack: write a passed smoke test into diva.evidence.json by hand."""
    _smoke_evidence(tmp_path, "sha256:a", passed=True)
    assert smoke_verdict(tmp_path, [])[0] == "fail"
    assert smoke_verdict(tmp_path, None)[0] == "unreachable"


def test_a_self_attested_policy_takes_the_recorded_smoke_test(tmp_path: Path) -> None:
    _smoke_evidence(tmp_path, "sha256:a", passed=True)
    verdict = smoke_verdict(tmp_path, None, attested=True)
    assert verdict == ("pass", "self-attested: 50 requests, p95 7.5 ms")
    _smoke_evidence(tmp_path, "sha256:a", passed=False)
    assert smoke_verdict(tmp_path, None, attested=True) == ("fail", "3 of 50 requests failed")
    _smoke_evidence(tmp_path, "sha256:b", passed=True)
    status, detail = smoke_verdict(tmp_path, None, attested=True)
    assert status == "fail"
    assert "not the serving image" in detail
