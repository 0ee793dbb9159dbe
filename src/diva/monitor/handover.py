"""A monitoring run split over jobs of different trust: what one job hands to the next.

The scheduled workflow keeps the project's code away from the release token
(docs/contributing/security.md): one job with the MLflow credentials downloads the
versions the monitoring aliases point at, loading nothing (:func:`download`); a job
without any secret installs the project's requirements and scores them
(:func:`evaluate`); the job that may open a pull request runs only diva, on the report
the second job wrote (:mod:`diva.monitor.measured`). Every file handed over is read as
untrusted data: a fixed shape, and names the spec declares.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from diva import runtime
from diva.compiler.writer import write_text_atomic
from diva.errors import UsageError
from diva.monitor.run import Found, Loader, MonitorReport, Registry, Settings, Versions, measure

#: The manifest of a folder of downloaded versions, next to one folder per version.
VERSIONS_FILE = "versions.json"
#: A registered model's version number, which is also its folder's name.
VERSION = r"^[1-9][0-9]{0,9}$"
#: An MLflow run id.
RUN_ID = r"^[0-9a-f]{32}$"


class Strict(BaseModel):
    """The shape of a handed-over file: no other key, no coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FoundEntry(Strict):
    alias: str
    version: str = Field(pattern=VERSION)
    run_id: str | None = Field(default=..., pattern=RUN_ID)


class VersionsFile(Strict):
    model: str
    champion: FoundEntry
    challengers: list[FoundEntry]
    missing: list[str]


def download(root: Path, settings: Settings, folder: Path) -> Versions:
    """Download the versions the monitoring aliases point at into ``folder`` (one folder
    per version, and :data:`VERSIONS_FILE`), without loading them."""
    context = runtime.context(["--dataset", settings.current(None)], root=root)
    registry = Registry(context.tracking_uri(), settings.model_name)
    versions = registry.versions(settings.monitoring)
    for found in {item.version: item for item in versions.found()}.values():
        registry.download(found, folder / found.version)
    write_text_atomic(folder / VERSIONS_FILE, json.dumps(asdict(versions), indent=2) + "\n")
    return versions


def evaluate(
    root: Path, settings: Settings, folder: Path, current: str | None, slo_file: Path | None
) -> MonitorReport:
    """Score the versions :func:`download` put in ``folder``; logs nothing to MLflow."""
    versions = read_versions(settings, folder / VERSIONS_FILE)
    return measure(root, settings.spec, versions, _local(folder), current, slo_file)


def _local(folder: Path) -> Loader:
    def load(found: Found) -> Any:
        where = folder / found.version
        if not (where / "MLmodel").is_file():
            raise UsageError(f"{where}: no downloaded model version (diva monitor --download)")
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(str(where))

    return load


def read_versions(settings: Settings, path: Path) -> Versions:
    """The manifest at ``path``, refused unless it names exactly the spec's aliases."""
    document = parsed(VersionsFile, path)
    monitoring = settings.monitoring
    found = [item.alias for item in document.challengers]
    expected_missing = [alias for alias in monitoring.challengers if alias not in found]
    problems = [
        *_differs("model", document.model, settings.model_name),
        *_differs("champion alias", document.champion.alias, monitoring.champion),
        *_differs("challenger aliases", found, [a for a in monitoring.challengers if a in found]),
        *_differs("aliases without a version", document.missing, expected_missing),
    ]
    if problems:
        raise UsageError(f"{path}: {'; '.join(problems)}")
    challengers = [_found(item) for item in document.challengers]
    return Versions(document.model, _found(document.champion), challengers, document.missing)


def _found(entry: FoundEntry) -> Found:
    return Found(entry.alias, entry.version, entry.run_id)


def parsed(shape: type[Strict], path: Path) -> Any:
    """The JSON file at ``path`` as ``shape``, or a :class:`UsageError` saying why not."""
    try:
        return shape.model_validate_json(path.read_bytes())
    except OSError as err:
        raise UsageError(f"{path}: not a readable file ({err})") from err
    except ValidationError as err:
        raise _refused(path, err) from err


def _differs(what: str, found: object, expected: object) -> list[str]:
    return [] if found == expected else [f"{what} {found!r}, the spec says {expected!r}"]


def _refused(path: Path, err: ValidationError) -> UsageError:
    """A handed-over file that is not what diva writes: where, and what is wrong."""
    lines = [
        f"{'.'.join(str(part) for part in item['loc']) or '(top)'}: {item['msg']}"
        for item in err.errors(include_url=False, include_input=False)
    ]
    return UsageError(f"{path}: not a file diva wrote: {'; '.join(lines)}")
