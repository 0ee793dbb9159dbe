"""DVC's own configuration, from the spec: ``.dvc/config`` and ``.dvc/.gitignore``.

The default remote of ``platform.dvc.remote`` is written into ``.dvc/config`` at every
stage, so the spec and DVC never disagree about where data is pushed: changing the remote
in ``diva.yaml`` and running ``diva compile`` changes it for DVC, and a hand edit of
``.dvc/config`` is drift like any other generated file. Credentials never go there (it
is committed): DVC reads them from ``.dvc/config.local`` (``dvc remote modify --local``),
which ``.dvc/.gitignore`` keeps out of git together with the cache.

Written by diva, ``.dvc/`` also makes the folder a DVC project: ``dvc init`` is not
needed. A folder where ``dvc init`` (and ``dvc remote add -d`` of the spec's own remote)
already ran is taken over as it is, because those files say nothing the spec does not
(:func:`adopts_config`, :func:`adopts_gitignore`); anything else there is a conflict.
"""

from __future__ import annotations

import configparser
from pathlib import PurePosixPath

from diva.compiler.ir import Project
from diva.compiler.render import Artifact, commented_text

CONFIG_FILE = ".dvc/config"
GITIGNORE_FILE = ".dvc/.gitignore"
GENERATED = (CONFIG_FILE, GITIGNORE_FILE)
#: What ``dvc init`` keeps out of git: the machine's own settings and DVC's working files.
IGNORED = ("/config.local", "/tmp", "/cache")  # noqa: S108 - paths in .dvc/, not /tmp
_CREDENTIALS_NOTE = (
    "# Credentials never go here (it is committed): `dvc remote modify --local NAME\n"
    "# user|password|... VALUE` writes them to .dvc/config.local, which git ignores.\n"
)


def emit(project: Project) -> list[Artifact]:
    body = _CREDENTIALS_NOTE + config_body(project)
    wanted = settings(config_body(project)) or {}
    return [
        Artifact(
            CONFIG_FILE,
            commented_text(body, project.spec_file),
            adopts=lambda current: adopts_config(current, wanted),
        ),
        Artifact(
            GITIGNORE_FILE,
            commented_text("\n".join(IGNORED), project.spec_file),
            adopts=adopts_gitignore,
        ),
    ]


def config_body(project: Project) -> str:
    """The INI text DVC reads: the spec's remote, the default one."""
    name, url = project.dvc_remote
    return f"[core]\n    remote = {name}\n['remote \"{name}\"']\n    url = {config_url(url)}\n"


def config_url(url: str) -> str:
    """The URL as ``.dvc/config`` holds it: a relative folder is relative to ``.dvc/``
    (as ``dvc remote add`` writes it), so ``data-remote`` becomes ``../data-remote``."""
    if "://" in url or url.startswith("/"):
        return url
    return str(PurePosixPath("..") / PurePosixPath(url))


def settings(text: str) -> dict[tuple[str, str], str] | None:
    """Every ``(section, key) -> value`` of a DVC config text; None when it is not one."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return {
        (section, key): value.strip()
        for section in parser.sections()
        for key, value in parser.items(section)
    }


def adopts_config(current: str, wanted: dict[tuple[str, str], str]) -> bool:
    """Whether a ``.dvc/config`` diva did not write sets nothing but ``wanted`` values:
    what ``dvc init`` writes (nothing) and ``dvc remote add -d`` of the spec's remote."""
    found = settings(current)
    return found is not None and all(wanted.get(key) == value for key, value in found.items())


def adopts_gitignore(current: str) -> bool:
    """``dvc init``'s ignore file (or a part of it): nothing but what diva ignores too."""
    lines = {line.strip() for line in current.splitlines()} - {""}
    return all(line.startswith("#") or line in IGNORED for line in lines)
