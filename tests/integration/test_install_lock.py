"""``diva lock`` with the real pip against a real (loopback) package index.

A wheelhouse of this checkout and the gate's tools is served as a PEP 503 index
(tests/support/simple_index.py); the spec names it in ``platform.install.index_url``.
``diva lock`` resolves through it, and the lock it writes installs with
``--require-hashes`` until a served file changes. ``diva compile`` then accepts the lock.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from diva import __version__
from tests.support.act_harness import build_wheelhouse
from tests.support.simple_index import SimpleIndex

SPEC = """\
diva: 1
project: {{name: lock-demo, title: Lock}}
stage: idea
platform:
  install:
    index_url: {url}
    lock: ci/diva-lock.txt
"""
HASH_MISMATCH = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    requirements = ["dvc>=3.50,<4", "mlflow-skinny>=2.16,<4"]
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), requirements=requirements)


@pytest.fixture(scope="module")
def index(wheels: Path) -> Iterator[SimpleIndex]:
    with SimpleIndex(wheels) as served:
        yield served


def diva(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diva", *args], cwd=root, capture_output=True, text=True
    )


def dry_install(lock: Path, index: SimpleIndex) -> subprocess.CompletedProcess[str]:
    """What the gate's pip does with the lock, without installing: download and check."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
    command += ["--no-cache-dir", "--isolated", "--index-url", index.url]
    return subprocess.run(
        [*command, "--require-hashes", "-r", str(lock)], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, index: SimpleIndex) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "diva.yaml").write_text(SPEC.format(url=index.url))
    index.requests.clear()
    result = diva(root, "lock")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "wrote ci/diva-lock.txt\n"
    return root


def test_diva_lock_resolves_through_the_spec_index(project: Path, index: SimpleIndex) -> None:
    assert "/simple/diva-lifecycle/" in index.requests
    text = (project / "ci" / "diva-lock.txt").read_text()
    assert f"diva-lifecycle=={__version__} \\\n    --hash=sha256:" in text
    assert "\ndvc==" in text
    assert "\nmlflow-skinny==" in text
    assert f"from {index.url}," in text
    pins = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    hashes = [line for line in text.splitlines() if line.startswith("    --hash=sha256:")]
    assert len(pins) == len(hashes) > 20


def test_compile_accepts_the_lock_it_wrote(project: Path) -> None:
    result = diva(project, "compile")
    assert result.returncode == 0, result.stdout + result.stderr
    gate = (project / ".github" / "workflows" / "diva-gate.yml").read_text()
    assert "DIVA_LOCK: ci/diva-lock.txt" in gate


def test_the_lock_installs_with_hashes_until_a_file_is_swapped(
    project: Path, index: SimpleIndex, wheels: Path, tmp_path: Path
) -> None:
    lock = project / "ci" / "diva-lock.txt"
    result = dry_install(lock, index)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = wheels.glob("diva_lifecycle-*.whl")
    original = tmp_path / wheel.name
    shutil.copy2(wheel, original)
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("diva/_planted.py", "print('not the released diva')\n")
    try:
        result = dry_install(lock, index)
    finally:
        shutil.copy2(original, wheel)
    assert result.returncode != 0
    assert HASH_MISMATCH in result.stderr


def test_diva_lock_without_a_lock_setting_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "diva.yaml").write_text("diva: 1\nproject: {name: p, title: P}\nstage: idea\n")
    result = diva(tmp_path, "lock")
    assert result.returncode == 2
    assert "set platform.install.lock" in result.stderr
