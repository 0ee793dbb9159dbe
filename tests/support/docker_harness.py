"""Helpers of the tests that need the Docker engine: a real local registry and the
stand-in standardized base image.

`.ci/docker-setup` (run by `.ci/run`) installs the engine and Debian's docker-registry and
builds ``diva-python:bookworm`` (Debian 12, python3 with venv, git; .ci/python-base/).
A test base adds a wheelhouse with the diva checkout's wheel, which is not on PyPI:
pip in the generated Dockerfiles finds it through ``PIP_FIND_LINKS``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.act_harness import docker_problem
from tests.support.paths import ROOT

PYTHON_BASE = "diva-python:bookworm"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def registry_problem() -> str | None:
    if shutil.which("docker-registry") is None:
        return "needs Debian's docker-registry (installed by .ci/docker-setup)"
    return docker_problem()


def image_problem() -> str | None:
    """Why the image tests cannot run here, or None."""
    if (problem := registry_problem()) is not None:
        return problem
    found = subprocess.run(["docker", "image", "inspect", PYTHON_BASE], capture_output=True)
    if found.returncode != 0:
        return f"no {PYTHON_BASE} image (built by .ci/docker-setup)"
    return None


@contextlib.contextmanager
def local_registry(folder: Path) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a real registry storing into ``folder``, while the block runs."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
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
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def push_tiny_image(image: str, folder: Path, *changes: str) -> None:
    """Import a one-file image as ``image`` (with Dockerfile ``changes`` such as a
    ``LABEL``) and push it to its registry."""
    rootfs = folder / "rootfs"
    rootfs.mkdir(exist_ok=True)
    (rootfs / "hello").write_text("hello\n")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True)
    options = [argument for change in changes for argument in ("--change", change)]
    subprocess.run(
        ["docker", "import", *options, "-", image],
        input=tar.stdout,
        check=True,
        capture_output=True,
    )
    subprocess.run(["docker", "push", "-q", image], check=True, capture_output=True, timeout=120)


def remove_images(*references: str) -> None:
    """Untag what a test built or pushed (layers shared with other images stay)."""
    if references:
        subprocess.run(["docker", "rmi", "--force", *references], capture_output=True)


def build_test_base(tag: str, work: Path) -> str:
    """``tag``: the stand-in base plus a wheelhouse with this checkout's diva wheel."""
    context = work / "test-base"
    wheels = context / "wheels"
    wheels.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    (context / "Dockerfile").write_text(
        f"FROM {PYTHON_BASE}\nCOPY wheels /wheels\nENV PIP_FIND_LINKS=/wheels\n"
    )
    subprocess.run(
        ["docker", "build", "--quiet", "--tag", tag, str(context)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return tag
