"""A real PostgreSQL server on loopback, for the team's MLflow tracking store.

Debian's ``postgresql`` (installed by ``.ci/docker-setup``) without systemd: ``running()``
creates a cluster of its own (``pg_createcluster``, a unique name, a free port, listening
on 127.0.0.1 only), starts it (``pg_ctlcluster``), creates a database and a user that
owns it (a random password; TCP connections authenticate with scram-sha-256, Debian's
default), and drops the cluster, its data folder and its log when the block ends. The
server runs as the ``postgres`` user, as Debian runs it: the tests run as root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.docker_harness import free_port

#: how long the new cluster may take to accept connections
START_DEADLINE = 180
VERSIONS = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class Database:
    port: int
    name: str
    user: str
    password: str

    @property
    def url(self) -> str:
        """The SQLAlchemy URL MLflow's ``--backend-store-uri`` takes (psycopg2)."""
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.name}"
        )


def problem() -> str | None:
    """Why no cluster can be created here, or None."""
    if shutil.which("pg_createcluster") is None or not VERSIONS.is_dir():
        return "needs Debian's postgresql (installed by .ci/docker-setup)"
    if os.geteuid() != 0:
        return "pg_createcluster needs root (the cluster runs as the postgres user)"
    return None


def version() -> str:
    return max((path.name for path in VERSIONS.iterdir()), key=lambda name: int(name))


@contextmanager
def running() -> Iterator[Database]:
    """A fresh cluster with database and user ``mlflow_<random>``, while the block runs."""
    major, cluster, port = version(), f"diva-{uuid.uuid4().hex[:10]}", free_port()
    _pg("pg_createcluster", "-p", str(port), major, cluster)
    try:
        # Debian's postgresql.conf includes conf.d: loopback only, no fsync (a test store)
        settings = Path("/etc/postgresql", major, cluster, "conf.d", "diva-test.conf")
        settings.write_text("listen_addresses = '127.0.0.1'\nfsync = off\n")
        _pg("pg_ctlcluster", major, cluster, "start")
        name = f"mlflow_{uuid.uuid4().hex[:8]}"
        database = Database(port, name, name, secrets.token_hex(16))
        _wait_for(port)
        _psql(port, f"CREATE ROLE {database.user} LOGIN PASSWORD '{database.password}'")
        _psql(port, f"CREATE DATABASE {database.name} OWNER {database.user}")
        yield database
    finally:
        _pg("pg_dropcluster", "--stop", major, cluster, check=False)


def _pg(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _psql(port: int, statement: str) -> str:
    """``statement`` as the cluster's superuser, over its Unix socket (peer auth)."""
    result = _pg("runuser", "-u", "postgres", "--", "psql", "-p", str(port), "-qAtc", statement)
    return result.stdout


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        ready = _pg("pg_isready", "-h", "127.0.0.1", "-p", str(port), check=False)
        if ready.returncode == 0:
            return
        time.sleep(0.3)
    raise RuntimeError(f"PostgreSQL on port {port} did not accept connections in time")
