"""What a user installs and cites: pyproject and environment.yml pin the same packages; the citation file
names the project and both papers; the helpers import without POSIX-only modules."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_pins_exactly_what_pyproject_pins():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    want = {_name(r): r.replace(" ", "") for r in
            py["dependencies"] + py["optional-dependencies"]["dev"] + py["optional-dependencies"]["lab"]
            + py["optional-dependencies"]["gguf"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    got = {_name(r): r.replace(" ", "") for r in pip if not r.startswith(("-", "--"))}
    assert got == want, {"only in environment.yml": sorted(set(got.items()) - set(want.items())),
                         "only in pyproject.toml": sorted(set(want.items()) - set(got.items()))}
    text = (REPO / "environment.yml").read_text()
    # what `make venv` installs with --no-deps is named for conda users too (tuned-lens: notebook 10)
    assert "requirements-models.txt" in text and "requirements-nodeps.txt" in text


def test_every_third_party_import_of_the_helpers_is_declared():
    py = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in py["dependencies"]} | {"tuned-lens"}
    module_of = {"sklearn": "scikit-learn", "sentence_transformers": "sentence-transformers", "yaml": "pyyaml",
                 "tuned_lens": "tuned-lens", "PIL": "pillow", "llama_cpp": "llama-cpp-python"}
    provided = {"numpy": "torch", "pyyaml": "transformers", "jinja2": "torch", "huggingface_hub": "transformers",
                "safetensors": "transformers", "tokenizers": "transformers", "pillow": "matplotlib",
                "nbclient": "nbclient", "selenium": "dev", "llama-cpp-python": "gguf"}
    stdlib = set(__import__("sys").stdlib_module_names)
    missing = set()
    for f in (REPO / "helpers").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for m in mods:
                top = m.split(".")[0]
                name = module_of.get(top, top).lower().replace("_", "-")
                if top in stdlib or name in declared or name in provided:
                    continue
                missing.add(f"{f.name}: {top}")
    assert not missing, sorted(missing)


def test_no_posix_only_module_in_the_helpers():
    """fcntl made the package fail to import on Windows; filelock does the locking."""
    for f in (REPO / "helpers").glob("*.py"):
        assert not re.search(r"^\s*import fcntl|^\s*from fcntl", f.read_text(), re.M), f.name


def test_citation_file_names_the_project_and_both_papers():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["license"] == "MIT"
    titles = [r["title"] for r in cff["references"]]
    assert any("Symbolic Chain-of-Thought Distillation" in t for t in titles)
    assert any("Mysteries of CoT-Augmented Distillation" in t for t in titles)
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
