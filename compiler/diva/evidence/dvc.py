"""DVC evidence: which paths are tracked, their content hash, and whether they are pushed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from diva.evidence import UnreachableError


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path) if path.is_file() else None


def tracked_hash(root: Path, data_path: str) -> str | None:
    """The md5 DVC recorded for ``data_path`` in its ``.dvc`` file, or None."""
    document = _load_yaml(root / f"{data_path}.dvc") or {}
    for out in document.get("outs") or []:
        if str(out.get("path", "")).rstrip("/") == Path(data_path).name:
            return str(out.get("md5") or out.get("hash") or "") or None
    return None


def lock_hashes(root: Path) -> dict[str, str]:
    """Path -> md5 of every dependency recorded in dvc.lock (what the pipeline ran on)."""
    document = _load_yaml(root / "dvc.lock") or {}
    hashes: dict[str, str] = {}
    for stage in (document.get("stages") or {}).values():
        for dep in stage.get("deps") or []:
            if dep.get("md5"):
                hashes[str(dep["path"]).rstrip("/")] = str(dep["md5"])
    return hashes


def _dvc() -> list[str]:
    local = Path(sys.executable).parent / "dvc"
    if local.exists():
        return [str(local)]
    found = shutil.which("dvc")
    if found is None:
        raise UnreachableError("dvc is not installed, so the remote cannot be checked")
    return [found]


def pushed(root: Path, data_path: str) -> bool:
    """Whether the remote holds ``data_path`` (``dvc status --cloud``)."""
    command = [*_dvc(), "status", "--cloud", "--json", f"{data_path}.dvc"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UnreachableError(f"dvc status --cloud failed: {result.stderr.strip()[-300:]}")
    try:
        status = json.loads(result.stdout or "{}")
    except ValueError as err:
        raise UnreachableError(f"dvc status --cloud gave no JSON: {result.stdout[:200]}") from err
    return not status
