"""The ``docker`` backend: the training and serving Dockerfiles and the .dockerignore.

The second half plants hostile text in every free-text field of a spec (the machinery of
test_github_backend) and parses the Dockerfiles with dockerfile-parse: the text changes
the value of one LABEL instruction and nothing else, and Docker reads it back unchanged.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from diva.compiler.backends import BACKENDS, docker, emit_all
from diva.compiler.ir import Project
from tests.support.backends import base_data, load_yaml, project_of, with_stage
from tests.support.hostile import TITLE, benign, hostile, outputs, planted

TRAIN = docker.TRAIN_DOCKERFILE
SERVE = docker.SERVE_DOCKERFILE
DESCRIPTION = "org.opencontainers.image.description"
CONTROL_CHARACTERS = ["\n", "\r", "\t", "\x00", "\x0b", "\x1b", "\x7f"]
#: Titles aimed at the escaping itself: a backslash before the closing quote, escaped
#: escapes, expansions, a would-be comment or line continuation.
TRICKY_TITLES = [
    "ends with a backslash \\",
    '\\" \\$HOME \\\\ \\\\\\"',
    "$(id) ${HOME:-x} $HOME $",
    'it\'s "quoted" \\',
    "\\\\\\",
    "# not a comment \\",
    " spaces around ",
]

ValueOf = Callable[[int, tuple[str | int, ...]], str]


def parse(text: str) -> DockerfileParser:
    """A parser of ``text`` given as bytes: read from a str, dockerfile-parse splits lines
    with ``str.splitlines``, which also breaks at NEL, LS and PS (the hostile title has
    NEL and LS); from bytes it splits at ``\\n`` only, as Docker does."""
    return DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")))


def instructions(text: str) -> list[dict[str, Any]]:
    """The parsed instructions (comments included), each with its lines and value."""
    structure: list[dict[str, Any]] = parse(text).structure
    return structure


def shape(text: str) -> list[tuple[str, int, int]]:
    return [(i["instruction"], i["startline"], i["endline"]) for i in instructions(text)]


def docker_unquoted(value: str) -> str:
    """What Docker reads from a double-quoted word that dockerfile-parse has already read.

    Inside double quotes dockerfile-parse unescapes only ``\\"``; Docker's shell lexer
    (moby/buildkit ``frontend/dockerfile/shell``) also turns ``\\\\`` and ``\\$`` into
    ``\\`` and ``$`` and keeps any other backslash. Applying those two rules to
    dockerfile-parse's result completes its reading into Docker's: the escape pairs stay
    aligned, since a quote it has already unescaped is never a backslash.
    """
    return re.sub(r"\\([\\$])", r"\1", value)


def dockerfiles(project: Project) -> dict[str, str]:
    return {a.path: a.text for a in docker.emit(project) if a.path.endswith(".Dockerfile")}


def compiled(value_of: ValueOf, stage: int) -> dict[str, str]:
    """The Dockerfiles of the planted spec at ``stage``, the way ``diva compile`` emits."""
    produced = outputs(planted(value_of), stage)
    return {path: text for path, text in produced.items() if path.endswith(".Dockerfile")}


def train_command(project: Project) -> list[str]:
    (cmd,) = [i for i in instructions(dockerfiles(project)[TRAIN]) if i["instruction"] == "CMD"]
    command: list[str] = json.loads(cmd["value"])
    return command


# --- registration and outputs per stage ----------------------------------------------


def test_backend_is_registered_from_stage_3() -> None:
    assert BACKENDS["docker"].first_stage == 3
    assert BACKENDS["docker"].emit is docker.emit


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_no_docker_file_below_stage_3(stage: int) -> None:
    paths = [artifact.path for artifact in emit_all(with_stage(stage))]
    assert [path for path in paths if "docker" in path.lower()] == []


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_serving_image_only_from_stage_4(stage: int) -> None:
    paths = {artifact.path for artifact in emit_all(with_stage(stage))}
    assert {TRAIN, ".dockerignore"} <= paths
    assert (SERVE in paths) == (stage >= 4)


# --- the training image --------------------------------------------------------------


def test_training_image_reproduces_each_large_dataset() -> None:
    project = with_stage(3)
    assert train_command(project) == ["evaluate-sales-all"]  # sales-recent: monitoring data
    stages = load_yaml(outputs(base_data(), 3)["dvc.yaml"])["stages"]
    assert set(train_command(project)) <= set(stages)


def test_training_image_follows_the_large_datasets_of_the_spec() -> None:
    data = base_data()
    data["datasets"]["archive"] = {"scale": "large", "path": "data/archive"}
    del data["datasets"]["sales-recent"]
    del data["monitoring"]["current_dataset"]  # it named sales-recent
    data["stage"] = 3
    assert train_command(project_of(data)) == ["evaluate-archive", "evaluate-sales-all"]


def test_training_image_runs_dvc_repro() -> None:
    text = dockerfiles(with_stage(3))[TRAIN]
    (entrypoint,) = [i for i in instructions(text) if i["instruction"] == "ENTRYPOINT"]
    assert json.loads(entrypoint["value"]) == ["dvc", "repro"]


# --- quoting -------------------------------------------------------------------------


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=repr)
def test_quoted_refuses_control_characters(char: str) -> None:
    with pytest.raises(RuntimeError, match="control character"):
        docker._quoted(f"a{char}b")


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=repr)
def test_exec_form_refuses_control_characters(char: str) -> None:
    with pytest.raises(RuntimeError, match="control character"):
        docker._exec_form("python", f"a{char}b")


def test_quoted_escapes_quotes_backslashes_and_dollars() -> None:
    assert docker._quoted('say "$HOME" \\n') == '"say \\"\\$HOME\\" \\\\n"'


def test_dockerfile_parse_leaves_backslashes_and_dollars_escaped() -> None:
    """Why :func:`docker_unquoted` exists; should dockerfile-parse learn Docker's rules,
    this fails and the helper goes."""
    labels = parse('FROM base\nLABEL a="q\\" b\\\\ c\\$d \\x"\n').labels
    assert labels["a"] == 'q" b\\\\ c\\$d \\x'
    assert docker_unquoted(labels["a"]) == 'q" b\\ c$d \\x'


# --- hostile spec text ---------------------------------------------------------------


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_hostile_text_adds_no_instruction(stage: int) -> None:
    hostile_files = compiled(hostile, stage)
    benign_files = compiled(benign, stage)
    assert sorted(hostile_files) == sorted(benign_files)
    assert TRAIN in hostile_files
    for path, text in hostile_files.items():
        assert shape(text) == shape(benign_files[path]), path


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_hostile_text_changes_only_a_label(stage: int) -> None:
    hostile_files = compiled(hostile, stage)
    benign_files = compiled(benign, stage)
    for path, text in hostile_files.items():
        pairs = zip(instructions(text), instructions(benign_files[path]), strict=True)
        changed = [mine["instruction"] for mine, other in pairs if mine["value"] != other["value"]]
        assert changed == ["LABEL"], path
        mine, other = parse(text).labels, parse(benign_files[path]).labels
        assert {key for key in mine | other if mine.get(key) != other.get(key)} == {DESCRIPTION}


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_hostile_title_is_the_description_label_unchanged(stage: int) -> None:
    # Unicode line separators become spaces (next test); everything else stays as written
    expected = re.sub("[\x85\u2028\u2029]", " ", hostile(0, TITLE))
    assert expected != hostile(0, TITLE)
    for path, text in compiled(hostile, stage).items():
        assert docker_unquoted(parse(text).labels[DESCRIPTION]) == expected, path


@pytest.mark.parametrize("stage", [3, 4, 5])
def test_no_parser_sees_a_line_break_of_the_title(stage: int) -> None:
    """Scanners that split a Dockerfile with ``str.splitlines`` (checkov's parser,
    dockerfile-parse given a str) read the same instructions as Docker."""
    for path, text in compiled(hostile, stage).items():
        assert text.splitlines() == text.split("\n")[:-1], path
        as_str = DockerfileParser(fileobj=io.StringIO(text)).structure
        assert [i["instruction"] for i in as_str] == [i["instruction"] for i in instructions(text)]


@pytest.mark.parametrize("title", TRICKY_TITLES)
def test_tricky_titles_come_back_unchanged(title: str) -> None:
    def value_of(index: int, field: tuple[str | int, ...]) -> str:
        return title if field == TITLE else benign(index, field)

    tricky_files = compiled(value_of, 4)
    benign_files = compiled(benign, 4)
    for path, text in tricky_files.items():
        assert shape(text) == shape(benign_files[path]), path
        assert docker_unquoted(parse(text).labels[DESCRIPTION]) == title, path


# --- model-on-demand: the consumer in the serving image ------------------------------


def test_on_demand_serving_image_installs_diva_consume_with_the_model() -> None:
    from diva import __version__
    from tests.support.backends import pattern_data

    text = dockerfiles(project_of(pattern_data("on-demand")))["docker/serve.Dockerfile"]
    runs = [i["value"] for i in instructions(text) if i["instruction"] == "RUN"]
    (install,) = [run for run in runs if run.startswith("pip install")]
    assert install.startswith("pip install --no-cache-dir -r /opt/build/requirements.txt")
    assert install.endswith(f'"diva-lifecycle[consumer]=={__version__}"')


@pytest.mark.parametrize("pattern", ["service", "kserve", "precompute"])
def test_other_patterns_serve_without_the_consumer(pattern: str) -> None:
    from tests.support.backends import pattern_data

    text = dockerfiles(project_of(pattern_data(pattern)))["docker/serve.Dockerfile"]
    assert "diva-lifecycle" not in text


# --- two stages: pip's inputs stay in the build stage ---------------------------------


@pytest.mark.parametrize("kind", ["train", "serve"])
def test_the_image_takes_only_the_built_environment(kind: str) -> None:
    from tests.support.backends import pattern_data

    text = dockerfiles(project_of(pattern_data("on-demand")))[f"docker/{kind}.Dockerfile"]
    froms = [i for i in instructions(text) if i["instruction"] == "FROM"]
    assert [i["value"].endswith(" AS build") for i in froms] == [True, False]
    final = [i for i in instructions(text) if i["startline"] > froms[1]["startline"]]
    assert not [
        i
        for i in final
        if "pip" in i["value"]
        or (i["instruction"] == "ARG" and i["value"].startswith(("PIP_", "DIVA_WHEEL")))
    ]
    assert "COPY --from=build /opt/venv /opt/venv" in text
    if kind == "serve":  # the model after the environment: a new version reuses it
        copies = [i["value"] for i in final if i["instruction"] == "COPY"]
        assert copies == ["--from=build /opt/venv /opt/venv", ".diva/serve/model /opt/model"]
