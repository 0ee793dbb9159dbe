"""Constrained string types: the Python check and the JSON Schema pattern agree."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

from diva.compiler.spec import types

DIGEST = "sha256:" + "a" * 64

CASES: dict[str, tuple[Any, list[str], list[str]]] = {
    "DnsLabel": (
        types.DnsLabel,
        ["epi", "epi-thickness", "a" * 63, "a1"],
        ["Epi", "epi_thickness", "-epi", "epi-", "1epi", "a" * 64, ""],
    ),
    "Name": (types.Name, ["raw", "runs-2024_05", "a"], ["Raw", "2024", "a-", "", "a b"]),
    "Key": (types.Key, ["lr", "_x", "Max_Depth"], ["1x", "a-b", "", "a.b"]),
    "Handle": (
        types.Handle,
        ["@kim", "@org/team-a", "@a-b/c_d.e"],
        ["kim", "@", "@-kim", "@org/", "@org/team/x", "@a b"],
    ),
    "RelPath": (
        types.RelPath,
        ["data/raw", "data/raw/", "a.csv", ".data/x", "data/..x", ".gitignore"],
        [
            *["/data", "~/data", "data\\raw", "../data", "data/../x", "data/..", "a b", ""],
            *["d\nx", ".", "./data", "data/./x", ".git", ".git/x", ".dvc/cache", ".diva/x"],
            *["data//x", "data/.git", "data/.git/x", "data/."],
            *["-data", "--force", "-", "-x/data"],
        ],
    ),
    "Script": (
        types.Script,
        ["src/train.py", "src/-x.py"],
        ["src/train.sh", "/train.py", "../t.py", "-train.py", "--help.py"],
    ),
    "PinnedImage": (
        types.PinnedImage,
        [f"python@{DIGEST}", f"ghcr.io/acme/base:3.11@{DIGEST}", f"127.0.0.1:5000/b@{DIGEST}"],
        ["python:3.11", f"Python@{DIGEST}", "python@sha256:abc", f"GHCR.io/a@{DIGEST}"],
    ),
    "Registry": (
        types.Registry,
        ["ghcr.io/acme", "127.0.0.1:5000", "registry.example.com/ml/team"],
        [
            *["ghcr.io/acme:latest", f"ghcr.io/acme@{DIGEST}", "https://ghcr.io", "", "ACME"],
            *["ghp_t0ken@ghcr.io/acme", "kim:pw@ghcr.io", "kim@127.0.0.1:5000"],
        ],
    ),
    "Cron": (
        types.Cron,
        ["0 3 * * 1", "*/15 * * * *", "30 2 1,15 JAN-JUL MON-FRI"],
        ["* * * *", "61 * * * *", "0 0 L * *", "0 0 * * 1#2", "@daily", "0  3 * * *"],
    ),
    "Cpu": (types.Cpu, ["500m", "2", "0.5"], ["0m", "2 cores", "-1", ""]),
    "Memory": (types.Memory, ["512Mi", "2Gi", "1000"], ["2GB", "0Mi", "1.5Gi", ""]),
    "Line": (types.Line, ["Thickness (µm)"], ["", "a\nb", "tab\there"]),
    "Text": (types.Text, ["one\ntwo", "x"], ["", "   ", "bell\x07"]),
    "IndexUrl": (
        types.IndexUrl,
        [
            *["https://pypi.acme.example/simple", "https://h:8443/simple/", "https://h"],
            *["http://127.0.0.1:8080/simple", "http://localhost/simple", "http://[::1]:9/s"],
        ],
        [
            *["http://pypi.acme.example/simple", "http://localhost.evil.example/simple"],
            *["https://kim:pw@h/simple", "https://t0ken@h/simple", "https://h/s?token=t"],
            *['https://h/s"x', "https://h/$(id)", "https://h/a b", "ftp://h/s", "https://"],
        ],
    ),
    "WheelUrl": (
        types.WheelUrl,
        ["https://github.com/a/b/releases/download/v1/diva_lifecycle-0.1.0-py3-none-any.whl"],
        ["https://h/diva.tar.gz", "http://h/x.whl", "https://u:p@h/x.whl", "https://h/`x`.whl"],
    ),
    "Sha256": (types.Sha256, ["ab" * 32], ["AB" * 32, "ab" * 31, "sha256:" + "ab" * 32]),
    "HttpUrl": (
        types.HttpUrl,
        ["https://doi.org/10.1/x", "https://h/a@b?email=kim@example.com"],
        [
            *["ftp://x", "https://", "http://a b"],
            *[
                "https://kim:pw@h/x",
                "https://ghp_t0ken@h",
                "https://h/x?token=t",
                "https://h/?A&Api_Key=k",
            ],
        ],
    ),
    "TrackingUri": (
        types.TrackingUri,
        ["sqlite:///.diva/mlflow.db", "http://127.0.0.1:5000", "postgresql+psycopg2://h/db"],
        [
            *["mlflow.db", "ftp://x", ""],
            *["postgresql+psycopg2://u@h/db", "https://ghp_t0ken@mlflow.example.com"],
            *["postgresql://u:pw@h/db", "postgresql://h/db?sslmode=require&password=pw"],
            *["databricks://tok@host", "HTTPS://Kim@Host"],
        ],
    ),
    "RemoteUrl": (
        types.RemoteUrl,
        [".diva/remote", "s3://b/p", "/mnt/dvc", "s3://b/p@v1", "store/-x"],
        [
            *["ftp://x", "a b", "-rf", "--config=x", "ssh://dvc@storage/x"],
            *["https://kim:pw@h/dvc", "s3://AKIA0@b/p", "https://h/dvc?token=t"],
        ],
    ),
    "BrokerUrl": (
        types.BrokerUrl,
        ["redis://redis:6379/0", "rediss://r:6380/0?ssl_cert_reqs=none", "nats://n:4222"],
        [
            *["redis://:pw@r:6379/0", "redis://default@r/0", "amqp://guest:guest@mq:5672/"],
            *["redis://r/0?password=pw", "redis://r/0?db=0&PASSWORD=pw", ""],
        ],
    ),
    "PythonVersion": (types.PythonVersion, ["3.11", "3.9"], ["3", "2.7", "3.11.4"]),
}


def _accepts_python(annotation: Any, value: str) -> bool:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True


def _accepts_schema(annotation: Any, value: str) -> bool:
    schema = TypeAdapter(annotation).json_schema()
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_check_and_schema_pattern_agree(name: str) -> None:
    annotation, good, bad = CASES[name]
    for value in good:
        assert _accepts_python(annotation, value), f"python rejects good {value!r}"
        assert _accepts_schema(annotation, value), f"schema rejects good {value!r}"
    for value in bad:
        assert not _accepts_python(annotation, value), f"python accepts bad {value!r}"
        if name != "Cron":  # ranges and day names are beyond a regular expression
            assert not _accepts_schema(annotation, value), f"schema accepts bad {value!r}"


SECRET_URLS = [
    ("TrackingUri", "https://kim:s3cret@mlflow.example.com"),
    ("TrackingUri", "https://s3cret@mlflow.example.com"),
    ("RemoteUrl", "ssh://s3cret@storage/dvc"),
    ("HttpUrl", "https://s3cret@doi.org/x"),
    ("BrokerUrl", "redis://:s3cret@redis:6379/0"),
    ("Registry", "s3cret@ghcr.io/acme"),
]


def _message(annotation: Any, value: str) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotation).validate_python(value)
    [error] = caught.value.errors()
    return error["msg"]


@pytest.mark.parametrize(("name", "value"), SECRET_URLS)
def test_userinfo_is_refused_without_echoing_it(name: str, value: str) -> None:
    message = _message(getattr(types, name), value)
    assert "s3cret" not in message
    assert "credentials come from the environment or a secret" in message
    assert "'@'" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BrokerUrl", "redis://r/0?password=s3cret"),
        ("TrackingUri", "postgresql://h/m?password=s3cret"),
    ],
)
def test_credential_in_the_query_is_refused_without_echoing_it(name: str, value: str) -> None:
    message = _message(getattr(types, name), value)
    assert "s3cret" not in message
    assert "'?password='" in message
    assert "credentials come from the environment or a secret" in message


@pytest.mark.parametrize(
    ("name", "value"), [("RelPath", "-rf"), ("Script", "--help.py"), ("RemoteUrl", "-x")]
)
def test_leading_dash_is_refused_in_words(name: str, value: str) -> None:
    assert "must not start with '-'" in _message(getattr(types, name), value)
