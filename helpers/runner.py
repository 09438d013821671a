"""Headless notebook runner: ``make figures`` / ``python -m helpers run``.

Executes the notebooks ``notebooks/NN_*.py`` in order under a profile. Each is a jupytext "percent"
notebook (the committed source, never holding outputs); the runner converts it with jupytext into
``<executed>/NN_*.ipynb`` and executes that copy in place with papermill, injecting parameters
(``PROFILE`` plus any ``-p NAME VALUE`` overrides) into its ``parameters`` cell. A folder may also hold
plain ``NN_*.ipynb`` notebooks; one beside a ``.py`` of the same name is its paired copy and is skipped.

Where things go (absolute paths are handed to the kernels through ``COTLAB_FIGURES`` /
``COTLAB_RESULTS``, which :mod:`helpers.config` reads; a value you set yourself wins):

==========  =============================  ===============================  ========================
profile     executed notebooks             figures (PNG + PDF)              results (JSON / CSV)
==========  =============================  ===============================  ========================
course      ``runs/course/``               ``figures/``                     ``results/course/``
paper       ``runs/paper/``                ``figures/paper/``               ``results/paper/``
smoke       ``runs/smoke/``                ``runs/smoke/figures/``          ``runs/smoke/results/smoke/``
==========  =============================  ===============================  ========================

``runs/`` is git-ignored; smoke (CI) never touches the committed figures. A failing cell stops the
run: the runner names the notebook (its ``.py`` source), the cell (index in that notebook + first source line)
and the error, and returns exit code 1. So does a notebook that did not write a figure it promises
(``metadata.cotlab.figures``, or a ``FIGURES = [...]`` list in a code cell; see :func:`promised_figures`).
Wall time per notebook goes to ``<results>/<profile>/run_times.json`` (merged across ``--only`` runs;
keyed by the executed copy's name, ``NN_name.ipynb``).
"""
from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import config
from .provenance import git_commit, write_json

NOTEBOOK_DIR = config.REPO_ROOT / "notebooks"
#: The kernel the runner uses: a kernelspec installed into this interpreter's prefix (the venv) whose
#: argv names this interpreter, so a user-level ``python3`` kernelspec can never shadow it.
KERNEL_NAME = "cotlab"


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Install (once) a kernelspec ``name`` that runs *this* Python; return the kernel name to use.

    Falls back to ``python3`` where the prefix is not writable.
    """
    import json as _json
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name / "kernel.json"
    try:
        if spec.exists() and _json.loads(spec.read_text()).get("argv", [""])[0] == sys.executable:
            return name
        from ipykernel.kernelspec import install
        install(kernel_name=name, display_name="Python (cotlab)", prefix=sys.prefix)
        return name
    except (OSError, ValueError):
        return "python3"


class NotebookFailed(RuntimeError):
    """A notebook cell raised. Carries the notebook, the cell and the error."""

    def __init__(self, notebook: Path, cell_index: int | None, first_line: str, ename: str, evalue: str,
                 executed_copy: Path | None = None):
        self.notebook, self.cell_index, self.first_line = notebook, cell_index, first_line
        self.ename, self.evalue, self.executed_copy = ename, evalue, executed_copy
        where = f"cell {cell_index}" if cell_index is not None else "an unknown cell"
        msg = f"{notebook.name} failed at {where} ({first_line!r}): {ename}: {evalue}"
        if executed_copy is not None:
            msg += f"\n  executed copy with the traceback: {executed_copy}"
        super().__init__(msg)


@dataclass(frozen=True)
class RunPaths:
    executed: Path
    figures: Path
    results: Path        # the COTLAB_RESULTS root; a profile's records live in <results>/<profile>/


def run_paths(profile: str, out_dir: str | Path | None = None) -> RunPaths:
    """Default output locations for ``profile`` (see the module docstring)."""
    root = config.REPO_ROOT
    executed = Path(out_dir).resolve() if out_dir else root / "runs" / profile
    if profile == "smoke":
        figures, results = root / "runs" / "smoke" / "figures", root / "runs" / "smoke" / "results"
    elif profile == "course":
        figures, results = root / "figures", root / "results"
    else:
        figures, results = root / "figures" / profile, root / "results"
    env_fig, env_res = os.environ.get("COTLAB_FIGURES"), os.environ.get("COTLAB_RESULTS")
    if env_fig:
        figures = Path(env_fig).expanduser().resolve()
    if env_res:
        results = Path(env_res).expanduser().resolve()
    return RunPaths(executed, figures, results)


def read_notebook(path: str | Path):
    """A notebook as an ``nbformat`` node: a jupytext text notebook (``.py``, percent format) is read
    with jupytext, an ``.ipynb`` with nbformat."""
    path = Path(path)
    if path.suffix == ".ipynb":
        import nbformat
        return nbformat.read(path, as_version=4)
    import jupytext
    return jupytext.read(path)


def executed_name(notebook: Path) -> str:
    """The name of a notebook's executed copy (and its key in ``run_times.json``): ``NN_name.ipynb``."""
    return Path(notebook).stem + ".ipynb"


def discover(only: Sequence[str] | None = None, notebook_dir: Path | None = None) -> list[Path]:
    """Numbered notebooks in order: ``NN_*.py`` (jupytext), and ``NN_*.ipynb`` where no ``.py`` of the
    same name exists (one that does is its paired copy). ``only`` keeps those whose name starts with
    one of the prefixes."""
    nb_dir = Path(notebook_dir or NOTEBOOK_DIR)
    texts = {p.stem: p for p in nb_dir.glob("[0-9][0-9]_*.py")}
    plain = {p.stem: p for p in nb_dir.glob("[0-9][0-9]_*.ipynb") if p.stem not in texts}
    found = [p for _, p in sorted({**plain, **texts}.items())]
    if only:
        picked = [p for p in found if any(p.name.startswith(str(o)) for o in only)]
        unknown = [o for o in only if not any(p.name.startswith(str(o)) for p in found)]
        if unknown:
            raise ValueError(f"--only {unknown}: no notebook in {nb_dir} starts with that "
                             f"(have {[p.name for p in found]})")
        return picked
    return found


def promised_figures(notebook: Path) -> list[str]:
    """The figures a notebook promises: ``metadata.cotlab.figures``, else the literal list assigned to
    ``FIGURES`` in a code cell, else ``[]``. Each name is written as ``<figures>/<name>.png`` and ``.pdf``."""
    nb = read_notebook(notebook)
    meta = nb.metadata.get("cotlab", {}).get("figures")
    if meta:
        return [str(f) for f in meta]
    for cell in nb.cells:
        if cell.cell_type != "code" or "FIGURES" not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FIGURES"
                                                    for t in node.targets):
                with contextlib.suppress(ValueError):
                    return [str(f) for f in ast.literal_eval(node.value)]
    return []


def check_figures(notebook: Path, figures_dir: Path, since: float) -> None:
    """Raise :class:`NotebookFailed` unless every promised figure was written (PNG + PDF) after ``since``."""
    missing = []
    for name in promised_figures(notebook):
        for ext in ("png", "pdf"):
            f = figures_dir / f"{name}.{ext}"
            if not f.exists() or f.stat().st_size == 0 or f.stat().st_mtime < since - 1:
                missing.append(f.name)
    if missing:
        raise NotebookFailed(notebook, None, "", "MissingFigures",
                             f"promised figures not written by this run: {missing} (in {figures_dir})")


def parse_param(text: str) -> Any:
    """A ``-p NAME VALUE`` value: a Python literal (``3``, ``0.5``, ``None``, ``[1, 2]``) or a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
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


def _failing_cell(notebook: Path, executed: Path, err: Any) -> tuple[int | None, str]:
    """Index of the failing cell in the *committed* notebook and its first non-blank source line."""
    source = getattr(err, "source", "") or ""
    idx: int | None = None
    try:
        nb = read_notebook(notebook)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and cell.source == source:
                idx = i
                break
    except Exception:  # the committed notebook is unreadable: report what papermill gave
        idx = getattr(err, "cell_index", None)
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return idx, first


def execute(notebook: Path, profile: str, *, parameters: dict[str, Any] | None = None,
            paths: RunPaths | None = None, progress_bar: bool = True, log_output: bool = False,
            kernel_name: str | None = None, start_timeout: int = 120) -> float:
    """Execute one notebook: convert it with jupytext to ``<executed>/NN_name.ipynb``, execute that copy
    in place with papermill; return the wall time in seconds.

    Raises :class:`NotebookFailed` when a cell raises (the executed copy keeps the traceback) or a
    figure the notebook promises (:func:`promised_figures`) was not written by this execution.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    paths = paths or run_paths(profile)
    notebook = Path(notebook).resolve()
    paths.executed.mkdir(parents=True, exist_ok=True)
    out = paths.executed / executed_name(notebook)
    params = {"PROFILE": profile, **(parameters or {})}
    kernel_name = kernel_name or ensure_kernel()
    t0, started = time.perf_counter(), time.time()
    with _env(COTLAB_FIGURES=str(paths.figures), COTLAB_RESULTS=str(paths.results),
              MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"), PYTHONUNBUFFERED="1"):
        try:
            import nbformat
            nbformat.write(read_notebook(notebook), out)   # the .py source → an .ipynb papermill runs
            pm.execute_notebook(str(out), str(out), parameters=params, kernel_name=kernel_name,
                                progress_bar=progress_bar, log_output=log_output,
                                language="python", cwd=str(notebook.parent), start_timeout=start_timeout)
        except PapermillExecutionError as e:
            idx, first = _failing_cell(notebook, out, e)
            raise NotebookFailed(notebook, idx, first, e.ename, str(e.evalue).strip(), out) from None
        except Exception as e:  # kernel died, timeout, unreadable notebook: still name the notebook
            raise NotebookFailed(notebook, None, "", type(e).__name__, str(e).strip(),
                                 out if out.exists() else None) from e
    check_figures(notebook, paths.figures, started)
    return time.perf_counter() - t0


def _record_time(path: Path, profile: str, name: str, secs: float, status: str,
                 known: Sequence[str] = (), run_id: str = "", stages: dict[str, Any] | None = None) -> Path:
    """Merge one notebook's wall time into ``run_times.json``: ``notebooks`` holds the latest time of
    each notebook (entries of notebooks not in ``known`` are dropped), ``runs`` the last 20 runs by
    start time (so a fresh run and a cached re-run can be told apart)."""
    rec: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(json.JSONDecodeError):
            rec = json.loads(path.read_text())
    nbs = {k: v for k, v in rec.get("notebooks", {}).items() if not known or k in known}
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    nbs[name] = {"wall_s": round(secs, 1), "status": status, "finished": now}
    if stages is not None:
        nbs[name]["stages"] = stages
    runs = rec.get("runs", {})
    if run_id:
        runs.setdefault(run_id, {})[name] = round(secs, 1)
        runs = dict(sorted(runs.items())[-20:])
    rec["runs"] = runs
    rec.update({"profile": profile, "git_commit": git_commit(), "cpu_count": os.cpu_count(),
                "notebooks": dict(sorted(nbs.items())),
                "total_wall_s": round(sum(v["wall_s"] for v in nbs.values()), 1)})
    return write_json(path, rec)


def run_all(profile: str, only: Sequence[str] | None = None, *, parameters: dict[str, Any] | None = None,
            out_dir: str | Path | None = None, notebook_dir: Path | None = None,
            progress_bar: bool = True, log_output: bool = False, record_times: bool = True,
            stream=None) -> dict[str, float]:
    """Execute the notebooks in order; return ``{executed copy name (NN_name.ipynb): wall seconds}``.

    Stops at the first failing notebook (raises :class:`NotebookFailed`, after recording the times
    of the notebooks that finished).
    """
    stream = stream or sys.stdout
    from .profiles import get_profile
    get_profile(profile)  # unknown profile → ValueError before any kernel starts
    paths = run_paths(profile, out_dir)
    notebooks = discover(only, notebook_dir)
    known = [executed_name(p) for p in discover(None, notebook_dir)]
    run_id = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    times: dict[str, float] = {}
    times_file = paths.results / profile / "run_times.json"
    print(f"[run] profile={profile}  notebooks={[p.name for p in notebooks]}\n"
          f"[run] executed copies → {paths.executed}\n[run] figures → {paths.figures}\n"
          f"[run] results → {paths.results / profile}", file=stream, flush=True)
    for nb in notebooks:
        print(f"[run] {nb.name} …", file=stream, flush=True)
        t0, started = time.perf_counter(), time.time()
        try:
            times[executed_name(nb)] = execute(nb, profile, parameters=parameters, paths=paths,
                                     progress_bar=progress_bar, log_output=log_output)
        except NotebookFailed:
            if record_times:
                _record_time(times_file, profile, executed_name(nb), time.perf_counter() - t0, "failed", known,
                             run_id)
            raise
        if record_times:
            from .cache import stage_seconds
            _record_time(times_file, profile, executed_name(nb), times[executed_name(nb)], "ok", known, run_id,
                         stages=stage_seconds(started))
        print(f"[run] {nb.name} done in {times[executed_name(nb)]:.1f}s", file=stream, flush=True)
    summary = write_summary(profile, paths)
    print(f"[run] all done: {sum(times.values()):.1f}s total; times in {times_file}; summary {summary}",
          file=stream, flush=True)
    return times


def write_summary(profile: str, paths: RunPaths) -> Path | None:
    """Regenerate the results summary (markdown, from the results files): ``results/README.md`` for
    ``course``, ``<results>/<profile>/README.md`` otherwise."""
    from .results import write_results_readme
    root = paths.results
    if not (root / profile).is_dir():
        return None
    target = root / "README.md" if profile == "course" else root / profile / "README.md"
    return write_results_readme(profile, root, target)
