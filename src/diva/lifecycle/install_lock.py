"""``diva lock``: the hash lock of what the gate installs (``platform.install.lock``).

pip resolves the gate's requirements (diva at the version that compiles the project,
DVC with its remote's extra and MLflow's client: what the gate and record jobs need,
whatever the stage, so that a promotion does not outdate the lock) through the source the
spec names: ``pip install --dry-run --ignore-installed --report``, nothing installed.
Every distribution of the report becomes a pinned line with the sha256 of the file pip
chose; the generated jobs then install it with ``pip install --require-hashes -r``.
The hashes are those of the files for the machine that resolved it (its Python and
platform, named in the lock's header): run it on the platform of the CI runner.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diva.compiler.backends.install import (
    DIVA_DISTRIBUTION,
    is_diva,
    lock_requirements,
    wheel_value,
)
from diva.compiler.ir import Project
from diva.compiler.writer import write_text_atomic
from diva.errors import UnavailableError, UsageError
from diva.tools import run

#: pip gives up on a slow index after this long.
RESOLVE_TIMEOUT = 600


@dataclass(frozen=True)
class Pinned:
    """One distribution of the lock: ``name==version`` (or ``name @ url``) and its hash."""

    name: str
    version: str
    sha256: str
    url: str | None = None

    def line(self) -> str:
        pin = f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"
        return f"{pin} \\\n    --hash=sha256:{self.sha256}"


def requirements(project: Project) -> list[str]:
    """What the lock resolves: diva's pinned wheel by its URL when the spec names one."""
    wheel = wheel_value(project)
    return [
        f"{DIVA_DISTRIBUTION} @ {wheel}" if wheel and is_diva(item) else item
        for item in lock_requirements(project)
    ]


def resolve(project: Project, cwd: Path, python: str = sys.executable) -> list[Pinned]:
    """What pip would install for the gate, each with the sha256 of its file."""
    command = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
    command += ["--quiet", "--disable-pip-version-check", "--report", "-"]
    if project.install.index_url:
        command += ["--index-url", project.install.index_url]
    result = run([*command, *requirements(project)], cwd=cwd, timeout=RESOLVE_TIMEOUT)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as err:
        raise UnavailableError(f"pip gave no installation report: {err}") from err
    return sorted((_pinned(item) for item in report.get("install", [])), key=lambda p: p.name)


def _pinned(item: dict[str, Any]) -> Pinned:
    metadata, download = item["metadata"], item.get("download_info", {})
    name = str(metadata["name"]).lower().replace("_", "-").replace(".", "-")
    hashes = download.get("archive_info", {}).get("hashes", {})
    sha256 = hashes.get("sha256")
    if sha256 is None:
        raise UsageError(f"pip found no sha256 for {name} ({download.get('url', '?')})")
    url = str(download["url"]).partition("#")[0] if item.get("is_direct") else None
    return Pinned(name, str(metadata["version"]), str(sha256), url)


def lock_text(project: Project, pinned: list[Pinned]) -> str:
    """The lock file: a header saying what, for which machine, from where; then the pins."""
    source = project.install.index_url or "pip's default index (https://pypi.org/simple)"
    machine = f"{platform.python_implementation()} {platform.python_version()}"
    machine += f" on {sys.platform} {platform.machine()}"
    header = [
        "# The hash lock of diva's gate (platform.install.lock), written by `diva lock`.",
        "# Do not edit: run `diva lock` again (a new diva version, another DVC remote).",
        f"# Resolved for {machine}, from {source},",
        f"# for: {', '.join(requirements(project))}",
        "# Installed by the gate from the base branch: pip install --require-hashes -r",
    ]
    return "\n".join([*header, *(item.line() for item in pinned)]) + "\n"


def write_lock(project: Project, root: Path) -> Path:
    """Resolve the gate's install and write the lock named by the spec, under ``root``."""
    if project.install.lock is None:
        raise UsageError("the spec names no lock: set platform.install.lock (e.g. diva-lock.txt)")
    pinned = resolve(project, root)
    if not any(item.name == DIVA_DISTRIBUTION for item in pinned):
        raise UsageError(f"pip's resolution holds no {DIVA_DISTRIBUTION}")
    path = root / project.install.lock
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, lock_text(project, pinned))
    return path
