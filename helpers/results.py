"""The one results layer: stamped records, tables, paper look-ups — shared by notebooks, CLI and tests.

* :func:`start` → :class:`Run`: one notebook (or CLI) execution with its profile and seeds;
  :meth:`Run.save_table` writes ``<results>/<profile>/<name>.json`` (rows + provenance),
  ``<name>.csv`` and ``<name>.md``; :meth:`Run.finish` checks every promised figure was written.
* :func:`write_record` — strict JSON (``NaN``/``inf`` become ``null``; numpy scalars become numbers;
  predictions become ``{id, gold, pred, correct}``), written atomically.
* CSV: fractions (accuracies, CIs, rates) as numbers in [0, 1] rounded to 4 decimals, every other
  float to 4 significant decimals; lists and dicts as JSON.
* :func:`paper_value` / :func:`paper_curve` — the papers' numbers for a cell, from
  :mod:`helpers.paper_numbers` (the one look-up).
* :func:`load_table` — read a saved table back (the results README and tests use it).
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import config
from .provenance import stamp

FLOAT_DECIMALS = 4


def clean(obj: Any) -> Any:
    """A strict-JSON-able copy of ``obj``: NaN/inf → None, numpy → Python, tuples → lists,
    predictions (objects with ``id``/``gold``/``pred``/``correct``) → small dicts."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "correct") and hasattr(obj, "pred") and hasattr(obj, "id"):
        return {"id": obj.id, "gold": obj.gold, "pred": obj.pred, "correct": bool(obj.correct)}
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):      # numpy scalar
        try:
            obj = obj.item()
        except (TypeError, ValueError):
            pass
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return clean(obj.to_dict())
    return str(obj)


def write_record(path: str | Path, rec: Any) -> Path:
    """Write ``rec`` as strict JSON, atomically (tmp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(clean(rec), indent=2, ensure_ascii=False, allow_nan=False))
    tmp.replace(path)
    return path


def _csv_value(v: Any) -> Any:
    v = clean(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return round(v, FLOAT_DECIMALS)
    return "" if v is None else v


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    path = Path(path)
    keys = list(columns or dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(r.get(k)) for k in keys})
    tmp.replace(path)
    return path


def pct(x: Any, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * float(x):.{digits}f}"


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A markdown table; accuracy-like columns (accuracy, ci, diff, rate, share) shown in %."""
    def fmt(k: str, v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float) and any(t in k for t in ("accuracy", "ci_", "diff", "rate", "agreement", "per_seed")):
            return pct(v)
        if isinstance(v, list) and k == "per_seed":
            return " / ".join(pct(x) for x in v)
        if isinstance(v, float):
            return f"{v:.3g}" if k.startswith("p_") else f"{v:.4g}"
        if isinstance(v, list) and k == "p_per_seed":
            return " / ".join(f"{x:.2g}" for x in v)
        return str(v)
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(fmt(c, r.get(c)) for c in columns) + " |\n" for r in rows)


SUMMARY_COLUMNS = ("per_seed", "accuracy", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "p_value",
                   "p_per_seed", "paper", "n")
SINGLE_COLUMNS = ("accuracy", "ci_low", "ci_high", "paper", "n", "no_answer_rate")


def table_markdown(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    """A results table as markdown: the key columns, then the standard columns the rows carry
    (per-seed summaries: per-seed %, mean, CI, Δ vs baseline with CI, p-values; single runs: accuracy, CI)."""
    std = SUMMARY_COLUMNS if any("per_seed" in r for r in rows) else SINGLE_COLUMNS
    cols = list(keys) + [c for c in std if c not in keys and any(r.get(c) is not None for r in rows)]
    if not any("accuracy" in r for r in rows):        # e.g. corpus statistics: every column
        cols = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r.get(k), (list, dict))))
    return markdown_table(rows, cols)


def summary_frame(rows: Sequence[dict[str, Any]], keys: Sequence[str] = ("condition",), *,
                  extra: Sequence[str] = ()) -> Any:
    """Summary rows (:func:`helpers.protocol.summarize`) as a DataFrame in %: keys, per-seed accuracies,
    mean [95% CI incl. seed variance], difference from the baseline [CI], p-values, paper %."""
    import pandas as pd
    out = []
    for r in rows:
        d = {k: r.get(k) for k in keys}
        if "per_seed" in r:
            d["per seed %"] = " / ".join(pct(x) for x in r["per_seed"])
        d["accuracy %"] = round(100 * r["accuracy"], 1)
        d["95% CI"] = f"{pct(r['ci_low'])}–{pct(r['ci_high'])}"
        if "diff" in r:
            d[f"Δ vs {r.get('baseline')} (pts)"] = f"{100 * r['diff']:+.1f} [{100 * r['diff_ci_low']:+.1f}, {100 * r['diff_ci_high']:+.1f}]"
            d["p (paired)"] = f"{r['p_value']:.2g}"
            d["p per seed"] = " / ".join(f"{x:.2g}" for x in r.get("p_per_seed", []))
        if "paper" in r:
            d["paper %"] = r.get("paper")
        for k in extra:
            v = r.get(k)
            d[k] = round(100 * v, 1) if isinstance(v, float) and ("accuracy" in k or "agreement" in k) else (
                round(v, 3) if isinstance(v, float) else v)
        out.append(d)
    return pd.DataFrame(out)


def frame(rows: Sequence[dict[str, Any]], keys: Sequence[str], *, metric: str | None = "accuracy",
          pct: Sequence[str] = ()) -> Any:
    """Single-run rows (one seed or none) as a DataFrame: the key columns, then accuracy % with its 95% CI, paper %, n, no-answer %."""
    import pandas as pd
    out = []
    for r in rows:
        d = {k: r.get(k) for k in keys}
        if metric:
            d[f"{metric} %"] = round(100 * r[metric], 1)
            d["95% CI"] = f"{100 * r['ci_low']:.1f}–{100 * r['ci_high']:.1f}"
            d["paper %"] = r.get("paper")
            d["n"] = r.get("n")
            if r.get("no_answer_rate") is not None:
                d["no answer %"] = round(100 * r["no_answer_rate"], 1)
        for k in pct:
            v = r.get(k)
            d[f"{k} %"] = None if v is None else round(100 * v, 1)
        out.append(d)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------- runs

@dataclass
class Run:
    """One notebook (or CLI) execution: its profile and where its records go."""
    notebook: str
    profile: Any
    started: float = field(default_factory=time.time)
    models: dict[str, str] = field(default_factory=dict)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(self.profile.seeds)

    @property
    def results_dir(self) -> Path:
        p = config.results_dir() / self.profile.name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def _models(self) -> dict[str, str]:
        from .models import model_id
        out = {"student": model_id(self.profile.student)}
        t = self.profile.teacher
        out["teacher"] = t if ":" in t or t == "endpoint" else model_id(t)
        out.update(self.models)
        return out

    def stamp(self, rec: dict[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
        return stamp({"notebook": self.notebook, **rec}, profile=self.profile, models=self._models(),
                     data=data, seed=list(self.seeds))

    def save_table(self, name: str, rows: Sequence[dict[str, Any]], *, title: str, columns: Sequence[str],
                   description: str = "", notes: str = "", data: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Path:
        """``<results>/<profile>/<name>.json`` (rows + provenance), ``.csv`` and ``.md`` (the columns)."""
        rec = self.stamp({"title": title, "description": description, "notes": notes, "columns": list(columns),
                          "rows": [dict(r) for r in rows], **(extra or {})}, data)
        path = write_record(self.results_dir / f"{name}.json", rec)
        write_csv(self.results_dir / f"{name}.csv", [{k: v for k, v in r.items() if k != "preds"} for r in rows])
        (self.results_dir / f"{name}.md").write_text(f"### {title}\n\n{description}\n\n" +
                                                     table_markdown(rows, columns) + (f"\n{notes}\n" if notes else ""))
        return path

    def save(self, name: str, obj: dict[str, Any], data: dict[str, Any] | None = None) -> Path:
        """Any stamped record to ``<results>/<profile>/<name>.json``."""
        return write_record(self.results_dir / f"{name}.json", self.stamp(obj, data))

    def finish(self, figures: Iterable[str]) -> list[Path]:
        """Check every promised figure was written by this run; print where things went."""
        from . import plots
        paths = plots.assert_written(list(figures), since=self.started)
        print(f"{self.notebook} [{self.profile.name}] done in {time.time() - self.started:.0f}s: "
              f"{len(paths)} figure files in {config.figures_dir()}, results in {self.results_dir}")
        return paths


def start(notebook: str, profile: str = "course", **overrides: Any) -> Run:
    """Begin a run: resolve the profile (with non-None overrides), seed everything with the profile's
    first seed, and apply ``$COTLAB_TORCH_THREADS`` (torch intra-op threads; unset = torch's default)."""
    import logging
    import warnings

    from .profiles import get_profile
    prof = get_profile(profile, **overrides)
    threads = os.environ.get("COTLAB_TORCH_THREADS")
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    from transformers import set_seed
    set_seed(prof.seeds[0])
    warnings.filterwarnings("ignore", message="IProgress not found")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return Run(notebook, prof)


def load_table(profile: str, name: str, results_root: str | Path | None = None) -> dict[str, Any]:
    root = Path(results_root) if results_root is not None else config.results_dir()
    return json.loads((root / profile / f"{name}.json").read_text())


# ----------------------------------------------------------------------------------- paper's numbers

def _paper_rows(table: str, task: str, **match: Any) -> list[dict[str, Any]]:
    from . import paper_numbers as pn
    rows = [r for r in pn.PAPER_NUMBERS if r["table"] == table and r["task"] == task]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


_TABLES = {"2a": "SCoTD Table 2(a)", "2b": "SCoTD Table 2(b)", "3a": "SCoTD Table 3(a)", "3b": "SCoTD Table 3(b)"}
_PAPER_MODEL = {"teacher": "GPT3-175B", "student": "OPT-1.3B"}


def paper_value(table: str, *, task: str, **keys: Any) -> float | None:
    """The SCoTD paper's number (%) for one cell, or None where the paper has none (another task, e.g.
    the generated coin flip, or Table 3(b) at N=2).

    Keys: ``2a`` role (teacher|student), mode (no_cot|greedy|sc); ``2b`` setting, condition;
    ``3a`` setting, decode (greedy|sc); ``3b`` n_rationales, decode."""
    if table not in _TABLES:
        raise KeyError(f"unknown SCoTD table {table!r}; known: {sorted(_TABLES)}")
    name = _TABLES[table]
    if table == "2a":
        mode = keys["mode"]
        match = {"model": _PAPER_MODEL[keys["role"]],
                 "condition": "prompt_no_cot" if mode == "no_cot" else "prompt_cot",
                 "decode": None if mode == "no_cot" else mode}
    elif table == "2b":
        match = {"setting": keys["setting"], "condition": keys["condition"]}
    elif table == "3a":
        match = {"setting": keys["setting"], "decode": keys["decode"], "condition": "scotd"}
    else:
        match = {"variant": f"N={keys['n_rationales']}", "decode": keys["decode"], "condition": "scotd"}
    rows = _paper_rows(name, task, **match)
    if len(rows) > 1:
        raise KeyError(f"{len(rows)} paper rows match {name}/{task}/{match}")
    return float(rows[0]["value"]) if rows else None


def paper_curve(table: str, task: str) -> dict[str, dict[int, float]]:
    """Table 3(b) as ``{decode: {n_rationales: accuracy %}}``."""
    if table != "3b":
        raise KeyError("only Table 3(b) is a curve")
    out: dict[str, dict[int, float]] = {}
    for r in _paper_rows(_TABLES["3b"], task, condition="scotd"):
        out.setdefault(r["decode"], {})[int(r["variant"].split("=")[1])] = float(r["value"])
    return out


def data_info(corpus: Any = None, dev: Sequence[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``data`` block of a stamp: which corpus (teacher, task, questions, CoTs) and which
    evaluation questions (task, count, hash of their ids)."""
    from .provenance import stable_hash
    out: dict[str, Any] = {}
    if corpus is not None:
        out["corpus"] = {"teacher": corpus.meta.get("teacher"), "task": corpus.meta.get("task"),
                         "split": corpus.meta.get("split"), "questions": len(corpus.entries),
                         "samples": corpus.n_samples()}
    if dev is not None:
        dev = list(dev)
        out["eval"] = {"task": dev[0].task if dev else None, "questions": len(dev),
                       "ids_hash": stable_hash([ex.id for ex in dev])}
    out.update(extra)
    return out
