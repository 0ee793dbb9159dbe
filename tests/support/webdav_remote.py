"""A DVC remote over WebDAV with basic auth on loopback: WsgiDAV (PyPI ``wsgidav``, served
by ``cheroot``) in a process of its own.

One folder, two shares: ``/team`` (read and write, for the team member who pushes, user
``writer``) and ``/gate`` (the same folder, read-only, for the gate's user ``reader``).
Each share knows only its own user, so the gate's credentials cannot write: WsgiDAV
enforces read-only shares, not per-user roles. The spec names the ``/gate`` URL (what
CI reads); a team member pushes to ``/team`` with ``dvc remote modify --local url``.
A request without valid credentials gets 401. The server is stopped by its process
group; its log (every request) is ``Remote.log``.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.docker_harness import free_port
from tests.support.mlflow_server import Credentials, basic_auth
from tests.support.process import stop_group

START_DEADLINE = 120


@dataclass(frozen=True)
class Remote:
    host: str
    folder: Path
    writer: Credentials
    reader: Credentials
    log: Path

    @property
    def url(self) -> str:
        """What the spec names: the read-only share, as DVC's webdav remote URL."""
        return f"webdav://{self.host}/gate"

    @property
    def write_url(self) -> str:
        return f"webdav://{self.host}/team"

    def requests(self) -> int:
        """How many requests the gate's reader made so far (WsgiDAV logs each with its
        user and the path inside the share)."""
        text = self.log.read_text(errors="replace")
        return text.count(f" - {self.reader.username} - ")


def _config(folder: Path, port: int, writer: Credentials, reader: Credentials) -> dict[str, object]:
    def users(credentials: Credentials) -> dict[str, object]:
        return {credentials.username: {"password": credentials.password}}

    return {
        "host": "127.0.0.1",
        "port": port,
        "provider_mapping": {
            "/team": {"root": str(folder / "store")},
            "/gate": {"root": str(folder / "store"), "readonly": True},
        },
        "simple_dc": {"user_mapping": {"/team": users(writer), "/gate": users(reader)}},
        "http_authenticator": {
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "dir_browser": {"enable": False},
        "verbose": 3,
        "lock_storage": True,
        "property_manager": True,
    }


@contextmanager
def serving(folder: Path) -> Iterator[Remote]:
    """The WebDAV remote storing into ``folder/store`` at a free port, while the block runs."""
    (folder / "store").mkdir(parents=True, exist_ok=True)
    port = free_port()
    writer = Credentials("writer", secrets.token_urlsafe(18))
    reader = Credentials("reader", secrets.token_urlsafe(18))
    config = folder / "wsgidav.json"
    config.write_text(json.dumps(_config(folder, port, writer, reader)))
    config.chmod(0o600)
    remote = Remote(f"127.0.0.1:{port}", folder / "store", writer, reader, folder / "wsgidav.log")
    command = [str(Path(sys.executable).parent / "wsgidav"), f"--config={config}"]
    with remote.log.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_for(remote, process)
            yield remote
        finally:
            stop_group(process)


def _wait_for(remote: Remote, process: subprocess.Popen[bytes]) -> None:
    """Until the gate's share answers its reader (a PROPFIND of the share's root)."""
    deadline = time.monotonic() + START_DEADLINE
    request = urllib.request.Request(
        f"http://{remote.host}/gate/",
        method="PROPFIND",
        headers={"Depth": "0", **basic_auth(remote.reader)},
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = remote.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"wsgidav exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    raise RuntimeError(f"wsgidav at {remote.host} did not answer in {START_DEADLINE} s")
