"""Compile speed and memory over a monorepo of N specs, against peers and the disk floor.

A monorepo of N project folders (``p0000/diva.yaml`` ...), each a copy of one example
(specs/examples/epi-thickness by default) under a distinct project name. Per size,
interleaved rounds of:

* diva in-process, the library path of ``diva compile`` (``jobs_for`` + ``run_compile``):
  a fresh tree, a no-op recompile (nothing changed) and ``--check``;
* diva as one process over all N folders: the same three;
* cookiecutter and copier rendering the same files with the same bytes, N times in one
  process through their Python API (a template made of one project's compiled output);
* the floor: writing those bytes atomically (mkstemp, fsync, rename) as diva does, and
  plainly (no fsync).

Then a scale table: per-spec cost at each N, the ratio of each step, and a verdict. At
large sizes (1000) only diva's whole-process rows repeat (``--large-runs``); the floor
and cookiecutter run once, and the in-process rows and copier are left out, to keep
`nox -s bench` near 10 minutes.
Usage: ``nox -s bench`` or ``python bench/compile.py [--specs 1 10 100] [--runs 5]``;
``--profile N`` prints where an in-process compile of N specs spends its time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from timing import (  # noqa: E402
    Measure,
    checked,
    interleaved,
    mib,
    run_child,
    scale_rows,
    spread,
    table,
    timed,
    traced_peak,
)

from diva.cli.compile import Mode, run_compile  # noqa: E402
from diva.compiler.pipeline import jobs_for  # noqa: E402

FLOOR = "floor: atomic write (mkstemp+fsync+rename)"
COOKIECUTTER = "cookiecutter, N renders in one process"
COPIER = "copier, N renders in one process"
PLAIN = "floor: plain write (no fsync)"
ROWS_IN = ("in-process: fresh tree", "in-process: no-op", "in-process: --check")
ROWS_PROCESS = ("`diva compile`: fresh tree", "`diva compile`: no-op", "`diva compile --check`")


@dataclass
class Monorepo:
    """N project folders with a spec each; ``outputs`` are the compiled files' bytes."""

    root: Path
    specs: list[Path]
    texts: list[str]
    _outputs: dict[Path, bytes] | None = None

    def clean(self) -> None:
        """Back to specs only: every generated file gone."""
        for spec, text in zip(self.specs, self.texts, strict=True):
            shutil.rmtree(spec.parent)
            spec.parent.mkdir()
            spec.write_text(text, encoding="utf-8")

    def outputs(self) -> dict[Path, bytes]:
        """Every generated file and its bytes, read once from a compiled tree."""
        if self._outputs is None:
            self._outputs = {
                path: path.read_bytes()
                for path in sorted(self.root.rglob("*"))
                if path.is_file() and path.name != "diva.yaml"
            }
        return self._outputs


def project_name(index: int) -> str:
    return f"epi-{index:04d}"


def build_monorepo(root: Path, example: Path, count: int) -> Monorepo:
    """Specs only; the first measured row compiles them."""
    text = example.read_text(encoding="utf-8")
    original = re.search(r"^  name: (\S+)$", text, re.MULTILINE)
    if original is None:
        raise SystemExit(f"{example}: no project name")
    specs, texts = [], []
    for index in range(count):
        spec = root / f"p{index:04d}" / "diva.yaml"
        spec.parent.mkdir(parents=True)
        texts.append(text.replace(f"name: {original[1]}", f"name: {project_name(index)}", 1))
        spec.write_text(texts[-1], encoding="utf-8")
        specs.append(spec)
    return Monorepo(root, specs, texts)


def compile_in_process(repo: Monorepo, mode: Mode) -> None:
    """What `diva compile [--check] FOLDER...` runs after parsing its options."""
    jobs = jobs_for(repo.specs, None)
    with contextlib.redirect_stdout(io.StringIO()):
        code = run_compile(jobs, mode=mode, force=False)
    assert code == 0, f"run_compile exited {code}"


# --- the floor ------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    Path(temp).replace(path)


def write_plain(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def floor(repo: Monorepo, target: Path, write: Callable[[Path, bytes], None]) -> None:
    for source, data in repo.outputs().items():
        path = target / source.relative_to(repo.root)
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, data)


# --- peers: a template made of one project's compiled output ------------------------


def _templated(text: str, name: str, variable: str) -> str:
    """``text`` with ``name`` as a Jinja variable and everything else verbatim."""
    parts = [f"{{% raw %}}{part}{{% endraw %}}" if part else "" for part in text.split(name)]
    return variable.join(parts)


def write_templates(repo: Monorepo, base: Path) -> tuple[Path, Path]:
    """A cookiecutter and a copier template rendering p0000's files for any name."""
    cookiecutter = base / "cookiecutter-template"
    copier = base / "copier-template"
    (cookiecutter / "{{cookiecutter.name}}").mkdir(parents=True)
    copier.mkdir()
    (cookiecutter / "cookiecutter.json").write_text('{"name": "x"}\n')
    (copier / "copier.yml").write_text("name:\n  type: str\n  default: x\n")
    first = repo.root / "p0000"
    for source, data in repo.outputs().items():
        if not source.is_relative_to(first):
            continue
        relative = source.relative_to(first)
        text = data.decode("utf-8")
        for target, variable in (
            (cookiecutter / "{{cookiecutter.name}}" / relative, "{{ cookiecutter.name }}"),
            (copier / f"{relative}.jinja", "{{ name }}"),
        ):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_templated(text, project_name(0), variable), encoding="utf-8")
    return cookiecutter, copier


COOKIECUTTER_LOOP = """\
import sys
from cookiecutter.main import cookiecutter
template, out, config, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for index in range(count):
    cookiecutter(template, no_input=True, output_dir=out, config_file=config,
                 extra_context={"name": f"epi-{index:04d}"})
"""

COPIER_LOOP = """\
import sys
from copier import run_copy
template, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for index in range(count):
    name = f"epi-{index:04d}"
    run_copy(template, f"{out}/{name}", data={"name": name}, defaults=True, quiet=True,
             unsafe=True)
"""


def tree_size(folder: Path) -> tuple[int, int]:
    """Files and bytes under ``folder``."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


# --- one size -------------------------------------------------------------------

Step = Callable[[Measure], None]


def _diva() -> list[str]:
    script = shutil.which("diva")
    return [script] if script else [sys.executable, "-m", "diva"]


@dataclass
class Bench:
    repo: Monorepo
    base: Path
    _templates: tuple[Path, Path] | None = None

    def process(self, *options: str) -> Step:
        argv = [*_diva(), "compile", *options, *(spec.parent.name for spec in self.repo.specs)]

        def step(measure: Measure) -> None:
            measure.add_child(checked(run_child(argv, cwd=self.repo.root), argv))

        return step

    def in_process(self, mode: Mode) -> Step:
        def step(measure: Measure) -> None:
            measure.seconds += timed(lambda: compile_in_process(self.repo, mode), 1)

        return step

    def fresh(self, step: Step) -> Step:
        def run(measure: Measure) -> None:
            self.repo.clean()
            step(measure)

        return run

    def floor(self, write: Callable[[Path, bytes], None]) -> Step:
        target = self.base / "floor"

        def step(measure: Measure) -> None:
            shutil.rmtree(target, ignore_errors=True)
            measure.seconds += timed(lambda: floor(self.repo, target, write), 1)

        return step

    def peer(self, tool: str, out: Path) -> Step:
        def step(measure: Measure) -> None:
            if self._templates is None:
                self._templates = write_templates(self.repo, self.base)
            argv = self.peer_argv(tool, out)
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            measure.add_child(checked(run_child(argv), argv))

        return step

    def peer_argv(self, tool: str, out: Path) -> list[str]:
        assert self._templates is not None
        cookiecutter, copier = self._templates
        count = str(len(self.repo.specs))
        if tool == "copier":
            return [sys.executable, "-c", COPIER_LOOP, str(copier), str(out), count]
        config = self.base / "cookiecutter-config.yaml"
        config.write_text(
            f"cookiecutters_dir: {self.base / 'cc-cache'}\nreplay_dir: {self.base / 'cc-replay'}\n"
        )
        loop = [sys.executable, "-c", COOKIECUTTER_LOOP, str(cookiecutter), str(out)]
        return [*loop, str(config), count]

    def rows(self, large: bool) -> dict[str, Step]:
        """Whole-process rows first: the first one compiles the tree the others use."""
        rows = {
            ROWS_PROCESS[0]: self.fresh(self.process()),
            ROWS_PROCESS[1]: self.process(),
            ROWS_PROCESS[2]: self.process("--check"),
        }
        if not large:
            rows[ROWS_IN[0]] = self.fresh(self.in_process("write"))
            rows[ROWS_IN[1]] = self.in_process("write")
            rows[ROWS_IN[2]] = self.in_process("check")
        rows[FLOOR] = self.floor(write_atomic)
        if not large:
            rows[PLAIN] = self.floor(write_plain)
        if shutil.which("cookiecutter"):
            rows[COOKIECUTTER] = self.peer("cookiecutter", self.base / "cookiecutter-out")
        if shutil.which("copier") and not large:
            rows[COPIER] = self.peer("copier", self.base / "copier-out")
        return rows

    def memory(self, results: dict[str, Measure]) -> None:
        """tracemalloc peaks of the in-process rows (the tree is compiled on entry)."""
        results[ROWS_IN[1]].memory.append(traced_peak(self.in_process_call("write")))
        self.repo.clean()
        results[ROWS_IN[0]].memory.append(traced_peak(self.in_process_call("write")))

    def in_process_call(self, mode: Mode) -> Callable[[], None]:
        return lambda: compile_in_process(self.repo, mode)


def bench_size(example: Path, count: int, runs: int, large: bool, memory: bool) -> Results:
    with tempfile.TemporaryDirectory(prefix="diva-bench-") as temp:
        base = Path(temp)
        repo = build_monorepo(base / "repo", example, count)
        bench = Bench(repo, base)
        # the slowest peer at 100 specs, and everything but diva's rows at large sizes
        once = [FLOOR, COOKIECUTTER] if large else [COPIER] if count >= 100 else []
        results = interleaved(bench.rows(large), runs, once)
        if memory and not large:
            bench.memory(results)
        outputs = repo.outputs()
        files, size = len(outputs), sum(len(data) for data in outputs.values())
        print(f"\n{count} specs: {files} generated files, {mib(size)} MiB; {runs} runs")
        for name in ("cookiecutter", "copier"):
            if (base / f"{name}-out").is_dir():
                peer_files, peer_bytes = tree_size(base / f"{name}-out")
                print(f"  {name} wrote {peer_files} files, {mib(peer_bytes)} MiB")
        if once:
            print(f"  (one run only: {', '.join(once)})")
        if large:
            print("  (no in-process rows at this size: they are the whole process less start-up)")
        print(size_table(results, files))
    return results


Results = dict[str, Measure]


def size_table(results: Results, files: int) -> str:
    floor_median = results[FLOOR].median
    peer = results.get(COOKIECUTTER)
    rows = []
    for name, measure in results.items():
        whole = name.startswith(("`", "cookiecutter", "copier"))
        versus_peer = f"{measure.median / peer.median:.2f}" if peer and whole else ""
        rows.append(
            [
                name,
                spread(measure.seconds),
                f"{measure.median / files * 1e6:,.0f}",
                f"{measure.median / floor_median:.2f}",
                versus_peer,
                mib(max(measure.memory)) if measure.memory else "",
            ]
        )
    headers = ["", "ms: median (min - max)", "us/file", "x floor", "x cookiecutter", "peak MiB"]
    return table(headers, rows)


def scale_table(sizes: list[int], results: list[Results]) -> str:
    """Per row: ms per spec at each size with the step ratio of the total; the verdict."""
    names = list(dict.fromkeys(name for result in results for name in result))
    rows = []
    for name in names:
        present = [(n, r[name].median) for n, r in zip(sizes, results, strict=True) if name in r]
        cells, verdict = scale_rows([n for n, _ in present], [m for _, m in present])
        by_size = dict(zip((n for n, _ in present), cells, strict=True))
        rows.append([name, *(by_size.get(n, "-") for n in sizes), verdict])
    return table(["", *(f"N={n}" for n in sizes), "growth"], rows)


def profile(example: Path, count: int) -> None:
    """Where an in-process compile of ``count`` specs spends its time: fresh, then no-op."""
    with tempfile.TemporaryDirectory(prefix="diva-bench-") as temp:
        repo = build_monorepo(Path(temp), example, count)
        compile_in_process(repo, "dry-run")  # warm-up
        for title in ("fresh tree", "no-op"):
            profiler = cProfile.Profile()
            profiler.runcall(compile_in_process, repo, "write")
            print(f"\n{title}, {count} specs")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example", default="epi-thickness")
    parser.add_argument("--specs", type=int, nargs="*", default=[1, 10, 100, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large", type=int, default=1000, help="sizes from here are 'large'")
    parser.add_argument(
        "--large-runs", type=int, default=2, help="runs of diva's rows at large sizes"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the tracemalloc runs (they are slow)"
    )
    parser.add_argument("--profile", type=int, metavar="N", help="profile N specs instead")
    args = parser.parse_args()
    example = ROOT / "specs" / "examples" / args.example / "diva.yaml"
    if args.profile:
        profile(example, args.profile)
        return
    print(f"diva compile of a monorepo of N copies of {example.relative_to(ROOT)}")
    print("(wall time: median (min - max); per generated file; ratio to the atomic-write floor")
    print(" and to cookiecutter; peak memory: max RSS of the process, or for in-process rows")
    print(" the tracemalloc peak of the Python heap)")
    with tempfile.TemporaryDirectory() as temp:  # warm-up: imports, pydantic models
        compile_in_process(build_monorepo(Path(temp), example, 1), "dry-run")
    results = []
    for count in args.specs:
        large = count >= args.large
        runs = args.large_runs if large else args.runs
        results.append(bench_size(example, count, runs, large, not args.no_memory))
    print("\nScale: ms per spec, and xK = total time / total time at the previous size")
    print(scale_table(args.specs, results))


if __name__ == "__main__":
    main()
