"""Registry evidence against a real registry (Debian's docker-registry) on loopback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.registry import manifest_digest
from tests.support.docker_harness import (
    free_port,
    local_registry,
    push_tiny_image,
    registry_problem,
    remove_images,
)
from tests.support.gate import context, judge, spec_document


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that holds ``diva-test/tiny:1`` and the serving
    image of the test project, ``diva-test/PROJECT-serve:1``."""
    if (problem := registry_problem()) is not None:
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("registry")
    with local_registry(folder) as host:
        images = [f"{host}/diva-test/tiny:1", serving_image(host)]
        try:
            for image in images:
                push_tiny_image(image, folder)
            yield host
        finally:
            remove_images(*images)


def serving_image(host: str) -> str:
    return f"{host}/diva-test/{spec_document()['project']['name']}-serve:1"


def in_registry(host: str) -> dict[str, Any]:
    document = spec_document()
    document.setdefault("platform", {})["image_registry"] = f"{host}/diva-test"
    return document


def test_the_digest_is_what_the_push_reported(registry: str) -> None:
    image = f"{registry}/diva-test/tiny:1"
    pushed = subprocess.run(
        ["docker", "inspect", "--format", "{{index .RepoDigests 0}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert manifest_digest(image) == pushed.split("@")[1]


def test_an_unknown_tag_is_none_not_a_guess(registry: str) -> None:
    assert manifest_digest(f"{registry}/diva-test/tiny:nope") is None


def test_an_unreachable_registry_says_so() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(UnreachableError, match="registry unreachable"):
        manifest_digest(f"127.0.0.1:{port}/diva-test/tiny:1", timeout=2)


def test_a_reference_without_registry_host_is_refused() -> None:
    with pytest.raises(UnreachableError, match="not a reference with a registry host"):
        manifest_digest("python:3.11")


def _recorded(root: Path, reference: str, digest: str) -> None:
    document = {"images": {"serving": {"reference": reference, "digest": digest}}}
    (root / "diva.evidence.json").write_text(json.dumps(document))


def test_the_serving_image_checkpoint_confirms_the_recorded_digest(
    registry: str, tmp_path: Path
) -> None:
    image = serving_image(registry)
    digest = manifest_digest(image)
    assert digest is not None
    _recorded(tmp_path, image, digest)
    assert judge("image.serving", context(in_registry(registry), tmp_path)).status == "pass"
    _recorded(tmp_path, image, "sha256:" + "0" * 64)
    verdict = judge("image.serving", context(in_registry(registry), tmp_path))
    assert (verdict.status, verdict.detail) == (
        "fail",
        f"{image} is {digest}, not sha256:{'0' * 64}",
    )


def test_the_serving_image_checkpoint_is_unreachable_without_registry(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    _recorded(tmp_path, serving_image(host), "sha256:" + "1" * 64)
    verdict = judge("image.serving", context(in_registry(host), tmp_path))
    assert verdict.status == "unreachable"


def test_an_image_outside_the_projects_repository_is_no_evidence(
    registry: str, tmp_path: Path
) -> None:
    """The attack: record an image that exists (pushed anywhere, by anyone) in place of
    the project's own serving image."""
    image = f"{registry}/diva-test/tiny:1"
    digest = manifest_digest(image)
    assert digest is not None
    _recorded(tmp_path, image, digest)
    verdict = judge("image.serving", context(in_registry(registry), tmp_path))
    assert verdict.status == "fail"
    assert verdict.detail == f"the recorded image {image} is not in {serving_image(registry)[:-2]}"
