"""The model-as-dependency pattern end to end, with nothing mocked: a model registered in
a real embedded MLflow store becomes a wheel (`diva build package`), the wheel is
installed into a fresh virtual environment, and the application's side — `import
tiny_regression_model; predict(...)` there — answers exactly like the registered model
loaded on the host.

The fresh venv has no access to this test's packages: pip resolves the wheel's
dependencies (the model's requirements.txt, pinned by MLflow: mlflow and scikit-learn)
from the configured package index, as an application's install would, and reuses pip's
cache after the first run. That install (about 850 MB) is most of this module's time.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import diva, sh

FIXTURE = Path(__file__).parent / "fixture"
MODEL = "tiny-regression"
MODULE = "tiny_regression_model"
#: serving.releases.production names version 1: the default build bundles it
SPEC_TAIL = """\
slos: {latency_p95_ms: 250, error_rate: 0.01}
serving:
  pattern: model-as-dependency
  releases:
    production: {model_version: 1}
"""
ROWS = [[0.5, -1.0], [1.5, 2.0], [-0.25, 0.75], [3.0, 0.0]]

if importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("sklearn") is None:
    pytest.skip(  # CI's DIVA_NO_SKIP=1 turns this into a failure
        "the package test needs mlflow and scikit-learn (installed by `nox -s tests`)",
        allow_module_level=True,
    )


@dataclass
class Built:
    root: Path
    #: the wheel of the default build (the production release, version 1)
    wheel: Path
    #: python of the fresh venv the wheel is installed into
    python: Path


def _register_two_versions(root: Path) -> None:
    """Versions 1 and 2 of the model: two ridge regressions that predict differently."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    mlflow.set_tracking_uri(f"sqlite:///{root / '.diva' / 'mlflow.db'}")
    # artifacts inside the project, as its MLflow configuration says (not ./mlruns)
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            MODEL, artifact_location=(root / ".diva" / "mlartifacts").as_uri()
        )
    )
    rows = pd.DataFrame(np.random.default_rng(7).normal(size=(60, 2)), columns=["x0", "x1"])
    target = rows["x0"] * 3.0 - rows["x1"] * 2.0
    pins = [f"scikit-learn=={importlib.metadata.version('scikit-learn')}"]
    for alpha in (0.1, 50.0):
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                Ridge(alpha=alpha).fit(rows, target),
                name="model",
                registered_model_name=MODEL,
                pip_requirements=pins,
            )


def _project(root: Path) -> None:
    shutil.copytree(FIXTURE, root)
    spec = (root / "diva.yaml").read_text().replace("stage: small", "stage: deploy")
    spec = spec.replace("platform:\n", "platform:\n  image_registry: registry.example.com/t\n")
    (root / "diva.yaml").write_text(spec + SPEC_TAIL)
    (root / ".diva").mkdir()
    _register_two_versions(root)
    diva("compile", cwd=root)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("package")
    root = work / "tiny"
    _project(root)
    wheel = Path(diva("build", "package", "-q", cwd=root).strip())
    venv = work / "app-venv"
    sh(sys.executable, "-m", "venv", str(venv), cwd=work)
    python = venv / "bin" / "python"
    # as an application installs it: by name and version, from a folder of wheels
    sh(
        str(python), "-m", "pip", "install", "--quiet", "--find-links", str(wheel.parent),
        "tiny-regression-model==1", cwd=work,
    )  # fmt: skip
    return Built(root, wheel, python)


def host_predictions(root: Path, version: int) -> list[float]:
    import mlflow.pyfunc
    import pandas as pd

    mlflow.set_tracking_uri(f"sqlite:///{root / '.diva' / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    return [float(value) for value in model.predict(pd.DataFrame(ROWS, columns=["x0", "x1"]))]


def app_predictions(python: Path) -> dict[str, Any]:
    """What the application gets in the fresh venv: the package's version, where its
    model lives, and its predictions."""
    script = (
        "import json, sys\n"
        "import pandas as pd\n"
        f"import {MODULE} as model\n"
        "frame = pd.DataFrame(json.loads(sys.argv[1]), columns=['x0', 'x1'])\n"
        "print(json.dumps({'version': model.__version__, 'path': str(model.MODEL_PATH),\n"
        "    'predictions': [float(v) for v in model.predict(frame)]}))\n"
    )
    output = sh(str(python), "-c", script, json.dumps(ROWS), cwd=python.parent)
    answer: dict[str, Any] = json.loads(output)
    return answer


def test_the_default_build_bundles_the_production_release(built: Built) -> None:
    assert (
        built.wheel == built.root / "deploy" / "package" / "dist" / f"{MODULE}-1-py3-none-any.whl"
    )
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{MODULE}-1.dist-info/METADATA").decode()
    assert {f"{MODULE}/__init__.py", f"{MODULE}/model/MLmodel"} <= names
    requirements = built.root / "deploy" / "package" / MODULE / "model" / "requirements.txt"
    pinned = [line for line in requirements.read_text().splitlines() if line.strip()]
    assert [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines()
            if line.startswith("Requires-Dist: ")] == pinned  # fmt: skip
    assert any(line.startswith("scikit-learn==") for line in pinned)


def test_a_fresh_venv_predicts_like_the_registered_model(built: Built) -> None:
    answer = app_predictions(built.python)
    assert answer["version"] == "1"
    assert Path(answer["path"]).is_relative_to(built.python.parent.parent)  # installed copy
    assert answer["predictions"] == pytest.approx(host_predictions(built.root, 1), rel=1e-12)
    assert answer["predictions"] != pytest.approx(host_predictions(built.root, 2), rel=1e-3)


def test_another_version_makes_a_wheel_of_that_version(built: Built) -> None:
    out = built.root.parent / "wheels"
    wheel = Path(diva("build", "package", "--model-version", "2", "--out", str(out), "-q",
                      cwd=built.root).strip())  # fmt: skip
    assert wheel == out / f"{MODULE}-2-py3-none-any.whl"
    sh(str(built.python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel),
       cwd=out)  # fmt: skip
    answer = app_predictions(built.python)
    assert answer["version"] == "2"
    assert answer["predictions"] == pytest.approx(host_predictions(built.root, 2), rel=1e-12)
    # the compiled package still names the release; the fetched model is not a change
    diva("compile", "--check", cwd=built.root)


def test_the_fetched_model_and_the_wheels_are_git_ignored(built: Built) -> None:
    sh("git", "init", "-q", cwd=built.root)
    package = built.root / "deploy" / "package"
    for path in (package / MODULE / "model" / "MLmodel", built.wheel):
        sh("git", "check-ignore", "-q", str(path), cwd=built.root)
    tracked = sh("git", "status", "--porcelain", "--untracked-files=all", "deploy", cwd=built.root)
    assert "/model/" not in tracked
    assert ".whl" not in tracked
