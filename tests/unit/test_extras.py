"""Missing optional packages are a clear error naming the extra, not an ImportError."""

from __future__ import annotations

import pytest

from diva.errors import EXIT_UNAVAILABLE
from diva.extras import ToolsMissing, require


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
