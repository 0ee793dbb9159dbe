"""A team's shared services on loopback, brought up together for the team-setup tests.

``running(folder)`` starts, each on a free port of 127.0.0.1 and each waited for with a
deadline of minutes:

* PostgreSQL (tests/support/postgres.py), the tracking store of
* ``mlflow server`` with MLflow's basic-auth app (``admin`` logs the runs and registers
  the models; ``gate`` is a user that may only read, MLflow's default permission) and a
  shared artifact store it serves itself (``--artifacts-destination``);
* the DVC remote over WebDAV with basic auth (tests/support/webdav_remote.py: a writer
  on ``/team``, the gate's read-only user on ``/gate``);
* the image registry (Debian's docker-registry, tests/support/docker_harness.py).

Everything is stopped (and the database cluster dropped) when the block ends, in the
reverse order. ``Team.startup`` holds each service's start-up time in seconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.support import postgres, webdav_remote
from tests.support.docker_harness import local_registry, registry_problem
from tests.support.mlflow_server import Credentials, Server
from tests.support.mlflow_server import running as mlflow_running

T = TypeVar("T")


@dataclass
class Team:
    database: postgres.Database
    mlflow: Server
    admin: Credentials
    gate: Credentials
    remote: webdav_remote.Remote
    registry: str
    startup: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.startup.items())
        return f"team services started: {times}"


def problem() -> str | None:
    """Why the team's services cannot all run here, or None."""
    return postgres.problem() or registry_problem()


@contextmanager
def running(folder: Path) -> Iterator[Team]:
    admin = Credentials("admin", secrets.token_urlsafe(18))
    gate = Credentials("diva-gate", secrets.token_urlsafe(18))
    startup: dict[str, float] = {}
    with ExitStack() as stack:

        def timed(name: str, manager: AbstractContextManager[T]) -> T:
            started = time.monotonic()
            value = stack.enter_context(manager)
            startup[name] = time.monotonic() - started
            return value

        database = timed("postgresql", postgres.running())
        mlflow = timed(
            "mlflow",
            mlflow_running(
                folder / "mlflow", admin=admin, store=database.url, proxy_artifacts=True
            ),
        )
        mlflow.add_user(admin, gate)
        remote = timed("webdav", webdav_remote.serving(folder / "dav"))
        registry = timed("registry", local_registry(folder / "registry"))
        yield Team(database, mlflow, admin, gate, remote, registry, startup)
