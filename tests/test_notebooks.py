"""The numbered notebooks: jupytext sources that stay clean through a JupyterLab save, one papermill
parameters cell, and every notebook executes under the ``smoke`` profile through the runner, writing
the figures and results it promises.

A notebook is ``notebooks/NN_name.py`` in jupytext's "percent" format: inputs only, so nothing is ever
committed with outputs. JupyterLab (``make lab``) opens it as a notebook and, on save, writes the .py
back plus a paired ``NN_name.ipynb`` with the outputs that git ignores (``notebooks/jupytext.toml``).

All notebooks run once, in order, in one runner call shared by the smoke tests (a module fixture), in
a temporary folder (``COTLAB_FIGURES`` / ``COTLAB_RESULTS``), never the committed ``figures/``. Its
cache (``COTLAB_CACHE``) is fresh, so students are trained and decodes run on every test run, except
the converted models, which are shared with your cache (converted once per machine). nbval re-executes
one smoke-executed copy (an .ipynb) from a fresh kernel and compares the cells marked
``# NBVAL_CHECK_OUTPUT``.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config

from helpers import config, runner

REPO = Path(__file__).resolve().parent.parent
NB_DIR = REPO / "notebooks"
NOTEBOOKS = runner.discover(None, NB_DIR)
IDS = [p.stem for p in NOTEBOOKS]
#: parts of the cache that are expensive and do not depend on the code under test: shared with the
#: user's cache (GGUF joins, dequantized checkpoints, word vectors); everything else starts empty.
SHARED_CACHE = ("models", "gguf", "wordvec")


def check_notebook(nb, name: str) -> None:
    """What every committed notebook must be: valid nbformat, exactly one ``parameters`` cell, no
    outputs, a python kernelspec, ``metadata.cotlab`` = {title, reproduces, figures}, and a
    ``FIGURES = [...]`` cell that matches the promised figures."""
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{name}: {len(params)} cells tagged 'parameters' (want exactly 1)"
    assert params[0].cell_type == "code" and 'PROFILE = "course"' in params[0].source, \
        f"{name}: the parameters cell must be code and set PROFILE = \"course\""
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, f"{name} cell {i} has outputs"
    assert nb.metadata.get("kernelspec", {}).get("language") == "python", f"{name}: kernelspec"
    meta = nb.metadata.get("cotlab")
    assert isinstance(meta, dict), f"{name}: no metadata.cotlab (title, reproduces, figures) in its header"
    assert isinstance(meta.get("title"), str) and meta["title"].strip(), f"{name}: metadata.cotlab.title"
    for key in ("reproduces", "figures"):
        assert isinstance(meta.get(key), list) and meta[key] and all(isinstance(x, str) and x for x in meta[key]), \
            f"{name}: metadata.cotlab.{key} must be a non-empty list of strings"
    assert any(f"FIGURES = {meta['figures']!r}" in c.source for c in nb.cells if c.cell_type == "code"), \
        f"{name}: the FIGURES list in the notebook must match metadata.cotlab.figures"


def test_core_notebooks_exist() -> None:
    """The suite is 00–12, numbered without gaps, and each notebook's header names the paper parts it reproduces."""
    names = sorted(p.stem for p in NOTEBOOKS)
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(13)], names
    for path in NOTEBOOKS:
        meta = jupytext.read(path).metadata.get("cotlab", {})
        assert meta.get("reproduces"), f"{path.name}: metadata.cotlab.reproduces is empty"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_a_clean_jupytext_source(path: Path) -> None:
    assert path.suffix == ".py", (f"{path.name}: notebooks are committed as jupytext .py files; create it with "
                                  f"`jupytext --to py:percent {path.name}` (or save it from `make lab`)")
    nb = jupytext.read(path)
    assert nb.metadata.get("jupytext", {}).get("text_representation", {}).get("format_name") == "percent"
    check_notebook(nb, path.name)
    assert runner.promised_figures(path) == nb.metadata["cotlab"]["figures"]


def test_jupytext_pairs_each_notebook_with_an_ignored_ipynb() -> None:
    """JupyterLab saves NN_name.py *and* a paired NN_name.ipynb (outputs); only the .py is committed."""
    cfg = load_jupytext_config(str(NOTEBOOKS[0]))
    assert cfg is not None and cfg.formats == ["ipynb,py:percent"], "notebooks/jupytext.toml must pair ipynb,py:percent"
    assert "cotlab" in cfg.notebook_metadata_filter and cfg.cell_metadata_filter == "tags,-all"
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", "notebooks/00_overview.ipynb"], cwd=REPO)
    assert proc.returncode == 0, ".gitignore must ignore notebooks/*.ipynb (the paired copies with outputs)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_a_jupyterlab_save_stays_clean(path: Path, tmp_path: Path) -> None:
    """Open in JupyterLab, run, save: jupytext writes the .py back in its format with the folder's
    settings; the result passes the same checks, keeps every cell as it was, and holds no outputs."""
    nb = jupytext.read(path)
    before = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]
    cotlab = dict(nb.metadata["cotlab"])
    # what a JupyterLab session adds to the notebook in memory
    nb.metadata["language_info"] = {"name": "python", "version": sys.version.split()[0], "mimetype": "text/x-python"}
    count = 0
    for c in nb.cells:
        c.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00.000Z"}
        if c.cell_type == "markdown":
            c.metadata["jp-MarkdownHeadingCollapsed"] = True
            continue
        count += 1
        c.execution_count = count
        c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="OUTPUT-MARKER stdout\n"),
                     nbformat.v4.new_output("execute_result", data={"text/plain": "'OUTPUT-MARKER result'"},
                                            execution_count=count),
                     nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    nbformat.validate(nb)
    # jupytext's contents manager writes the .py with the notebook's format and notebooks/jupytext.toml
    cfg = load_jupytext_config(str(path))
    out = tmp_path / path.name
    jupytext.write(nb, out, fmt="py:percent", config=cfg)
    text = out.read_text()
    for leaked in ("OUTPUT-MARKER", "execution_count", "iVBORw0KGgo", "jp-MarkdownHeadingCollapsed",
                   "iopub.execute_input", "language_info"):
        assert leaked not in text, f"{path.name}: a JupyterLab save writes {leaked!r} into the .py"
    back = jupytext.read(out)
    check_notebook(back, f"{path.name} (saved by JupyterLab)")
    assert [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in back.cells] == before
    assert back.metadata["cotlab"] == cotlab


# ----------------------------------------------------------------------------------------- smoke

@dataclass
class SmokeRun:
    root: Path
    env: dict[str, str]
    started: float
    times: dict[str, float] = field(default_factory=dict)
    failure: runner.NotebookFailed | None = None


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory):
    """Every notebook, in order, in one runner call under the smoke profile."""
    root = tmp_path_factory.mktemp("smoke")
    cache, user_cache = root / "cache", config.cache_dir()
    cache.mkdir()
    for sub in SHARED_CACHE:
        (user_cache / sub).mkdir(parents=True, exist_ok=True)
        (cache / sub).symlink_to(user_cache / sub, target_is_directory=True)
    env = {"COTLAB_FIGURES": str(root / "figures"), "COTLAB_RESULTS": str(root / "results"),
           "COTLAB_CACHE": str(cache),
           # one torch thread per kernel unless told otherwise: on 2 shared cores, 2 threads ran the
           # smoke training steps and decodes 3-7x slower (OpenMP spin-waits; README "Threads")
           "COTLAB_TORCH_THREADS": os.environ.get("COTLAB_TORCH_THREADS", "1"),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    run = SmokeRun(root, env, time.time())
    with _environ(env):
        try:
            run.times = runner.run_all("smoke", None, out_dir=root / "executed", notebook_dir=NB_DIR,
                                       progress_bar=False)
        except runner.NotebookFailed as e:
            run.failure = e
    yield run
    for sub in SHARED_CACHE:                 # never follow the links into the user's cache
        (cache / sub).unlink()
    shutil.rmtree(cache, ignore_errors=True)  # trained smoke students are ~0.5 GB each


def _executed(smoke: SmokeRun, path: Path) -> Path:
    failed = smoke.failure.notebook.stem if smoke.failure else None
    if failed == path.stem:
        pytest.fail(str(smoke.failure), pytrace=False)
    copy = smoke.root / "executed" / runner.executed_name(path)
    if runner.executed_name(path) not in smoke.times:
        pytest.skip(f"not executed: the smoke run stopped at {failed} (see its test)")
    return copy


@pytest.mark.timeout(2700)   # the first smoke test also runs the module fixture: every notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes_under_smoke(path: Path, smoke: SmokeRun) -> None:
    executed = nbformat.read(_executed(smoke, path), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # every promised figure, as PNG and PDF, written by this run (the runner checks it too)
    for name in runner.promised_figures(path):
        for ext in ("png", "pdf"):
            f = smoke.root / "figures" / f"{name}.{ext}"
            assert f.exists() and f.stat().st_size > 0, f"{path.name} promised {f.name}"
            assert f.stat().st_mtime >= smoke.started - 1, f"{f.name} is stale"
    # its results records are stamped with provenance
    records = [json.loads(p.read_text()) for p in (smoke.root / "results" / "smoke").glob("*.json")]
    mine = [r for r in records if r.get("notebook") == path.stem]
    assert mine, f"{path.name} wrote no results record"
    for r in mine:
        prov = r["provenance"]
        assert prov["profile"] == "smoke" and prov["git_commit"] and prov["seed"] is not None
        assert prov["models"].get("student") and prov["data"].get("dir")
    times = json.loads((smoke.root / "results" / "smoke" / "run_times.json").read_text())
    assert times["notebooks"][runner.executed_name(path)]["status"] == "ok"


@pytest.mark.timeout(600)
def test_nbval_reruns_an_executed_copy(smoke: SmokeRun) -> None:
    """A smoke-executed copy runs again top to bottom in a fresh kernel with the same checked outputs."""
    copy = _executed(smoke, NB_DIR / "00_overview.py")
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in nbformat.read(copy, as_version=4).cells)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider",
                           str(copy)], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **smoke.env})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.timeout(600)
def test_plain_papermill_runs_the_paired_ipynb(smoke: SmokeRun, tmp_path: Path) -> None:
    """The README's plain-papermill path: jupytext writes the paired .ipynb of a .py notebook, and the
    papermill command line runs it from notebooks/ with PROFILE injected (here a copy beside the source)."""
    _executed(smoke, NB_DIR / "00_overview.py")           # the smoke run itself went through
    src = NB_DIR / "00_overview.py"
    paired = NB_DIR / f"_papermill_test_{os.getpid()}.ipynb"
    out = tmp_path / "out.ipynb"
    try:
        proc = subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(paired), str(src)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run([sys.executable, "-m", "papermill", paired.name, str(out), "-p", "PROFILE", "smoke",
                               "-k", runner.ensure_kernel()], cwd=NB_DIR, capture_output=True, text=True,
                              timeout=600, env={**os.environ, **smoke.env})
        assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        paired.unlink(missing_ok=True)
    nb = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) and "smoke" in c.source for c in nb.cells)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
