"""The DVC remote's credentials of the gate: read from the gate job's environment
(``DIVA_DVC_USER``, ``DIVA_DVC_PASSWORD``), written by ``configure()`` into the judged
folder's ``.dvc/config.local`` (owner-only) for the remote kinds that take them, never
into ``.dvc/config``; values DVC's config cannot hold are refused without showing them.
The real DVC reads the files back (``dvc config --list``)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from diva.lifecycle.evidence import UnreachableError
from diva.lifecycle.evidence.dvc import _config, configure

pytest.importorskip("dvc", reason="needs dvc (the `test` extra)")

ENV = {"DIVA_DVC_USER": "gate-reader", "DIVA_DVC_PASSWORD": "s3cr#t 'x'"}


@pytest.mark.parametrize("scheme", ["webdav", "webdavs", "ssh"])
def test_credentials_go_to_config_local_only(tmp_path: Path, scheme: str) -> None:
    configure(tmp_path, "team", f"{scheme}://dvc.example.com/store", ENV)
    assert "gate-reader" not in (tmp_path / ".dvc" / "config").read_text()
    local = tmp_path / ".dvc" / "config.local"
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    config = _config(tmp_path)
    assert config["remote.team.user"] == "gate-reader"
    assert config["remote.team.password"] == "s3cr#t 'x'"
    assert config["remote.team.url"] == f"{scheme}://dvc.example.com/store"


def test_an_http_remote_gets_basic_auth(tmp_path: Path) -> None:
    configure(tmp_path, "team", "https://dvc.example.com/store", ENV)
    config = _config(tmp_path)
    assert config["remote.team.auth"] == "basic"
    assert config["remote.team.user"] == "gate-reader"


@pytest.mark.parametrize("url", ["s3://bucket/store", "/srv/dvc"])
def test_other_remotes_get_no_credentials(tmp_path: Path, url: str) -> None:
    configure(tmp_path, "team", url, ENV)
    assert not (tmp_path / ".dvc" / "config.local").exists()


def test_without_credentials_a_stale_config_local_is_removed(tmp_path: Path) -> None:
    configure(tmp_path, "team", "webdav://dvc.example.com/store", ENV)
    configure(tmp_path, "team", "webdav://dvc.example.com/store", {"DIVA_DVC_USER": ""})
    assert not (tmp_path / ".dvc" / "config.local").exists()


@pytest.mark.parametrize("value", ['pa"ss', "pa\nss", "pa\rss"])
def test_a_value_the_config_cannot_hold_is_refused_unshown(tmp_path: Path, value: str) -> None:
    env = {"DIVA_DVC_USER": "gate-reader", "DIVA_DVC_PASSWORD": value}
    with pytest.raises(UnreachableError) as raised:
        configure(tmp_path, "team", "webdav://dvc.example.com/store", env)
    assert "DIVA_DVC_PASSWORD holds a double quote or a line break" in str(raised.value)
    assert value not in str(raised.value)
    assert not (tmp_path / ".dvc" / "config.local").exists()
