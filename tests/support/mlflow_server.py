"""Real MLflow tracking servers on loopback, for the tests that need a team's server.

``running(folder)`` starts ``mlflow server`` on a free port of 127.0.0.1 with an SQLite
store in ``folder``, waits for ``/health`` (a busy 2-core machine can take a minute), and
stops it and every process it started (uvicorn, its workers) by its process group.
With ``admin=`` it runs MLflow's basic-auth app (``--app-name basic-auth``, which needs
``mlflow[auth]``): the admin user and the auth database are set in an auth config file in
``folder`` (``MLFLOW_AUTH_CONFIG_PATH``), every other user gets READ by default, and a
request without valid credentials gets 401. The server's log, uvicorn's access log
included, is ``Server.log``. MLflow's background job runner is turned off: nothing here
uses it, and it starts a dozen processes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from tests.support.docker_harness import free_port
from tests.support.process import stop_group

#: how long a server may take to answer /health (MLflow migrates its stores first)
START_DEADLINE = 300


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def env(self) -> dict[str, str]:
        """MLflow's own variables for these credentials, as the generated workflows set them."""
        return {
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
        }


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def client(self) -> Any:
        """An ``MlflowClient`` of this server; on a basic-auth server, use it inside
        ``as_user`` (MLflow reads the credentials from the environment on every request)."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.url)

    def add_user(self, admin: Credentials, user: Credentials) -> None:
        """Create ``user`` (READ on everything, the auth app's default permission)."""
        body = {"username": user.username, "password": user.password}
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/users/create",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", **basic_auth(admin)},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def requests_logged(self) -> int:
        """How many API requests the server's access log holds so far."""
        text = self.log.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if '"GET /api' in line or '"POST /api' in line)


def basic_auth(credentials: Credentials) -> dict[str, str]:
    token = f"{credentials.username}:{credentials.password}".encode()
    return {"Authorization": f"Basic {base64.b64encode(token).decode()}"}


@contextmanager
def as_user(credentials: Credentials) -> Iterator[None]:
    """MLflow clients of this process send ``credentials`` inside the block."""
    with mock.patch.dict(os.environ, credentials.env()):
        yield


@contextmanager
def running(
    folder: Path,
    *,
    admin: Credentials | None = None,
    store: str | None = None,
    proxy_artifacts: bool = False,
) -> Iterator[Server]:
    """An MLflow server with its store in ``folder`` (or at the URI ``store``, e.g. a
    PostgreSQL database); basic auth with ``admin``. With ``proxy_artifacts`` the server
    is the artifact store's proxy (``mlflow-artifacts:/``, kept in ``folder``): clients
    up- and download artifacts over HTTP, as a team's server serves them to a container
    that cannot see the server's folder; else they write into ``folder / "artifacts"``."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        store or f"sqlite:///{folder / 'mlflow.db'}",
        *_artifact_options(folder / "artifacts", proxy_artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if admin is not None:
        command += ["--app-name", "basic-auth"]
        env |= _auth_env(folder, admin)
    server = Server(f"http://127.0.0.1:{port}", folder / "server.log")
    with server.log.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            _wait_for(server, process)
            yield server
        finally:
            stop_group(process)


def _artifact_options(artifacts: Path, proxied: bool) -> list[str]:
    if proxied:
        return [
            "--artifacts-destination",
            str(artifacts),
            "--default-artifact-root",
            "mlflow-artifacts:/",
        ]
    return ["--default-artifact-root", str(artifacts)]


def _auth_env(folder: Path, admin: Credentials) -> dict[str, str]:
    """The basic-auth app's settings: its config file (admin user, auth database) and
    the secret key its CSRF protection refuses to start without."""
    config = folder / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
        f"admin_username = {admin.username}\n"
        f"admin_password = {admin.password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    config.chmod(0o600)
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }


def _wait_for(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server at {server.url} did not answer in {START_DEADLINE} s")
