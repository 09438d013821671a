"""The headless notebook runner (``python -m helpers run``): parameters, outputs, failures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import runner

REPO = Path(__file__).resolve().parent.parent


def _nb(path: Path, *cells) -> Path:
    """Write a notebook as the suite commits them: ``.py`` in jupytext's percent format (``.ipynb`` too)."""
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if path.suffix == ".py":
        jupytext.write(nb, path, fmt="py:percent")
    else:
        nbformat.write(nb, path)
    return path


def _params(src: str):
    c = new_code_cell(src)
    c.metadata["tags"] = ["parameters"]
    return c


@pytest.fixture()
def three_notebooks(tmp_path: Path) -> Path:
    """01 writes its injected parameters to a file, 02 raises in its third cell, 03 must never run."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _nb(nbs / "01_ok.py", new_markdown_cell("# ok"),
        _params('PROFILE = "course"\nX = None\nOUT = None'),
        new_code_cell('import os, json\n'
                      'json.dump({"profile": PROFILE, "x": X, "figures": os.environ["COTLAB_FIGURES"]}, '
                      'open(OUT, "w"))'))
    _nb(nbs / "02_fail.py", _params('PROFILE = "course"\nX = None'),
        new_code_cell("y = 1"),
        new_code_cell('total = y + 1\nraise ValueError(f"boom {X}")'))
    _nb(nbs / "03_never.py", _params('PROFILE = "course"'), new_code_cell("z = 3"))
    return nbs


def _run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COTLAB_RESULTS=str(tmp_path / "results"), COTLAB_FIGURES=str(tmp_path / "figs"))
    return subprocess.run([sys.executable, "-m", "helpers", "run", *args, "--no-progress"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_failing_cell_stops_the_run_and_is_named(three_notebooks: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "params.json"
    proc = _run_cli(["--profile", "smoke", "--notebook-dir", str(three_notebooks), "--out-dir",
                     str(tmp_path / "executed"), "-p", "X", "7", "-p", "OUT", str(out_file)], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    # the notebook, the cell (index in the committed notebook + first source line) and the error
    assert "02_fail.py failed at cell 2 ('total = y + 1')" in err, err
    assert "ValueError: boom 7" in err, err
    # the run stopped: 01 executed with the injected parameters, 03 never started
    executed = tmp_path / "executed"
    assert (executed / "01_ok.ipynb").exists() and (executed / "02_fail.ipynb").exists()
    assert not (executed / "03_never.ipynb").exists()
    got = json.loads(out_file.read_text())
    assert got == {"profile": "smoke", "x": 7, "figures": str(tmp_path / "figs")}
    injected = [c for c in nbformat.read(executed / "01_ok.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "X = 7" in injected[0].source and 'PROFILE = "smoke"' in injected[0].source
    # wall times are logged, with the failure marked
    times = json.loads((tmp_path / "results" / "smoke" / "run_times.json").read_text())
    assert times["notebooks"]["01_ok.ipynb"]["status"] == "ok"
    assert times["notebooks"]["02_fail.ipynb"]["status"] == "failed"
    assert "03_never.ipynb" not in times["notebooks"]


def test_only_selects_notebooks_and_unknown_prefix_is_an_error(three_notebooks: Path, tmp_path: Path) -> None:
    assert [p.name for p in runner.discover(["03"], three_notebooks)] == ["03_never.py"]
    assert [p.name for p in runner.discover(None, three_notebooks)] == ["01_ok.py", "02_fail.py", "03_never.py"]
    proc = _run_cli(["--profile", "smoke", "--notebook-dir", str(three_notebooks), "--only", "03",
                     "--out-dir", str(tmp_path / "executed")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "executed").iterdir()) == ["03_never.ipynb"]
    proc = _run_cli(["--profile", "smoke", "--notebook-dir", str(three_notebooks), "--only", "42"], tmp_path)
    assert proc.returncode == 2 and "--only ['42']" in proc.stderr


def test_unknown_profile_fails_before_any_kernel(three_notebooks: Path, tmp_path: Path) -> None:
    proc = _run_cli(["--profile", "nope", "--notebook-dir", str(three_notebooks)], tmp_path)
    assert proc.returncode == 2 and "invalid choice: 'nope'" in proc.stderr and "'smoke'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_parse_param_literals() -> None:
    assert runner.parse_param("3") == 3
    assert runner.parse_param("0.5") == 0.5
    assert runner.parse_param("None") is None
    assert runner.parse_param("[1, 2]") == [1, 2]
    assert runner.parse_param("qwen2.5-0.5b") == "qwen2.5-0.5b"


def test_smoke_never_writes_the_committed_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COTLAB_FIGURES", raising=False)
    monkeypatch.delenv("COTLAB_RESULTS", raising=False)
    smoke, course = runner.run_paths("smoke"), runner.run_paths("course")
    assert smoke.figures == REPO / "runs" / "smoke" / "figures"
    assert smoke.results == REPO / "runs" / "smoke" / "results"
    assert course.figures == REPO / "figures" and course.results == REPO / "results"
    assert runner.run_paths("paper").figures == REPO / "figures" / "paper"


def test_a_promised_figure_that_is_not_written_fails_the_run(tmp_path: Path) -> None:
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _nb(nbs / "01_lazy.ipynb", _params('PROFILE = "course"'),
        new_code_cell('FIGURES = ["01_never_drawn"]\nprint("forgot to draw")'))
    assert runner.promised_figures(nbs / "01_lazy.ipynb") == ["01_never_drawn"]
    proc = _run_cli(["--profile", "smoke", "--notebook-dir", str(nbs), "--out-dir", str(tmp_path / "x")], tmp_path)
    assert proc.returncode == 1
    assert "01_lazy.ipynb" in proc.stderr and "01_never_drawn.png" in proc.stderr, proc.stderr


def test_the_py_notebook_runs_and_its_paired_ipynb_is_left_alone(tmp_path: Path) -> None:
    """``NN_name.py`` is the notebook; an ``NN_name.ipynb`` beside it is its paired copy (JupyterLab's,
    with outputs): not run, not touched. The executed copy is an .ipynb in the run folder."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _nb(nbs / "01_src.py", _params('PROFILE = "course"\nOUT = None'),
        new_code_cell('open(OUT, "w").write(f"from the py, {PROFILE}")'))
    stale = _nb(nbs / "01_src.ipynb", _params('PROFILE = "course"\nOUT = None'),
                new_code_cell('open(OUT, "w").write("from the paired ipynb")'))
    before = stale.read_bytes()
    assert [p.name for p in runner.discover(None, nbs)] == ["01_src.py"]
    out = tmp_path / "out.txt"
    proc = _run_cli(["--profile", "smoke", "--notebook-dir", str(nbs), "--out-dir", str(tmp_path / "executed"),
                     "-p", "OUT", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text() == "from the py, smoke"
    assert stale.read_bytes() == before and sorted(p.name for p in nbs.iterdir()) == ["01_src.ipynb", "01_src.py"]
    executed = nbformat.read(tmp_path / "executed" / "01_src.ipynb", as_version=4)
    assert [c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    times = json.loads((tmp_path / "results" / "smoke" / "run_times.json").read_text())
    assert times["notebooks"]["01_src.ipynb"]["status"] == "ok"
