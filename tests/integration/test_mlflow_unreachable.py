"""An MLflow that cannot be read is named in the error without the credentials its
tracking URI may carry (a real MLflow client, a loopback port nothing listens on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.mlflow import Mlflow
from tests.support.docker_harness import free_port

pytest.importorskip("mlflow.tracking")


@pytest.mark.parametrize("userinfo", ["kim:s3cret@", "s3cret@"])
def test_unreachable_mlflow_is_named_without_its_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, userinfo: str
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    port = free_port()
    with pytest.raises(UnreachableError) as caught:
        Mlflow(tmp_path, f"http://{userinfo}127.0.0.1:{port}")
    message = str(caught.value)
    assert message.startswith(f"MLflow at http://127.0.0.1:{port}: ")
    assert "s3cret" not in message


def test_monitor_names_an_unreachable_registry_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("pandas")
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    from diva.monitor.run import MonitorUnavailable, Registry

    # Registry sets MLflow's global URIs and their environment variables: put them
    # back for the tests that follow
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, "")  # remembers whether and how it was set
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    port = free_port()
    registry = Registry(f"http://kim:s3cret@127.0.0.1:{port}", "demo")
    with pytest.raises(MonitorUnavailable) as caught:
        registry.version("champion")
    message = str(caught.value)
    assert message.startswith(f"MLflow at http://127.0.0.1:{port}: ")
    assert "s3cret" not in message


def test_a_store_that_is_not_a_database_is_unreachable_not_a_traceback(tmp_path: Path) -> None:
    """A file where the SQLite store should be, that MLflow cannot open: no evidence."""
    (tmp_path / "mlflow.db").write_bytes(b"not a database\n" * 100)
    with pytest.raises(UnreachableError, match=r"^MLflow at sqlite:///"):
        Mlflow(tmp_path, "sqlite:///mlflow.db")


def test_a_server_that_refuses_the_credentials_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loopback HTTP server that answers every request 401, as MLflow's basic-auth app
    does without credentials (the real app is exercised in tests/act/test_gate_live.py)."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            self.end_headers()
            self.wfile.write(b"You are not authenticated.")

        do_GET = do_POST = _refuse  # noqa: N815 - the handler's names

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(UnreachableError) as caught:
            Mlflow(Path(), f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert "credentials missing or refused" in str(caught.value)
    assert "DIVA_GATE_MLFLOW_*" in str(caught.value)
