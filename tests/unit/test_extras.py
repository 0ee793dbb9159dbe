"""Missing optional packages are a clear error naming the extra, not an ImportError."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from diva.errors import EXIT_UNAVAILABLE
from diva.extras import ToolsMissing, require
from diva.scaffold import template_dir

ROOT = Path(__file__).resolve().parents[2]


def test_present_modules_pass() -> None:
    require("diva monitor", "monitor", {"json": "json", "click": "click"})


def test_a_missing_module_names_its_package_and_the_extra() -> None:
    with pytest.raises(ToolsMissing) as caught:
        require("diva monitor", "monitor", {"json": "json", "no_such_module_xyz": "xyz-pkg"})
    assert caught.value.exit_code == EXIT_UNAVAILABLE
    message = str(caught.value)
    assert message.startswith("diva monitor needs xyz-pkg, which this Python lacks:")
    assert message.endswith("-m pip install 'diva-lifecycle[monitor]'")


def test_a_dotted_module_under_a_missing_parent_counts_as_missing() -> None:
    with pytest.raises(ToolsMissing):
        require("x", "y", {"no_such_parent_xyz.child": "parent"})


def test_the_quickstart_extra_installs_what_the_projects_readme_runs() -> None:
    """The scaffolded project's README says to run `pytest`: `[quickstart]` installs it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    quickstart = extras["optional-dependencies"]["quickstart"]
    names = {re.split(r"[<>=!~\[; ]", item, maxsplit=1)[0] for item in quickstart}
    readme = (template_dir() / "{{cookiecutter.project_name}}" / "README.md").read_text("utf-8")
    assert "\npytest " in readme
    assert {"dvc", "mlflow", "scikit-learn", "pytest"} <= names
