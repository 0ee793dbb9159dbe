"""docs/running-on-github.md is true to the code: its ``diva`` commands run as shown, its
secret and variable names are exactly those the generated workflows read, and its
``gh api`` commands are the ones ``diva doctor`` prints.

GitHub itself cannot be reached from these machines: ``diva doctor`` asks the recorded
API (:class:`~tests.support.github_api.RecordedGitHub`), as in test_doctor.py.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.commands import diva
from tests.support.git_repo import commit_spec, init_repo
from tests.support.github_api import RecordedGitHub
from tests.support.paths import ROOT

GUIDE = ROOT / "docs" / "running-on-github.md"
REPOSITORY = "acme/sensor-model"
WORKFLOWS = [
    *ROOT.glob("generated/*/.github/workflows/*.yml"),
    *ROOT.glob("tests/golden/*/expected/.github/workflows/*.yml"),
]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", GUIDE.read_text(), re.MULTILINE | re.DOTALL)


def commands(prefix: str) -> list[str]:
    return [
        line.removeprefix("$ ")
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith(f"$ {prefix}")
    ]


def output_of(command: str) -> list[str]:
    """The lines the guide shows after ``$ command``, up to the next prompt."""
    for block in blocks("console"):
        lines = block.splitlines()
        if f"$ {command}" in lines:
            rest = lines[lines.index(f"$ {command}") + 1 :]
            return rest[: next((i for i, x in enumerate(rest) if x.startswith("$ ")), len(rest))]
    raise AssertionError(f"the guide has no `$ {command}`")


def services() -> dict[str, object]:
    """The guide's platform block of the team's services."""
    (text,) = [block for block in blocks("yaml") if "tracking_uri" in block]
    data: dict[str, object] = YAML(typ="safe").load(text)["platform"]
    return data


def with_platform(spec: Path, platform: dict[str, object], stage: str | None = None) -> None:
    yaml = YAML()
    data = yaml.load(spec.read_text())
    if platform:
        data.setdefault("platform", {}).update(platform)
    if stage:
        data["stage"] = stage
    out = io.StringIO()
    yaml.dump(data, out)
    spec.write_text(out.getvalue())


@pytest.fixture(scope="module")
def scaffold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (new,) = commands("diva new ")
    where = tmp_path_factory.mktemp("guide")
    result = diva(where, *new.split()[1:])
    assert result.returncode == 0, result.stderr
    return where / "sensor-model"


def test_the_defaults_at_stage_2_warn_as_the_guide_shows(scaffold: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sensor-model"
    copy.mkdir()
    (copy / "diva.yaml").write_text((scaffold / "diva.yaml").read_text())
    with_platform(copy / "diva.yaml", {}, stage="small")
    result = diva(copy, "validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == output_of("diva validate")


def test_the_team_services_validate_strictly_and_compile(scaffold: Path) -> None:
    with_platform(scaffold / "diva.yaml", services())
    for command in ("diva validate --strict", "diva compile"):
        result = diva(scaffold, *command.split()[1:])
        assert result.returncode == 0, result.stdout + result.stderr
    assert diva(scaffold, "validate", "--strict").stdout.splitlines() == output_of(
        "diva validate --strict"
    )
    config = (scaffold / ".dvc" / "config").read_text()
    assert "url = webdavs://dav.acme.example/dvc/sensor-model" in config


def test_the_secrets_and_variables_are_the_ones_the_workflows_read() -> None:
    read = {
        match
        for path in WORKFLOWS
        for match in re.findall(r"\$\{\{ (?:secrets|vars)\.([A-Z0-9_]+)", path.read_text())
    }
    table = set(
        re.findall(r"^\| `([A-Z0-9_]+)` \| (?:variable|secret) \|", GUIDE.read_text(), re.M)
    )
    assert table == read
    for command in commands("gh secret set ") + commands("gh variable set "):
        assert command.split()[3] in read, command


def test_the_gh_api_commands_are_the_ones_diva_doctor_prints(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "project")
    commit_spec(root, "diva: 1\nproject: {name: sensor-model}\nstage: deploy\n", "stage 4")
    with RecordedGitHub(repository=REPOSITORY) as api:
        env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": api.repository}
        result = diva(
            root, "doctor", env={**env, "GITHUB_TOKEN": api.token, "PATH": "/usr/bin:/bin"}
        )
    assert result.returncode == 1, result.stdout + result.stderr
    fixes = {
        line.strip().removeprefix("fix: ")
        for line in result.stdout.splitlines()
        if "fix: gh" in line
    }
    guide = commands("gh api ")
    release = next(command for command in guide if "/environments/release" in command)
    assert {command for command in guide if "/environments/training" not in command} <= fixes
    assert release in fixes
    training = release.replace("/environments/release", "/environments/training")
    assert training in guide  # the training environment: the same branch policy
    assert f"diva doctor --repo {REPOSITORY}" in commands("diva doctor")
