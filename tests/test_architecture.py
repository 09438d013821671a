"""The house drawn from its imports: data flows one way, no module imports a later stage, no cycles,
and argument parsing lives in the CLI only."""
from __future__ import annotations

import ast
from pathlib import Path

HELPERS = Path(__file__).resolve().parent.parent / "helpers"

#: the stages in data-flow order (README "Data flows one way"); a module may import only earlier ones
ORDER = ["config", "provenance", "stats", "paper_numbers", "synthetic", "tasks", "download", "rationales", "datacheck", "models",
         "precision", "prompts", "sample_cache", "teacher", "corpus", "downsample", "targets", "cpu_training", "train", "decode", "cache",
         "evaluate", "analysis", "protocol", "profiles", "results", "human_eval", "plots", "runner", "show", "exercises", "sweep", "bench", "serve", "cli",
         "__main__", "__init__"]


def imports() -> dict[str, set[str]]:
    """Every ``from .x import`` (module level and inside functions) of every helpers module."""
    out: dict[str, set[str]] = {}
    for f in HELPERS.glob("*.py"):
        deps = out.setdefault(f.stem, set())
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
    return out


def test_every_module_has_a_place_in_the_order():
    assert set(imports()) <= set(ORDER), sorted(set(imports()) - set(ORDER))


def test_no_module_imports_a_later_stage():
    back = sorted((a, b) for a, deps in imports().items() for b in deps
                  if b in ORDER and ORDER.index(b) > ORDER.index(a))
    assert not back, f"imports against the data flow: {back}"


def test_no_import_cycles():
    graph = imports()
    seen: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        seen[n] = 1
        for m in graph.get(n, ()):
            assert seen.get(m) != 1, f"import cycle: {' -> '.join(path + [n, m])}"
            if m not in seen:
                visit(m, path + [n])
        seen[n] = 2
    for n in graph:
        if n not in seen:
            visit(n, [])


def test_argument_parsing_lives_in_the_cli():
    for f in HELPERS.glob("*.py"):
        if f.stem in ("cli", "__main__"):
            continue
        text = f.read_text()
        assert "import argparse" not in text and "def cli_" not in text, f"{f.name} parses arguments"
