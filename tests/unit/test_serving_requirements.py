"""What the serving image installs: the logged model's requirements with MLflow's client
in place of full MLflow, plus what the scoring server and the saved format need."""

from __future__ import annotations

from pathlib import Path

import pytest

from diva.compiler.backends.install import serving_requirements
from diva.contract import SERVING_MODEL_DIR, SERVING_REQUIREMENTS_FILE
from diva.images import ImageError
from diva.images.build import write_serving_requirements


@pytest.mark.parametrize(
    ("line", "served"),
    [
        ("mlflow==3.17.2", "mlflow-skinny==3.17.2"),
        ("mlflow", "mlflow-skinny"),
        ("mlflow[gateway]>=2.16,<4", "mlflow-skinny>=2.16,<4"),
        ("MLflow_Skinny==2.16.0", "mlflow-skinny==2.16.0"),
    ],
)
def test_full_mlflow_becomes_the_client_at_the_same_version(line: str, served: str) -> None:
    lines = serving_requirements(f"{line}\nscikit-learn==1.5.2\n", {}).splitlines()
    assert lines == [served, "scikit-learn==1.5.2", "pandas<3"]


def test_other_lines_stay_and_a_pinned_pandas_wins() -> None:
    text = "mlflow==3.1\n-c constraints.txt\npandas==2.2.3\n\nlightgbm==4.5 ; python_version>'3'\n"
    assert serving_requirements(text, {}).splitlines() == [
        "mlflow-skinny==3.1",
        "-c constraints.txt",
        "pandas==2.2.3",
        "lightgbm==4.5 ; python_version>'3'",
    ]


def test_a_skops_model_gets_skops() -> None:
    served = serving_requirements("mlflow==3.1\nscikit-learn\n", {"sklearn": "skops"})
    assert served.splitlines()[-1] == "skops<1"
    assert "skops" not in serving_requirements("mlflow\n", {"sklearn": "cloudpickle"})


def test_the_requirements_of_a_real_sklearn_model(tmp_path: Path) -> None:
    """MLflow's own save_model (skops, its default) and the file diva writes from it."""
    import mlflow.sklearn
    from sklearn.linear_model import Ridge

    model = tmp_path / SERVING_MODEL_DIR
    model.parent.mkdir(parents=True)
    mlflow.sklearn.save_model(
        Ridge().fit([[0.0], [1.0]], [0.0, 1.0]),
        str(model),
        pip_requirements=["scikit-learn"],
    )
    written = write_serving_requirements(tmp_path)
    assert written == tmp_path / SERVING_REQUIREMENTS_FILE
    lines = written.read_text().splitlines()
    assert lines[0] == f"mlflow-skinny=={mlflow.__version__}"
    assert not [line for line in lines if line.startswith("mlflow==")]
    assert "pandas<3" in lines
    assert "skops<1" in lines


def test_a_model_without_an_mlmodel_file_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / SERVING_MODEL_DIR
    model.mkdir(parents=True)
    (model / "requirements.txt").write_text("mlflow\n")
    with pytest.raises(ImageError, match="MLmodel"):
        write_serving_requirements(tmp_path)
