"""``platform.install``: where every generated install takes diva from, and the lock.

The spec's values reach the scripts only through ``env:`` (workflows) and ``ARG``
(Dockerfiles); the gate installs the base branch's lock, never the checkout's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diva import __version__
from diva.compiler.backends import docker
from diva.compiler.ir import Project
from diva.compiler.source import load_bytes
from diva.compiler.validate import check_files, validate_document
from diva.errors import SpecError
from diva.lifecycle.install_lock import Pinned, lock_text, requirements
from tests.support.backends import base_data, files, load_yaml, project_of

INDEX = "https://pypi.acme.example/simple"
WHEEL = f"https://github.com/acme/diva/releases/download/v{__version__}/diva_lifecycle-{__version__}-py3-none-any.whl"
SHA = "ab" * 32


def project(stage: int = 5, **install: Any) -> Project:
    data = base_data()
    data["stage"] = stage
    data.setdefault("platform", {})["install"] = install
    return project_of(data)


def install_steps_of(project: Project) -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow, job, step) for every step that runs pip."""
    found = []
    for path, text in files(project).items():
        if not path.endswith(".yml"):
            continue
        for job_id, job in load_yaml(text)["jobs"].items():
            found += [(path, job_id, s) for s in job["steps"] if "pip install" in s.get("run", "")]
    return found


def test_the_default_sets_no_index_and_installs_the_compiling_version() -> None:
    steps = install_steps_of(project())
    assert steps
    for path, job, step in steps:
        assert "env" not in step, (path, job)
        assert "PIP_INDEX_URL" not in step["run"]
    gate = [step for path, _, step in steps if path.endswith("diva-gate.yml")]
    assert f'"diva-lifecycle=={__version__}"' in gate[0]["run"]


def test_an_index_url_reaches_every_install_through_pips_own_variable() -> None:
    steps = install_steps_of(project(index_url=INDEX))
    assert {path.rsplit("/", 1)[1] for path, _, _ in steps} >= {
        "diva-gate.yml", "diva-record.yml", "diva-pipeline.yml", "release.yml", "monitor.yml",
    }  # fmt: skip
    for path, job, step in steps:
        assert step["env"]["PIP_INDEX_URL"] == INDEX, (path, job)
        assert INDEX not in step["run"], "a spec value never stands in a script"


def test_a_pinned_wheel_is_installed_by_url_and_digest_from_the_environment() -> None:
    for path, job, step in install_steps_of(project(wheel={"url": WHEEL, "sha256": SHA})):
        assert step["env"]["DIVA_WHEEL"] == f"{WHEEL}#sha256={SHA}", (path, job)
        assert WHEEL not in step["run"]
        assert "diva-lifecycle==" not in step["run"], "diva comes from the wheel only"
        assert "@ ${DIVA_WHEEL}" in step["run"]


def test_the_gate_installs_the_base_branchs_lock_and_record_the_checkouts() -> None:
    steps = {(path, job): step for path, job, step in install_steps_of(project(lock="d.lock"))}
    gate = steps[(".github/workflows/diva-gate.yml", "gate")]
    assert gate["env"]["DIVA_LOCK"] == "d.lock"
    assert gate["env"]["BASE_REF"] == "${{ github.event.pull_request.base.ref }}"
    assert 'show "origin/${BASE_REF}:${DIVA_LOCK}" > "$RUNNER_TEMP/diva-lock.txt"' in gate["run"]
    assert '--require-hashes -r "$RUNNER_TEMP/diva-lock.txt"' in gate["run"]
    assert "$GITHUB_WORKSPACE/${DIVA_LOCK}" not in gate["run"], "never the head's lock"
    record = steps[(".github/workflows/diva-record.yml", "record")]
    assert '--require-hashes -r "$GITHUB_WORKSPACE/${DIVA_LOCK}"' in record["run"]


def test_the_images_take_index_and_wheel_as_build_arguments() -> None:
    built = {
        a.path: a.text
        for a in docker.emit(project(4, index_url=INDEX, wheel={"url": WHEEL, "sha256": SHA}))
    }
    train = built[docker.TRAIN_DOCKERFILE]
    assert f'ARG PIP_INDEX_URL="{INDEX}"' in train
    assert f'ARG DIVA_WHEEL="{WHEEL}#sha256={SHA}"' in train
    assert '"diva-lifecycle[pipeline] @ ${DIVA_WHEEL}"' in train


def test_the_lock_resolves_the_gates_tools_whatever_the_stage() -> None:
    assert requirements(project(1)) == requirements(project(5))
    names = [
        item.partition("[")[0].partition(">")[0].partition("=")[0]
        for item in requirements(project(1))
    ]
    assert names == ["diva-lifecycle", "dvc", "mlflow-skinny"]
    wheel = requirements(project(1, wheel={"url": WHEEL, "sha256": SHA}))
    assert wheel[0] == f"diva-lifecycle @ {WHEEL}#sha256={SHA}"


def test_the_lock_text_pins_each_distribution_with_its_hash() -> None:
    pinned = [
        Pinned("diva-lifecycle", __version__, SHA),
        Pinned("x", "1", "cd" * 32, "https://h/x.whl"),
    ]
    text = lock_text(project(1, index_url=INDEX), pinned)
    assert f"diva-lifecycle=={__version__} \\\n    --hash=sha256:{SHA}\n" in text
    assert "x @ https://h/x.whl \\\n    --hash=sha256:" + "cd" * 32 in text
    assert f"from {INDEX}," in text


def _check(tmp_path: Path, lock: str | None) -> list[str]:
    raw = b"diva: 1\nproject: {name: p, title: P}\nstage: idea\n"
    raw += b"platform:\n  install:\n    lock: l.txt\n"
    if lock is not None:
        (tmp_path / "l.txt").write_text(lock)
    document = load_bytes(raw, "diva.yaml")
    try:
        check_files(validate_document(document), document, tmp_path)
    except SpecError as err:
        return [issue.render() for issue in err.issues]
    return []


@pytest.mark.parametrize(
    ("lock", "problem"),
    [
        (None, "cannot read the lock l.txt"),
        ("diva-lifecycle==0.0.1 --hash=sha256:" + SHA, "found: 0.0.1"),
        (f"diva-lifecycle=={__version__}\n", f"found: {__version__}"),
        ("click==8 --hash=sha256:" + SHA, "found: none"),
    ],
)
def test_a_lock_that_does_not_pin_this_diva_with_a_hash_is_refused(
    tmp_path: Path, lock: str | None, problem: str
) -> None:
    (issue,) = _check(tmp_path, lock)
    assert issue.startswith("diva.yaml:6:11: platform -> install -> lock: ")
    assert problem in issue


@pytest.mark.parametrize(
    "lock",
    [
        f"diva-lifecycle=={__version__} \\\n    --hash=sha256:{SHA}\n",
        f"diva-lifecycle @ {WHEEL} \\\n    --hash=sha256:{SHA}\n",
    ],
)
def test_a_lock_of_this_diva_with_hashes_is_accepted(tmp_path: Path, lock: str) -> None:
    assert _check(tmp_path, lock) == []
