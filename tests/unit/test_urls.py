"""URLs as diva shows them: the credentials they may carry never reach a message."""

from __future__ import annotations

import pytest

from diva.urls import has_credential_query, has_userinfo, redact, strip_userinfo


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@mlflow.example.com/x", "https://mlflow.example.com/x"),
        ("https://ghp_T0KEN@mlflow.example.com", "https://mlflow.example.com"),
        ("postgresql+psycopg2://mlflow:pw@db:5432/m", "postgresql+psycopg2://db:5432/m"),
        ("redis://:hunter2@redis:6379/0", "redis://redis:6379/0"),
        ("ssh://u:p@ss@storage/dvc", "ssh://storage/dvc"),
        ("HTTPS://Kim@Host/", "HTTPS://Host/"),
    ],
)
def test_strip_userinfo_removes_user_name_and_password(url: str, shown: str) -> None:
    assert strip_userinfo(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///.diva/mlflow.db",
        "http://127.0.0.1:5000",
        "s3://bucket/path@v1",
        "https://host/x?email=kim@example.com",
        "file:/tmp/mlruns",
        ".diva/dvc-remote",
        "databricks",
        "",
    ],
)
def test_strip_userinfo_keeps_urls_without_credentials(url: str) -> None:
    assert strip_userinfo(url) == url


def test_strip_userinfo_masks_credential_query_parameters() -> None:
    url = "redis://redis:6379/0?db=1&Password=hunter2&token=t0k#frag"
    assert strip_userinfo(url) == "redis://redis:6379/0?db=1&Password=***&token=***#frag"


def test_redact_strips_every_url_in_a_text() -> None:
    text = (
        "MLflow at https://kim:pw@mlflow:5000 failed: cannot reach "
        "https://ghp_x@mlflow:5000/api?access_token=abc (user kim@example.com)"
    )
    assert redact(text) == (
        "MLflow at https://mlflow:5000 failed: cannot reach "
        "https://mlflow:5000/api?access_token=*** (user kim@example.com)"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:p@h", True),
        ("https://token@h/x", True),
        ("redis://:pw@h", True),
        ("https://h/x@y", False),
        ("https://h?u=a@b", False),
        ("local/folder@v1", False),
    ],
)
def test_has_userinfo(url: str, expected: bool) -> None:
    assert has_userinfo(url) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h/0?password=x", True),
        ("redis://h/0?db=1&PASSWORD=x", True),
        ("https://h/?api_key=k", True),
        ("https://h/?passwords_policy=x", False),
        ("https://h/password=x", False),
        ("https://h/#password=x", False),
    ],
)
def test_has_credential_query(url: str, expected: bool) -> None:
    assert has_credential_query(url) is expected
