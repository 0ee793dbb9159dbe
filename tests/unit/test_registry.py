"""Registry evidence against a real registry (Debian's docker-registry) on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from diva.evidence import UnreachableError
from diva.evidence.registry import manifest_digest
from tests.act_harness import docker_problem
from tests.unit.test_gate import context, judge, spec_document


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a registry that holds ``diva-test/tiny:1``."""
    if shutil.which("docker-registry") is None:
        pytest.skip("needs Debian's docker-registry (installed by .ci/docker-setup)")
    if (problem := docker_problem()) is not None:
        pytest.skip(f"needs the Docker engine to push: {problem}")
    folder = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nstorage: {filesystem: {rootdirectory: " + str(folder / "data") + "}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    server = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        host = f"127.0.0.1:{port}"
        image = f"{host}/diva-test/tiny:1"
        empty = folder / "rootfs"
        empty.mkdir()
        (empty / "hello").write_text("hello\n")
        tar = subprocess.run(["tar", "-C", str(empty), "-c", "."], capture_output=True, check=True)
        subprocess.run(
            ["docker", "import", "-", image], input=tar.stdout, check=True, capture_output=True
        )
        subprocess.run(
            ["docker", "push", "-q", image], check=True, capture_output=True, timeout=120
        )
        yield host
    finally:
        server.terminate()
        server.wait(timeout=10)


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
    port = _free_port()  # nothing listens there
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
    image = f"{registry}/diva-test/tiny:1"
    digest = manifest_digest(image)
    assert digest is not None
    _recorded(tmp_path, image, digest)
    assert judge("image.serving", context(spec_document(), tmp_path)).status == "pass"
    _recorded(tmp_path, image, "sha256:" + "0" * 64)
    verdict = judge("image.serving", context(spec_document(), tmp_path))
    assert (verdict.status, verdict.detail) == (
        "fail",
        f"{image} is {digest}, not sha256:{'0' * 64}",
    )


def test_the_serving_image_checkpoint_is_unreachable_without_registry(tmp_path: Path) -> None:
    _recorded(tmp_path, f"127.0.0.1:{_free_port()}/x/y:1", "sha256:" + "1" * 64)
    assert judge("image.serving", context(spec_document(), tmp_path)).status == "unreachable"
