"""The command line as users see it: help, version, exit codes, outputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from diva import __version__
from diva.cli import cli
from tests.support.paths import EXAMPLES, ROOT, SRC
from tests.support.process import RunDiva


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_version() -> None:
    assert invoke("--version") == (0, f"diva, version {__version__}\n")


@pytest.mark.parametrize("command", [[], ["validate"], ["explain"], ["schema"]])
def test_every_command_has_help(command: list[str]) -> None:
    code, output = invoke(*command, "--help")
    assert code == 0
    assert "Usage: " in output
    assert len(output.splitlines()) > 4


def test_validate_defaults_to_diva_yaml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLES[0], tmp_path / "diva.yaml")
    monkeypatch.chdir(tmp_path)
    code, output = invoke("validate")
    assert code == 0
    assert output.startswith("diva.yaml: valid (")


def test_validate_accepts_a_directory_and_several_paths() -> None:
    code, output = invoke("validate", *(str(path.parent) for path in EXAMPLES))
    assert code == 0
    assert output.count(": valid (") == len(EXAMPLES)


def test_missing_file_is_a_usage_error_without_traceback(run_diva: RunDiva, tmp_path: Path) -> None:
    result = run_diva("validate", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "diva: error: nope.yaml: no such file\n"
    assert result.stdout == ""


def test_unknown_option_is_a_usage_error(run_diva: RunDiva) -> None:
    result = run_diva("validate", "--frmat", "json")
    assert result.returncode == 2
    assert "No such option '--frmat'. Did you mean '--format'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_spec_text_and_json_agree(tmp_path: Path) -> None:
    spec = tmp_path / "diva.yaml"
    spec.write_text("diva: 1\nproject: {name: Bad_Name, title: t}\nstage: 9\n")
    code, text = invoke("validate", str(spec))
    assert code == 1
    code, raw = invoke("validate", "--format", "json", str(spec))
    assert code == 1
    issues = json.loads(raw)
    assert [issue["path"] for issue in issues] == [["project", "name"], ["stage"]]
    rendered = [
        f"{i['file']}:{i['line']}:{i['column']}: {' -> '.join(i['path'])}: {i['message']}"
        for i in issues
    ]
    assert text.splitlines()[: len(rendered)] == rendered


def test_json_output_of_valid_specs_is_an_empty_list() -> None:
    code, output = invoke("validate", "--format", "json", str(EXAMPLES[0]))
    assert (code, json.loads(output)) == (0, [])


def test_explain_names_the_stage_and_what_the_next_stage_needs(tmp_path: Path) -> None:
    spec = tmp_path / "diva.yaml"
    spec.write_text("diva: 1\nproject: {name: p, title: T}\nstage: plan\n")
    code, output = invoke("explain", str(spec))
    assert code == 0
    assert "stage 1 (model planning)" in output
    assert "next:     stage 2 (small-scale modeling), which requires:" in output
    assert "- the 'model' section" in output
    assert "- a dataset with scale 'small'" in output


def test_explain_of_the_last_stage_says_so() -> None:
    code, output = invoke("explain", str(next(p for p in EXAMPLES if "demand" in str(p))))
    assert code == 0
    assert "next:     none; stage 5 (model management) is the last stage" in output


def test_explain_of_an_invalid_spec_lists_the_issues(tmp_path: Path) -> None:
    spec = tmp_path / "diva.yaml"
    spec.write_text("diva: 1\nproject: {name: p, title: T}\nstage: nine\n")
    code, output = invoke("explain", str(spec))
    assert code == 1
    assert output.startswith(f"{spec}:3:8: stage: must be a stage number")


def test_schema_check_passes_on_the_committed_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert invoke("schema", "--check") == (0, "specs/diva.schema.json is up to date\n")


def test_schema_check_fails_on_drift_and_write_repairs_it(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    target.write_text("{}\n")
    code, output = invoke("schema", "--check", "-o", str(target))
    assert code == 1
    assert "is out of date" in output
    assert invoke("schema", "-o", str(target))[0] == 0
    assert invoke("schema", "--check", "-o", str(target))[0] == 0


def test_schema_to_stdout_is_the_committed_file() -> None:
    code, output = invoke("schema", "-o", "-")
    assert code == 0
    assert output == (ROOT / "specs" / "diva.schema.json").read_text()


def test_schema_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, output = invoke("schema", "-o", str(tmp_path / "no" / "schema.json"))
    assert code == 2
    assert "no such directory" in output


def test_validate_does_not_import_heavy_libraries(run_diva: RunDiva) -> None:
    probe = (
        f"import sys, runpy; sys.argv = ['diva', 'validate', {str(EXAMPLES[0])!r}]\n"
        "try:\n    runpy.run_module('diva', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = {'mlflow', 'dvc', 'docker', 'redis'}\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & heavy)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines()[-1] == "HEAVY []"


def test_a_missing_path_does_not_hide_the_problems_of_the_others(
    run_diva: RunDiva, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text("diva: 1\nproject: {name: p, title: T}\nstage: 9\n")
    result = run_diva("validate", "--format", "json", "bad.yaml", "gone.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert [issue["path"] for issue in json.loads(result.stdout)] == [["stage"]]
    assert result.stderr == "diva: error: gone.yaml: no such file\n"


def test_schema_check_needs_a_file(run_diva: RunDiva) -> None:
    result = run_diva("schema", "--check", "-o", "-")
    assert result.returncode == 2
    assert result.stderr == "diva: error: --check compares with a file; give it with -o PATH\n"


def test_schema_check_of_a_missing_file_says_so(run_diva: RunDiva, tmp_path: Path) -> None:
    result = run_diva("schema", "--check", "-o", "none.json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "none.json does not exist; run 'diva schema -o none.json'\n"


def test_schema_into_an_unwritable_place_is_a_clear_error(run_diva: RunDiva) -> None:
    result = run_diva("schema", "-o", "/proc/diva.schema.json")
    assert result.returncode == 1
    assert result.stderr.startswith("diva: error: /proc/diva.schema.json: cannot write: ")
    assert "Traceback" not in result.stderr


def test_keys_cannot_inject_workflow_commands_or_terminal_escapes(
    run_diva: RunDiva, tmp_path: Path
) -> None:
    (tmp_path / "diva.yaml").write_text(
        "diva: 1\nproject: {name: d, title: D}\nstage: 0\n"
        '"x\\n::error file=a::pwned\\e]0;t\\a": 1\n'
    )
    result = run_diva("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert "\\n::error file=a::pwned\\x1b]0;t\\x07" in result.stdout
    assert "\x1b" not in result.stdout


def test_explain_goes_on_past_a_missing_path(run_diva: RunDiva) -> None:
    result = run_diva("explain", "nothere", str(EXAMPLES[0].parent))
    assert result.returncode == 2
    assert "diva: error: nothere: no such file" in result.stderr
    assert "stage:" in result.stdout


def test_compile_verbose_lists_unchanged_files(run_diva: RunDiva, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES[0], tmp_path / "diva.yaml")
    assert run_diva("compile", cwd=tmp_path).returncode == 0
    quiet = run_diva("compile", cwd=tmp_path).stdout
    verbose = run_diva("compile", "-v", cwd=tmp_path).stdout
    assert "identical  dvc.yaml" not in quiet
    assert "identical  dvc.yaml" in verbose
