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
from .provenance import clean, stamp, write_json

FLOAT_DIGITS = 6          # significant digits of a float in CSV (a logit-lens probability of 1e-8 stays 1e-08)

#: Wall-clock time this module was imported (≈ kernel start): figures older than this are stale.
SESSION_START = time.time()
FORMATS: tuple[str, ...] = ("png", "pdf")
_WRITTEN: list[Path] = []

#: display names by column (the same value reads differently as a prompting mode or a decoding)
LABELS: dict[str, dict[str, str]] = {
    "condition": {"label_only": "Label-only", "greedy_cot": "Greedy-CoT", "scotd": "SCoTD",
                  "cot_before": "CoT before label", "cot_after": "CoT after label",
                  "shuffled_before": "Shuffled CoT before", "shuffled_after": "Shuffled CoT after",
                  "key_tokens": "Key tokens after label",
                  "prompt_no_cot": "Prompted, no CoT", "prompt_cot": "Prompted, CoT",
                  "label_only_fewshot": "Label-only, in context", "scotd_fewshot": "SCoTD, in context"},
    "position": {"before": "CoT before label", "after": "CoT after label", "none": "no CoT"},
    "mode": {"no_cot": "No CoT", "greedy": "Greedy CoT", "sc": "Self-consistency"},
    "decode": {"greedy": "greedy", "sc": "self-consistency"},
    "setting": {"supervised": "Full (supervised)", "few_shot": "Few-shot"},
}


def label(column: str, value: Any) -> str:
    """How ``value`` of results column ``column`` is displayed."""
    return LABELS.get(column, {}).get(str(value), str(value))


def figure_paths(name: str) -> list[Path]:
    """Where :func:`savefig` puts figure ``name`` (one path per format)."""
    return [config.figures_dir() / f"{name}.{ext}" for ext in FORMATS]


def assert_written(names: Iterable[str], since: float | None = None) -> list[Path]:
    """Raise ``AssertionError`` unless every figure in ``names`` exists in every format, is non-empty
    and was written after ``since`` (default: when this kernel imported :mod:`helpers.results`)."""
    since = SESSION_START if since is None else since
    problems, ok = [], []
    for name in names:
        for p in figure_paths(name):
            if not p.exists():
                problems.append(f"{p}: missing")
            elif p.stat().st_size == 0:
                problems.append(f"{p}: empty")
            elif p.stat().st_mtime < since - 1:
                problems.append(f"{p}: stale (not written by this run)")
            else:
                ok.append(p)
    if problems:
        raise AssertionError("promised figures not written:\n  " + "\n  ".join(problems))
    return ok


def write_record(path: str | Path, rec: Any) -> Path:
    """Write ``rec`` as strict JSON, atomically (:func:`helpers.provenance.write_json`)."""
    return write_json(path, rec)


def _csv_value(v: Any) -> Any:
    v = clean(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float):
        return float(f"{v:.{FLOAT_DIGITS}g}")
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
        if isinstance(v, list) and k == "per_seed_diff":
            return " / ".join(f"{100 * x:+.1f}" for x in v)
        if isinstance(v, list) and k == "steps":
            return " / ".join(str(x) for x in v)
        if isinstance(v, float):
            return f"{v:.3g}" if k.startswith("p_") else f"{v:.4g}"
        if isinstance(v, list) and k == "p_per_seed":
            return " / ".join(f"{x:.2g}" for x in v)
        return str(v)
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(fmt(c, r.get(c)) for c in columns) + " |\n" for r in rows)


#: per-seed summaries: ``p_value`` is the headline test over seeds and questions (helpers.stats.seed_test);
#: ``p_questions`` the permutation test over questions, conditional on the trained students
SUMMARY_COLUMNS = ("per_seed", "accuracy", "ci_low", "ci_high", "steps", "converged", "train_seconds", "diff", "diff_ci_low",
                   "diff_ci_high", "p_value", "per_seed_diff", "p_per_seed", "p_questions", "gold_margin_split", "paper", "n",
                   "stat_note")
SINGLE_COLUMNS = ("accuracy", "ci_low", "ci_high", "paper", "n", "no_answer_rate")


def table_markdown(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    """A results table as markdown: the key columns, then the standard columns the rows carry
    (per-seed summaries: per-seed %, mean, CI, Δ vs baseline with CI, p-values; single runs: accuracy, CI)."""
    std = SUMMARY_COLUMNS if any("per_seed" in r for r in rows) else SINGLE_COLUMNS
    cols = list(keys) + [c for c in std if c not in keys and any(r.get(c) is not None for r in rows)]
    if not any("accuracy" in r for r in rows):        # e.g. corpus statistics: every column
        cols = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r.get(k), (list, dict))))
    # then every other scalar the rows store (diagnostics, a teacher's length-cut rate, …): nothing dropped
    cols += [k for k in dict.fromkeys(k for r in rows for k in r)
             if k not in cols and k not in PROVENANCE_FIELDS and any(r.get(k) is not None for r in rows)
             and all(r.get(k) is None or isinstance(r.get(k), (str, int, float, bool)) for r in rows)]
    return markdown_table(rows, cols)


def summary_frame(rows: Sequence[dict[str, Any]], keys: Sequence[str] = ("condition",), *,
                  extra: Sequence[str] = ()) -> Any:
    """Summary rows (:func:`helpers.protocol.summarize`) as a DataFrame in %: keys, per-seed accuracies,
    mean [95% CI over seeds and questions], steps per seed and how many converged, difference from the
    baseline [CI] with the seed-level p, the signed per-seed differences and their McNemar p, the
    question-level p (conditional on the students), paper %."""
    import pandas as pd
    out = []
    for r in rows:
        d = {k: r.get(k) for k in keys}
        if "per_seed" in r:
            d["per seed %"] = " / ".join(pct(x) for x in r["per_seed"])
        d["accuracy %"] = round(100 * r["accuracy"], 1)
        d["95% CI"] = f"{pct(r['ci_low'])}–{pct(r['ci_high'])}"
        if r.get("steps"):
            d["steps"] = " / ".join(str(x) for x in r["steps"])
        if r.get("converged") is not None:
            d["converged"] = f"{r['converged']}/{len(r['steps'])}"
        if r.get("train_seconds") is not None:
            d["train s (mean)"] = round(r["train_seconds"])
        if r.get("diff") is not None:
            d[f"Δ vs {r.get('baseline')} (pts)"] = f"{100 * r['diff']:+.1f} [{100 * r['diff_ci_low']:+.1f}, {100 * r['diff_ci_high']:+.1f}]"
            d["p (seeds)"] = "–" if r.get("p_value") is None else f"{r['p_value']:.2g}"
            if r.get("per_seed_diff") is not None:
                d["Δ per seed"] = " / ".join(f"{100 * x:+.1f}" for x in r["per_seed_diff"])
            d["McNemar p per seed"] = " / ".join(f"{x:.2g}" for x in r.get("p_per_seed", []))
            if r.get("p_questions") is not None:
                d["p (questions | students)"] = f"{r['p_questions']:.2g}"
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
        paths = assert_written(list(figures), since=self.started)
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


# the papers' numbers by cell, for the notebooks' "paper" columns: they live in helpers.paper_numbers
from .paper_numbers import paper_curve, paper_figure, paper_value, wadhwa_value  # noqa: E402,F401  (re-exported)


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


# ----------------------------------------------------------------------------------- markdown

#: per-row bookkeeping that a table of values does not show
PROVENANCE_FIELDS = ("notebook", "profile", "provenance", "preds", "per_student")


def _cell(x: Any) -> str:
    """A value as one markdown table cell: a raw completion's newlines shown as ⏎ and its pipes escaped."""
    return str(x).replace("\r", "").replace("\n", " ⏎ ").replace("|", "\\|")


def _fmt_value(x: Any) -> str:
    """A stored scalar as a table cell: floats to 4 significant digits (small probabilities keep theirs)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _fmt_pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


#: fractions shown as percentages when a results file has no accuracy column (corpus statistics)
PCT_FIELDS = ("teacher_accuracy", "teacher_accuracy_majority", "discard_rate", "paper_discard_rate",
              "no_answer_rate", "length_cut_rate", "no_answer_cut_rate")


def rows_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A markdown table of result rows: the given key columns, then ours (95% CI), paper, n.
    Rows without ``accuracy`` (corpus statistics) show the fractions of :data:`PCT_FIELDS` instead."""
    if any("per_seed" in r for r in rows):
        return table_markdown(rows, columns).rstrip("\n")
    if rows and "accuracy" not in rows[0]:
        pcts = [f for f in PCT_FIELDS if any(r.get(f) is not None for r in rows)]
        # every other scalar the rows store (e.g. a lens curve's probability and its mid-layer tests): nothing dropped
        rest = [k for k in dict.fromkeys(k for r in rows for k in r)
                if k not in columns and k not in pcts and k not in PROVENANCE_FIELDS
                and all(r.get(k) is None or isinstance(r.get(k), (str, int, float, bool)) for r in rows)]
        head = list(columns) + [f"{f} %" for f in pcts] + rest
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(columns) + "---:|" * (len(pcts) + len(rest))]
        for r in rows:
            cells = ([_cell(r.get(c, "")) for c in columns] + [_fmt_pct(r.get(f)) for f in pcts]
                     + [_cell(_fmt_value(r.get(k))) for k in rest])
            out.append("| " + " | ".join(cells) + " |")
        return "\n".join(out)
    head = list(columns) + ["ours % (95% CI)", "paper %", "n"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * (len(columns)) + "---:|---:|---:|"]
    for r in rows:
        ours = f"{_fmt_pct(r['accuracy'])} ({_fmt_pct(r.get('ci_low'))}–{_fmt_pct(r.get('ci_high'))})"
        paper = "–" if r.get("paper") is None else f"{r['paper']:.1f}"
        cells = [label(c, r.get(c, "")) for c in columns]
        out.append("| " + " | ".join(cells + [ours, paper, str(r.get("n", ""))]) + " |")
    return "\n".join(out)


def load_results(profile: str, results_root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every results file ``<results>/<profile>/*.json`` that holds ``rows`` (sorted by name)."""
    root = Path(results_root) if results_root else config.results_dir()
    out = []
    for p in sorted((root / profile).glob("*.json")):
        try:
            obj = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: invalid JSON ({e})") from None
        if isinstance(obj, dict) and isinstance(obj.get("rows"), list):
            obj["_path"] = str(p)
            out.append(obj)
    return out


def results_markdown(profile: str = "course", results_root: str | Path | None = None) -> str:
    """Markdown summary of a profile's results (one table per results file), built from the files."""
    files = load_results(profile, results_root)
    root = Path(results_root) if results_root else config.results_dir()
    lines = [f"# Results — `{profile}` profile", "",
             "Generated by `helpers.results.write_results_readme()` from the JSON files in this folder "
             "(do not edit by hand). Accuracy on the dev split; over seeds, the mean with a 95% interval over seeds "
             "and questions; `diff`/`p_value`: the paired test over seeds and questions (`helpers.stats.seed_test`), "
             "`per_seed_diff` signed; `p_questions`: the permutation test over questions, conditional on the trained "
             "students (not a test of training). *paper* is the "
             "number the paper reports for the same cell (SCoTD: GPT-3 teacher, OPT-1.3B student, N=30).", ""]
    times = root / profile / "run_times.json"
    prov_rows: list[tuple[str, dict[str, Any]]] = []
    for f in files:
        rows = f["rows"]
        if not rows:
            continue
        lines += [f"## {f.get('title', Path(f['_path']).stem)}", ""]
        if f.get("description"):
            lines += [f["description"], ""]
        cols = f.get("columns") or [c for c in ("task", "model", "setting", "condition", "decode",
                                                "n_rationales") if any(c in r for r in rows)]
        lines += [rows_markdown(rows, cols), ""]
        if f.get("paired_tests"):
            lines += ["Paired comparisons on the same dev questions (exact McNemar test):", "",
                      "| setting | comparison | difference (points) | p |", "|---|---|---:|---:|"]
            for t in f["paired_tests"]:
                lines.append(f"| {label('setting', t['setting'])} | {t['comparison']} | "
                             f"{t['difference (points)']:+.1f} | {t['p_value']:.3f} |")
            lines.append("")
        if f.get("notes"):
            lines += [f"*{f['notes']}*", ""]
        prov_rows.append((Path(f["_path"]).name, f.get("provenance") or {}))
    if prov_rows:
        lines += ["## Provenance", "", "| file | git commit | created | models | seed | n_train | n_dev | lr | epochs |",
                  "|---|---|---|---|---:|---:|---:|---:|---:|"]
        for name, prov in prov_rows:
            st = prov.get("profile_settings") or {}
            models = ", ".join(f"{k}={v}" for k, v in (prov.get("models") or {}).items())
            lines.append(f"| {name} | `{str(prov.get('git_commit'))[:12]}` | {prov.get('created')} | {models} | "
                         f"{prov.get('seed')} | {st.get('n_train')} | {st.get('n_dev')} | {st.get('lr')} | "
                         f"{st.get('epochs')} |")
        lines.append("")
    if times.exists():
        t = json.loads(times.read_text())
        lines += ["## Wall time", "", "Latest execution of each notebook (`results/<profile>/run_times.json`):", "",
                  "| notebook | wall time (s) | finished |", "|---|---:|---|"]
        for name, v in t.get("notebooks", {}).items():
            lines.append(f"| {name} | {v['wall_s']:.0f} | {v.get('finished', '')} |")
        lines += [f"| **total** | **{t.get('total_wall_s', 0):.0f}** | |", ""]
        if t.get("runs"):
            lines += ["Runs (by start time; a re-run with warm caches recomputes nothing that did not change):", "",
                      "| run started | notebooks | wall time (s) |", "|---|---|---:|"]
            for start, nbs in t["runs"].items():
                lines.append(f"| {start} | {', '.join(n.split('_')[0] for n in nbs)} | {sum(nbs.values()):.0f} |")
            lines.append("")
        lines += [f"({t.get('cpu_count')} CPU cores; `make figures PROFILE={profile}`)", ""]
    return "\n".join(lines)


def write_results_readme(profile: str = "course", results_root: str | Path | None = None,
                         path: str | Path | None = None) -> Path:
    """Write :func:`results_markdown` to ``<results>/README.md`` (or ``path``)."""
    root = Path(results_root) if results_root else config.results_dir()
    path = Path(path) if path else root / "README.md"
    text = results_markdown(profile, root)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def gap_frame(rows: Sequence[dict[str, Any]], before: str = "original", after: str = "contrast") -> Any:
    """Rows of :func:`helpers.protocol.paired_gap` (and a majority-class row with the same accuracy keys) as
    a DataFrame in %: accuracy on each split, the paired change [95% CI] with its p-value, the change minus
    the baseline's [CI] with its p-value, the paper's change (points) and the number of pairs."""
    import pandas as pd

    def ci(r: dict[str, Any], k: str) -> str | None:
        if r.get(k) is None:
            return None
        lo, hi = r.get(f"{k}_ci_low"), r.get(f"{k}_ci_high")
        return f"{100 * r[k]:+.1f}" + ("" if lo is None else f" [{100 * lo:+.1f}, {100 * hi:+.1f}]")
    base = next((r["baseline"] for r in rows if r.get("baseline")), None)
    out = []
    for r in rows:
        out.append({"condition": r["condition"], f"{before} %": round(100 * r[f"accuracy_{before}"], 1),
                    f"{after} %": round(100 * r[f"accuracy_{after}"], 1),
                    "per seed (pts)": " / ".join(f"{100 * x:+.1f}" for x in r.get("per_seed", [])),
                    "change (pts) [95% CI]": ci(r, "diff"),
                    "p (no change)": None if r.get("p_value") is None else f"{r['p_value']:.2g}",
                    f"vs {base or 'baseline'} (pts) [95% CI]": ci(r, "vs_baseline_diff"),
                    f"p (vs {base or 'baseline'})": None if r.get("vs_baseline_p") is None else f"{r['vs_baseline_p']:.2g}",
                    "paper change (pts)": r.get("paper_gap"), "pairs": r.get("n_pairs")})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------- statistics recomputed

#: the statistics columns :func:`restat` recomputes (everything else in a row is kept as it was)
STAT_COLUMNS = ("ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high", "p_value", "df", "per_seed_diff",
                "seed_level", "test", "p_per_seed", "p_questions", "steps", "converged")


#: keys that tell students of one table apart (besides the table's own key columns)
IDENTITY_KEYS = ("model", "setting", "decode", "split", "fraction", "n_rationales", "questions", "context", "cots",
                 "position", "mask_fraction", "n_fillers", "variant")


def _student_pool(files: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every per-student row (with its predictions) stored in ``files``, each tagged with its file."""
    pool = []
    for f in files:
        for r in f.get("per_student") or []:
            if r.get("preds"):
                pool.append({**r, "_file": f["_path"]})
    return pool


def _correct_vector(r: dict[str, Any]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    ps = sorted(r["preds"], key=lambda x: x["id"])
    return tuple(x["id"] for x in ps), tuple(float(bool(x["correct"])) for x in ps)


def _find_student(pool: Sequence[dict[str, Any]], row: dict[str, Any], seed: int, acc: float,
                  path: str, columns: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[float, ...], dict[str, Any]]:
    """The per-question correctness of the student behind ``row``'s seed ``seed``: the stored per-student
    rows of that seed, size and accuracy that agree most with the row (same file, same condition, most equal
    key ``columns`` and :data:`IDENTITY_KEYS`). Raises when the
    candidates disagree on the questions they got right (the row cannot be traced to one student)."""
    cands = [r for r in pool if r.get("seed") == seed and r.get("n") == row.get("n")
             and abs(float(r.get("accuracy", -1)) - acc) < 1e-9]
    def closeness(r: dict[str, Any]) -> int:
        same = sum(r[c] == row[c] for c in dict.fromkeys((*columns, *IDENTITY_KEYS))
                   if r.get(c) is not None and row.get(c) is not None)
        return 100 * (r["_file"] == path) + 10 * (r.get("condition") == row.get("condition")) + same
    if cands:
        best = max(map(closeness, cands))
        cands = [r for r in cands if closeness(r) == best]
    vecs = {_correct_vector(r) for r in cands}
    if len(vecs) != 1:
        raise ValueError(f"{path}: row {row.get('condition')!r} seed {seed} ({acc:.4f}) matches "
                         f"{len(cands)} stored students with {len(vecs)} different answer patterns")
    return (*vecs.pop(), cands[0])


def restat_rows(rows: Sequence[dict[str, Any]], pool: Sequence[dict[str, Any]], path: str,
                columns: Sequence[str] = ("condition",)) -> list[dict[str, Any]]:
    """``rows`` (summary rows of :func:`helpers.protocol.summarize`, one per condition) with their statistics
    recomputed by :mod:`helpers.stats` from the per-question predictions of the students behind them (found
    in ``pool`` by seed and accuracy; :func:`_find_student`), with each seed's training steps and whether it
    converged (None: trained for a fixed number of steps). Rows without ``per_seed`` (the majority class)
    are kept as they are, and so is a row whose students were not stored (a prompted model) — but its
    comparisons are removed, with a ``stat_note`` saying why; a row's baseline is the row of that condition (with the same values of the table's
    other key ``columns`` when there are several). Raises if a row cannot be traced."""
    import numpy as np

    from .stats import mcnemar, question_permutation_p, seed_mean_ci, seed_test
    mats: dict[int, tuple[list[int], np.ndarray]] = {}
    untraced: set[int] = set()
    students: dict[int, list[dict[str, Any]]] = {}
    for i, r in enumerate(rows):
        if not r.get("per_seed"):
            continue
        try:
            vecs = [_find_student(pool, r, s, a, path, columns) for s, a in zip(r["seeds"], r["per_seed"])]
        except ValueError:
            untraced.add(i)  # no stored predictions (e.g. a prompted model's): its comparisons cannot be redone
            continue
        if len({v[0] for v in vecs}) != 1:
            raise ValueError(f"{path}: row {r.get('condition')!r}: its seeds were scored on other questions")
        mats[i] = (list(r["seeds"]), np.array([v[1] for v in vecs]))
        students[i] = [v[2] for v in vecs]
        if mats[i][1].shape[1] != r["n"]:
            raise ValueError(f"{path}: row {r.get('condition')!r}: {mats[i][1].shape[1]} questions, row says {r['n']}")
    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        if i in untraced and r.get("p_value") is not None and any(
                rows[k].get("condition") == r.get("baseline") for k in untraced):
            r["stat_note"] = ("one model without training seeds on both sides (prompted): the test is over questions, "
                              "as computed when the notebook ran")
        if i in mats:
            seeds, m = mats[i]
            _, r["ci_low"], r["ci_high"] = seed_mean_ci(m)
            r["steps"] = [st.get("train_steps") for st in students[i]]
            conv = [st.get("converged") for st in students[i]]
            r["converged"] = None if all(c is None for c in conv) else sum(bool(c) for c in conv)
            if r.get("baseline") is not None:
                cands = [k for k, b in enumerate(rows) if k in mats and b.get("condition") == r["baseline"]]
                if len(cands) > 1:      # one baseline per value of the table's other key columns
                    cands = [k for k in cands if all(rows[k].get(c) == r.get(c) for c in columns
                                                     if c not in ("condition", "baseline"))]
                j = cands[0] if len(cands) == 1 else None
                if j is None and (not cands or any(rows[k].get("condition") == r["baseline"] for k in untraced)):
                    for k in ("diff", "diff_ci_low", "diff_ci_high", "p_value", "p_per_seed", "p_questions"):
                        r[k] = None
                    r["stat_note"] = (f"not re-tested: the predictions of {r['baseline']!r} are not stored with "
                                      "this table (re-run the notebook to test against it)")
                    out.append(r)
                    continue
                if j is None:
                    raise ValueError(f"{path}: row {r.get('condition')!r}: baseline {r['baseline']!r} not in the table")
                bseeds, bm = mats[j]
                common = [s for s in seeds if s in bseeds]
                a, b = m[[seeds.index(s) for s in common]], bm[[bseeds.index(s) for s in common]]
                t = seed_test(a, b)
                r.update({k: t[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "p_value", "df", "per_seed_diff",
                                            "seed_level", "test")})
                r["p_per_seed"] = [mcnemar(a[k], b[k])["p_value"] for k in range(len(common))]
                r["p_questions"] = question_permutation_p((a - b).mean(axis=0))
        out.append(r)
    return out


def restat_file(path: str | Path, pool: Sequence[dict[str, Any]], *, gap: Any = None) -> bool:
    """Recompute the statistics of one saved table (:func:`restat_rows`; ``gap(rec)`` recomputes a table of
    paired changes instead) and rewrite its ``.json``, ``.csv`` and ``.md``; the record notes when and how.
    Returns False for a file with nothing to recompute."""
    from .provenance import git_commit
    path = Path(path)
    rec = json.loads(path.read_text())
    rows = rec.get("rows") or []
    if gap is not None:
        new = gap(rec)
    elif any(r.get("per_seed") and r.get("seeds") and r.get("n") for r in rows):
        new = restat_rows(rows, pool, str(path), rec.get("columns") or ("condition",))
    else:
        return False
    rec["rows"] = new
    for k, v in list(rec.items()):          # further comparison tables stored beside the rows (e.g. after_vs_before)
        if (k not in ("rows", "per_student") and isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
                and any(x.get("per_seed") and x.get("seeds") and x.get("n") for x in v)):
            rec[k] = restat_rows(v, pool, f"{path}:{k}", rec.get("columns") or ("condition",))
    rec["restat"] = {"commit": git_commit(), "at": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "how": "intervals and tests recomputed from the stored per-question predictions by helpers.stats: "
                            "headline p and CI from the paired t over seeds and questions; p_questions "
                            "(permutation over questions) is conditional on the trained students"}
    write_record(path, rec)
    write_csv(path.with_suffix(".csv"), [{k: v for k, v in r.items() if k != "preds"} for r in new])
    path.with_suffix(".md").write_text(f"### {rec.get('title', path.stem)}\n\n{rec.get('description', '')}\n\n" +
                                       table_markdown(new, rec.get("columns") or ["condition"]) +
                                       (f"\n{rec['notes']}\n" if rec.get("notes") else ""))
    return True


def _contrast_gap(files: Sequence[dict[str, Any]]) -> Any:
    """``gap(rec)`` for notebook 06's table of paired changes: :func:`helpers.protocol.paired_gap` again on the
    per-student rows of its contrast-set table (pairs from the contrast set's data)."""
    def gap(rec: dict[str, Any]) -> list[dict[str, Any]]:
        from .protocol import paired_gap
        from .tasks import contrast_pairs
        src = next(f for f in files if Path(f["_path"]).stem == "fig5_contrast_set")
        part = (rec.get("provenance", {}).get("profile_settings", {}).get("contrast", {}) or {}).get("eval_part", "dev")
        originals, contrasts = contrast_pairs(part)
        pair_of = {ex.id: ex.meta["pair_id"] for ex in originals + contrasts}

        class _P:
            def __init__(self, d: dict[str, Any]) -> None:
                self.id, self.correct = d["id"], bool(d["correct"])
        rows = [{**r, "preds": [_P(x) for x in r["preds"]]} for r in src["per_student"]]
        new = {g["condition"]: g for g in paired_gap(rows, pair_of, baseline="label_only")}
        out = []
        for r in rec["rows"]:
            if r.get("condition") in new:
                keep = {k: v for k, v in r.items() if k in ("paper_gap",)}
                r = {**new[r["condition"]], **keep}
            out.append(r)
        return out
    return gap


def restat_profile(profile: str = "course", results_root: str | Path | None = None) -> list[str]:
    """:func:`restat_file` for every table of ``<results>/<profile>/`` (the committed tables were computed
    before :mod:`helpers.stats` was the one home of the statistics); returns the files rewritten."""
    files = load_results(profile, results_root)
    pool = _student_pool(files)
    done = []
    for f in files:
        gap = _contrast_gap(files) if Path(f["_path"]).stem == "fig5_contrast_change" else None
        if restat_file(f["_path"], pool, gap=gap):
            done.append(Path(f["_path"]).name)
    return done
