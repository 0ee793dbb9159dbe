"""MLflow evidence: the project's runs with diva's lineage tags, model versions, aliases."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diva.lifecycle.evidence import UnreachableError
from diva.progress import Notify, silent
from diva.urls import redact, strip_userinfo


@dataclass(frozen=True)
class Run:
    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, str] = field(default_factory=dict)


def _missing(err: Exception) -> bool:
    """Whether MLflow answered that the thing asked for does not exist."""
    code = str(getattr(err, "error_code", ""))
    return code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(err).lower()


#: What MLflow's error says when the server refused the request's credentials.
_REFUSED = re.compile(r"\b(401|403)\b|not authenticated|permission denied", re.IGNORECASE)
CREDENTIALS_HINT = (
    "credentials missing or refused: MLflow reads MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN; the gate job sets them from "
    "DIVA_GATE_MLFLOW_*"
)

#: MLflow retries a silent server for minutes by default; the gate has better things to do.
_QUICK_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def resolve_uri(root: Path, uri: str) -> str:
    """Relative SQLite stores are relative to the project root."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{root / uri.removeprefix('sqlite:///')}"
    return uri


class Mlflow:
    """A read-only view of the tracking server or embedded store; ``notify`` is told
    each request that may take a while (the first, which imports MLflow, and searches)."""

    kind = "live MLflow"

    def __init__(self, root: Path, tracking_uri: str, notify: Notify = silent) -> None:
        self.uri = resolve_uri(root, tracking_uri)
        self._notify = notify
        if self.uri.startswith("sqlite:///"):
            database = Path(self.uri.removeprefix("sqlite:///"))
            if not database.is_file():
                raise UnreachableError(f"no MLflow store at {database}")
        notify(f"asking MLflow at {strip_userinfo(tracking_uri)}")
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as err:
            raise UnreachableError("mlflow is not installed") from err
        try:  # a store MLflow cannot open (a driver mlflow-skinny lacks, say) is no evidence
            self._client: Any = MlflowClient(tracking_uri=self.uri)
        except Exception as err:
            raise self.unreachable(err) from err
        self._probe()

    def unreachable(self, err: Exception) -> UnreachableError:
        """The error for a failed request; MLflow's message repeats the URI, so the
        credentials of both are stripped (they may come from the environment). A server
        that refuses the credentials (401, 403) is named as such."""
        text = redact(str(err))
        refused = _REFUSED.search(text) is not None
        hint = f" ({CREDENTIALS_HINT})" if refused else ""
        return UnreachableError(f"MLflow at {strip_userinfo(self.uri)}{hint}: {text}")

    def _probe(self) -> None:
        """Ask the store once, briefly: a server that does not answer, or a database that
        cannot be read, is unreachable evidence, not a store to claim verification
        against."""
        for name, value in _QUICK_HTTP.items():
            os.environ.setdefault(name, value)
        try:
            self._client.search_experiments(max_results=1)
        except Exception as err:
            raise self.unreachable(err) from err

    def runs(self, project: str) -> list[Run]:
        """Every run tagged with ``diva.project`` = ``project``."""
        self._notify(f"asking MLflow for the runs of project {project}")
        try:
            experiments = self._client.search_experiments()
            ids = [experiment.experiment_id for experiment in experiments]
            found = self._client.search_runs(ids, f"tags.`diva.project` = '{project}'")
        except Exception as err:
            raise self.unreachable(err) from err
        return [
            Run(run.info.run_id, dict(run.data.tags), dict(run.data.metrics), dict(run.data.params))
            for run in found
        ]

    def version_of_run(self, model: str, run_id: str) -> str | None:
        self._notify(f"asking MLflow for the versions of model {model}")
        try:
            versions = self._client.search_model_versions(f"name='{model}'")
        except Exception as err:
            raise self.unreachable(err) from err
        return next((str(v.version) for v in versions if v.run_id == run_id), None)

    def alias(self, model: str, alias: str) -> str | None:
        """The version that carries ``alias``, or None."""
        self._notify(f"asking MLflow which version of model {model} is {alias}")
        try:
            return str(self._client.get_model_version_by_alias(model, alias).version)
        except Exception as err:
            if _missing(err):
                return None
            raise self.unreachable(err) from err

    def run_of_version(self, model: str, version: str) -> str | None:
        """The run that registered ``version`` of ``model``; None when there is no such
        version (an empty string when it was registered from no run)."""
        try:
            return str(self._client.get_model_version(model, version).run_id or "")
        except Exception as err:
            if _missing(err):
                return None
            raise self.unreachable(err) from err

    def run(self, run_id: str) -> Run | None:
        """The run with this id, or None."""
        try:
            found = self._client.get_run(run_id)
        except Exception as err:
            if _missing(err):
                return None
            raise self.unreachable(err) from err
        data = found.data
        return Run(found.info.run_id, dict(data.tags), dict(data.metrics), dict(data.params))

    def download_model(self, name: str, version: str, destination: Path) -> Path:
        """Download registered model ``name`` version ``version`` into
        ``destination``; the downloaded model folder (with its MLmodel file)."""
        import mlflow.artifacts

        try:
            source = self._client.get_model_version_download_uri(name, version)
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(destination), tracking_uri=self.uri
            )
        except Exception as err:
            raise self.unreachable(err) from err
        return Path(path)
