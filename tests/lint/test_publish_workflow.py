"""diva's own release workflow (.github/workflows/publish.yml) is linted like the
generated ones, keeps its one write permission (the OIDC token) to the publish job, and
builds distributions that pass ``twine check --strict``.

The publish step itself (pypa/gh-action-pypi-publish with PyPI's trusted publishing)
cannot run outside GitHub: docs/contributing/publishing.md says so.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from diva import __version__
from tests.support.linters import tool
from tests.support.paths import ROOT

PUBLISH = ROOT / ".github" / "workflows" / "publish.yml"
PINNED = re.compile(r"^[^@]+@[0-9a-f]{40}$")


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe", pure=True).load(PUBLISH)
    return data


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_zizmor_pedantic_finds_nothing() -> None:
    result = _run(
        tool("zizmor"), "--offline", "--persona", "pedantic", "--no-config", "--no-ignores",
        "--no-progress", "--color", "never", str(PUBLISH),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout


def test_it_matches_the_workflow_schema() -> None:
    result = _run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(PUBLISH)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_publish_job_may_ask_for_an_oidc_token() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert jobs["publish"]["environment"]["name"] == "pypi"
    assert jobs["publish"]["needs"] == "build"
    assert [job for job, body in jobs.items() if "permissions" in body] == ["publish"]


def test_every_action_is_pinned_by_a_full_sha_with_its_version() -> None:
    text = PUBLISH.read_text()
    uses = re.findall(r"uses: (\S+) # (v[0-9.]+)$", text, re.MULTILINE)
    assert len(uses) == text.count("uses:")
    assert all(PINNED.match(action) for action, _ in uses)
    assert any(action.startswith("pypa/gh-action-pypi-publish@") for action, _ in uses)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel of this checkout, as the build job makes them."""
    out = tmp_path_factory.mktemp("dist")
    result = _run(sys.executable, "-m", "build", "--outdir", str(out), str(ROOT))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


def test_the_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path) -> None:
    names = sorted(path.name for path in dist.iterdir())
    assert names == [
        f"diva_lifecycle-{__version__}-py3-none-any.whl",
        f"diva_lifecycle-{__version__}.tar.gz",
    ]
    result = _run(sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_distributions_hold_the_package_and_its_data(dist: Path) -> None:
    with zipfile.ZipFile(next(dist.glob("*.whl"))) as wheel:
        files = set(wheel.namelist())
    assert "diva/cli/app.py" in files
    assert "diva/compiler/backends/github/workflows.py" in files
    with tarfile.open(next(dist.glob("*.tar.gz"))) as sdist:
        members = {name.partition("/")[2] for name in sdist.getnames()}
    assert "pyproject.toml" in members
    assert "src/diva/__init__.py" in members
