"""Package backend: the model-as-dependency pattern's Python package of the model.

From stage 4, when ``serving.pattern`` is ``model-as-dependency``, ``deploy/package/``
holds a package that an application installs to embed the model:

* ``pyproject.toml`` — hatchling; distribution ``<project>-model``, version = the
  registered model version it bundles (:func:`released`, 0 before any release);
* ``hatch_build.py`` — its dependencies are the bundled model's ``requirements.txt``, as
  MLflow recorded them when the model was logged (what the serving image installs too);
* ``<project_with_underscores>_model/__init__.py`` — ``load()`` and ``predict(data)``
  on the MLflow pyfunc model bundled as package data in ``model/``;
* ``README.md`` and a ``.gitignore``: the model files are not generated — ``diva build
  package`` fetches them from MLflow into ``model/`` and builds the wheel.

The project's name (a DNS-1123 label) and the model's name become identifiers and
strings, quoted for their language; the title reaches only the TOML description and the
README, escaped for each.
"""

from __future__ import annotations

import html
import re

from diva.compiler.ir import Project
from diva.compiler.render import Artifact, commented_text, markdown_text
from diva.contract import PACKAGE_DIR

#: The environment whose release the package carries when it has one.
PRODUCTION = "production"
#: Where the wheels go unless `diva build package --out` says otherwise.
DIST_DIR = f"{PACKAGE_DIR}/dist"

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_LITERAL = re.compile(r"[A-Za-z0-9_./-]+")
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]")
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\t": "\\t"}


def emit(project: Project) -> list[Artifact]:
    if not applies(project):
        return []
    module = module_name(project)
    source = project.spec_file
    return [
        Artifact(f"{PACKAGE_DIR}/pyproject.toml", commented_text(_pyproject(project), source)),
        Artifact(f"{PACKAGE_DIR}/hatch_build.py", commented_text(_hook(project), source)),
        Artifact(f"{PACKAGE_DIR}/{module}/__init__.py", commented_text(_init(project), source)),
        Artifact(f"{PACKAGE_DIR}/README.md", markdown_text(_readme(project), source)),
        Artifact(f"{PACKAGE_DIR}/.gitignore", commented_text(_gitignore(project), source)),
    ]


def applies(project: Project) -> bool:
    serving = project.serving
    return (
        project.stage >= 4
        and project.model is not None
        and serving is not None
        and serving.pattern == "model-as-dependency"
    )


def distribution_name(project: Project) -> str:
    return f"{project.name}-model"


def module_name(project: Project) -> str:
    """The import package: the project's name with underscores (a DNS-1123 label starts
    with a letter and holds letters, digits and '-': always an identifier)."""
    name = f"{project.name.replace('-', '_')}_model"
    if not name.isidentifier():  # validated by the spec; a bug if not
        raise RuntimeError(f"not an identifier: {name!r}")
    return name


def model_dir(project: Project) -> str:
    """Where `diva build package` puts the model files: package data of the module."""
    return f"{PACKAGE_DIR}/{module_name(project)}/model"


def released(project: Project) -> tuple[str, int] | None:
    """The environment whose release the package carries, and its model version:
    production when it has a release, else the last environment (in the promotion
    order of platform.environments) that has one; None before any release."""
    serving = project.serving
    if serving is None or not serving.releases:
        return None
    environment = PRODUCTION if PRODUCTION in serving.releases else list(serving.releases)[-1]
    return environment, serving.releases[environment].model_version


def version_line(version: int | str) -> str:
    """The pyproject line of the version; `diva build package` swaps it for the version
    it fetched when that is another one."""
    return f'version = "{int(version)}"'


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = "".join(
        _TOML_ESCAPES.get(char)
        or (f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in value
    )
    return f'"{escaped}"'


def _plain(value: str) -> str:
    """A name validated by the spec (letters, digits, '_', '-'), checked again because
    it is written into Python source."""
    if not _NAME.fullmatch(value):
        raise RuntimeError(f"not a plain name: {value!r}")
    return value


def _literal(value: str) -> str:
    """A Python string literal of a plain name or path, double-quoted as ruff formats it
    (so that a project's own formatter leaves the generated module alone)."""
    if not _LITERAL.fullmatch(value):
        raise RuntimeError(f"not a plain literal: {value!r}")
    return f'"{value}"'


def _one_line(value: str) -> str:
    """Free text for one-line metadata (Summary): Unicode line separators as spaces."""
    return _OTHER_BREAKS.sub(" ", value)


def _pyproject(project: Project) -> str:
    module = module_name(project)
    release = released(project)
    origin = f"serving.releases.{release[0]}" if release else "no release yet in serving.releases"
    return "\n".join(
        [
            "[build-system]",
            'requires = ["hatchling>=1.21"]',
            'build-backend = "hatchling.build"',
            "",
            "[project]",
            f"name = {toml_string(distribution_name(project))}",
            f"# the registered model version bundled: {origin}",
            version_line(release[1] if release else 0),
            f"description = {toml_string(_one_line(project.title))}",
            'readme = "README.md"',
            f"requires-python = {toml_string('>=' + project.python)}",
            "# the bundled model's own requirements.txt (hatch_build.py)",
            'dynamic = ["dependencies"]',
            "",
            "[tool.hatch.metadata.hooks.custom]",
            "",
            "[tool.hatch.build.targets.wheel]",
            f"packages = [{toml_string(module)}]",
            "# fetched by `diva build package` and git-ignored: bundled all the same",
            f"artifacts = [{toml_string(f'{module}/model/')}]",
        ]
    )


def _hook(project: Project) -> str:
    requirements = f"{module_name(project)}/model/requirements.txt"
    return f'''"""hatchling metadata hook: the wheel depends on what the bundled model needs.

The requirements.txt that MLflow recorded with the model (the serving image installs
the same), pinned as MLflow pinned them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

REQUIREMENTS = {_literal(requirements)}


class ModelRequirements(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        path = Path(self.root) / REQUIREMENTS
        if not path.is_file():
            raise FileNotFoundError(f"{{path}} is missing: build with `diva build package`")
        lines = [line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines()]
        options = [line for line in lines if line.startswith("-")]
        if options:
            raise ValueError(f"{{path}}: pip options are no dependencies: {{options}}")
        metadata["dependencies"] = [line for line in lines if line]'''


def _init(project: Project) -> str:
    assert project.model is not None
    model = _plain(project.model.registered_name)
    return f'''"""The MLflow model {model} of {_plain(project.name)}, bundled: the package's version
is the registered model version it carries.

``predict(data)`` answers as the model's MLflow pyfunc does: a pandas DataFrame (or what
the model's signature accepts) in, predictions out. The model loads on first use, once
per process; ``load()`` returns it for direct use.
"""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["MODEL_NAME", "MODEL_PATH", "__version__", "load", "predict"]

#: The registered MLflow model this package bundles.
MODEL_NAME = {_literal(model)}
#: The bundled MLflow model folder (package data).
MODEL_PATH = Path(__file__).parent / "model"

try:
    __version__ = metadata.version({_literal(distribution_name(project))})
except metadata.PackageNotFoundError:  # imported from the source folder
    __version__ = "0"


@functools.cache
def load() -> Any:
    """The bundled model, an ``mlflow.pyfunc.PyFuncModel``; loaded once."""
    if not (MODEL_PATH / "MLmodel").is_file():
        raise FileNotFoundError(f"no model in {{MODEL_PATH}}: build with `diva build package`")
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(MODEL_PATH))


def predict(data: Any) -> Any:
    """The model's predictions for ``data``."""
    return load().predict(data)'''


def _readme(project: Project) -> str:
    assert project.model is not None
    module = module_name(project)
    distribution = distribution_name(project)
    release = released(project)
    pinned = f"=={release[1]}" if release else ""
    return "\n".join(
        [
            f"# {distribution}",
            "",
            html.escape(_one_line(project.title), quote=False),
            "",
            f"The registered MLflow model `{project.model.registered_name}` of `{project.name}` "
            "as a Python package (serving pattern `model-as-dependency`): version N of the "
            "package bundles version N of the model, and depends on exactly the "
            "requirements MLflow recorded with it.",
            "",
            "## Use",
            "",
            "```console",
            f"$ pip install {distribution}{pinned}",
            "```",
            "",
            "```python",
            f"import {module}",
            "",
            f"predictions = {module}.predict(frame)  # a pandas DataFrame of the model's inputs",
            f"model = {module}.load()  # the mlflow.pyfunc model, loaded once per process",
            "```",
            "",
            "## Build",
            "",
            "The model files are not in git. `diva build package` (run at the project root)",
            f"fetches the model version into `{module}/model/` and builds the wheel into",
            "`dist/`; publish it to your package index with `twine upload`.",
        ]
    )


def _gitignore(project: Project) -> str:
    return "\n".join(
        [
            "# fetched from MLflow by `diva build package`, and the wheels it builds",
            f"/{module_name(project)}/model/",
            "/dist/",
        ]
    )
