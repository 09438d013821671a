"""The papers' reported accuracies (%), as data, each row citing its table or section.

* SCoTD — Li et al. 2023, "Symbolic Chain-of-Thought Distillation: Small Models Can Also 'Think'
  Step-by-Step" (ACL 2023): teacher GPT-3 code-davinci-002, student OPT-1.3B, N=30 samples at
  T=1.0; supervised decoding greedy, few-shot decoding self-consistency (k=30, T=0.7) unless the
  table says otherwise. Tasks: CSQA, QuaRel, OpenBookQA dev sets.
  §3.1.1's human evaluation rows hold the share of pairwise judgments the student won (``n``, ``p_text``).
* Wadhwa et al. 2024 — "Investigating Mysteries of CoT-Augmented Distillation" (EMNLP 2024):
  teacher Mistral-7B-Instruct (rationalizing the gold label), students GPT-2, Phi-1.5, Gemma-2B.

Condition names are those of :data:`helpers.targets.CONDITIONS`; ``variant`` distinguishes rows
that share one (number of rationales per example, key-token source, ...).
"""
from __future__ import annotations

from typing import Any

SCOTD = "Li et al. 2023 (SCoTD), ACL 2023"
WADHWA = "Wadhwa et al. 2024, EMNLP 2024"
TASKS3 = ("csqa", "quarel", "obqa")          # SCoTD's column order: CSQA, QuaRel, OpenBookQA
WTASKS = ("csqa", "obqa", "quarel")          # Wadhwa's column order: CSQA, OBQA, QuaRel


def _rows(paper: str, table: str, tasks: tuple[str, ...], values: tuple[float | None, ...], **fields: Any):
    out = []
    for task, v in zip(tasks, values):
        if v is not None:
            out.append({"paper": paper, "table": table, "task": task, "value": v, **fields})
    return out


def _build() -> list[dict[str, Any]]:
    R: list[dict[str, Any]] = []
    # --- SCoTD Table 2(a): prompting before distillation (CSQA, QuaRel, OpenBookQA)
    t = "SCoTD Table 2(a)"
    for model, rows in (("GPT3-175B", (("no_cot", (82.1, 86.9, 83.4)), ("greedy", (77.6, 83.3, 71.8)),
                                       ("sc", (81.3, 86.0, 86.4)))),
                        ("OPT-1.3B", (("no_cot", (20.5, 9.7, 2.8)), ("greedy", (17.9, 39.6, 12.6)),
                                      ("sc", (21.1, 48.2, 22.2))))):
        for dec, vals in rows:
            cond = "prompt_no_cot" if dec == "no_cot" else "prompt_cot"
            R += _rows(SCOTD, t, TASKS3, vals, model=model, condition=cond, setting="few_shot_prompting",
                       decode=None if dec == "no_cot" else dec, variant="")
    R += _rows(SCOTD, t, TASKS3, (20.0, 50.0, 25.0), model="random", condition="random", setting=None,
               decode=None, variant="")
    # --- SCoTD Table 2(b): after distillation (OPT-1.3B student)
    t = "SCoTD Table 2(b)"
    for setting, dec, rows in (("few_shot", "sc", (("label_only", (62.7, 65.6, 59.8)), ("greedy_cot", (64.6, 64.7, 48.8)),
                                                  ("scotd", (64.7, 73.0, 57.8)))),
                               ("supervised", "greedy", (("label_only", (63.0, 59.0, 60.2)),
                                                         ("greedy_cot", (68.2, 71.2, 50.0)),
                                                         ("scotd", (67.0, 83.8, 67.0))))):
        for cond, vals in rows:
            R += _rows(SCOTD, t, TASKS3, vals, model="OPT-1.3B", condition=cond, setting=setting,
                       decode=dec, variant="N=30" if cond == "scotd" else "")
    # --- SCoTD Table 3(a): with / without self-consistency
    t = "SCoTD Table 3(a)"
    for setting, greedy_vals, sc_vals in (("few_shot", (60.2, 73.4, 44.4), (64.7, 73.0, 57.8)),
                                          ("supervised", (67.0, 83.8, 65.8), (66.8, 83.8, 63.6))):
        R += _rows(SCOTD, t, TASKS3, greedy_vals, model="OPT-1.3B", condition="scotd", setting=setting,
                   decode="greedy", variant="N=30")
        R += _rows(SCOTD, t, TASKS3, sc_vals, model="OPT-1.3B", condition="scotd", setting=setting,
                   decode="sc", variant="N=30")
    # --- SCoTD Table 3(b): few-shot SCoTD vs rationales per example (rows: task; cols 1,5,10,20,30)
    t = "SCoTD Table 3(b)"
    t3b = {"csqa": ((53.0, 58.3, 59.1, 60.0, 60.2), (53.4, 63.0, 62.4, 64.1, 64.7)),
           "quarel": ((62.2, 68.7, 69.8, 70.9, 73.4), (62.6, 66.2, 70.1, 71.2, 73.0)),
           "obqa": ((39.0, 40.2, 40.6, 43.2, 44.4), (38.0, 37.6, 51.8, 59.8, 57.8))}
    for task, (no_sc, sc) in t3b.items():
        for n, a, b in zip((1, 5, 10, 20, 30), no_sc, sc):
            R.append({"paper": SCOTD, "table": t, "task": task, "value": a, "model": "OPT-1.3B",
                      "condition": "scotd", "setting": "few_shot", "decode": "greedy", "variant": f"N={n}"})
            R.append({"paper": SCOTD, "table": t, "task": task, "value": b, "model": "OPT-1.3B",
                      "condition": "scotd", "setting": "few_shot", "decode": "sc", "variant": f"N={n}"})
    # --- SCoTD §3.1: N=50 samples (supervised)
    R += _rows(SCOTD, "SCoTD §3.1 (N=50)", TASKS3, (67.2, 84.9, 67.0), model="OPT-1.3B", condition="scotd",
               setting="supervised", decode="greedy", variant="N=50")
    # --- SCoTD §3.4 / Fig. 5: IMDB original test vs contrast set (supervised, 100K IMDB examples)
    for split, lo, sc in (("test_original", 96.1, 95.5), ("test_contrast", 81.6, 92.0)):
        R.append({"paper": SCOTD, "table": "SCoTD §3.4 Fig. 5", "task": "imdb_contrast", "value": lo,
                  "model": "OPT-1.3B", "condition": "label_only", "setting": "supervised", "decode": "greedy",
                  "variant": split})
        R.append({"paper": SCOTD, "table": "SCoTD §3.4 Fig. 5", "task": "imdb_contrast", "value": sc,
                  "model": "OPT-1.3B", "condition": "scotd", "setting": "supervised", "decode": "greedy",
                  "variant": split})
    # --- SCoTD Fig. 2, 3, 4, 7 are plots without printed values: only the points the paper's *text* states
    # are here (``source`` says where); every other point of those figures is n/a (read off a plot only).
    # Fig. 2 (supervised, greedy; accuracy vs CoTs per question): N=30 is the default setting = Table 2(b)
    # supervised SCoTD, the label-only line is Table 2(b) supervised label-only, N=50 is §3.1's text.
    for cond, variant, vals, src in (("label_only", "", (63.0, 59.0, 60.2), "Table 2(b)"),
                                     ("scotd", "N=30", (67.0, 83.8, 67.0), "Table 2(b)"),
                                     ("scotd", "N=50", (67.2, 84.9, 67.0), "§3.1")):
        R += _rows(SCOTD, "SCoTD Fig. 2", TASKS3, vals, model="OPT-1.3B", condition=cond, setting="supervised",
                   decode="greedy", variant=variant, source=src)
    # Fig. 3 (CSQA only; 20%…100% of the training questions): the 100% points are Table 2(b) supervised.
    # §3.3 states without a number that SCoTD with 40% of the questions surpasses label-only with 100%.
    for cond, variant, v in (("label_only", "fraction=1", 63.0), ("scotd", "fraction=1,N=30", 67.0)):
        R.append({"paper": SCOTD, "table": "SCoTD Fig. 3", "task": "csqa", "value": v, "model": "OPT-1.3B",
                  "condition": cond, "setting": "supervised", "decode": "greedy", "variant": variant,
                  "source": "Table 2(b)"})
    # Fig. 4 (CSQA only; OPT-125M, 350M, 1.3B students): the OPT-1.3B points are Table 2(b) supervised.
    for cond, variant, v in (("label_only", "", 63.0), ("scotd", "N=30", 67.0)):
        R.append({"paper": SCOTD, "table": "SCoTD Fig. 4", "task": "csqa", "value": v, "model": "OPT-1.3B",
                  "condition": cond, "setting": "supervised", "decode": "greedy", "variant": variant,
                  "source": "Table 2(b)"})
    # Fig. 7 (§4: C' downsampled to 5 CoTs per question by each strategy): the full corpus (30 per question)
    # is Table 2(b) supervised SCoTD; the strategies' bars are plotted only.
    R += _rows(SCOTD, "SCoTD Fig. 7", TASKS3, (67.0, 83.8, 67.0), model="OPT-1.3B", condition="scotd",
               setting="supervised", decode="greedy", variant="full", source="Table 2(b)")
    # --- SCoTD §3.5: unseen task SST-2 (trained on ANLI+CSQA+OBQA), few-shot accuracy
    for cond, v, model in (("scotd", 79.6, "OPT-1.3B"), ("label_only", 0.0, "OPT-1.3B (MetaICL re-impl.)"),
                           ("prompt_cot", 74.5, "GPT-3 text-curie-001")):
        R.append({"paper": SCOTD, "table": "SCoTD §3.5", "task": "sst2", "value": v, "model": model,
                  "condition": cond, "setting": "transfer", "decode": None, "variant": "validation"})

    # --- SCoTD §3.1.1: pairwise human evaluation of the CoTs (final predictions removed; crowdworkers pick the
    # chain more likely to lead to a correct answer; CSQA + QuaRel + OBQA dev, 300 instances each, pooled).
    # value = % of head-to-head judgments won by OPT-1.3B + SCoTD; "both correct" = both systems answered right.
    for cond, opponent, variant, v, n, p in (
            ("student_vs_teacher", "text-davinci-002", "random sample", 47.0, 900, "p > .01"),
            ("student_vs_teacher", "text-davinci-002", "both correct", 51.0, 659, "p > .01"),
            ("student_vs_undistilled", "OPT-1.3B", "random sample", 59.0, 900, "p < .001"),
            ("student_vs_undistilled", "OPT-1.3B", "both correct", 61.0, 654, "p < .001")):
        R.append({"paper": SCOTD, "table": "SCoTD §3.1.1 (human eval)", "task": "csqa+quarel+obqa", "value": v,
                  "model": "OPT-1.3B + SCoTD", "opponent": opponent, "condition": cond, "setting": "human_eval",
                  "decode": None, "variant": variant, "n": n, "p_text": p})

    # --- Wadhwa Table 1 / 2 / 3 (CSQA, OBQA, QuaRel)
    W = {
        "label_only": {"GPT-2": (63.11, 60.20, 59.05), "Phi-1.5": (67.77, 56.81, 76.82),
                       "Gemma-2B": (68.53, 58.15, 73.39)},
        "cot_before": {"GPT-2": (67.20, 69.71, 66.27), "Phi-1.5": (70.83, 63.49, 79.99),
                       "Gemma-2B": (70.61, 65.85, 74.90)},
        "cot_after": {"GPT-2": (70.92, 70.26, 71.04), "Phi-1.5": (72.56, 72.49, 81.36),
                      "Gemma-2B": (72.64, 68.93, 78.16)},
    }
    for cond, by_model in W.items():
        for model, vals in by_model.items():
            R += _rows(WADHWA, "Wadhwa Table 1", WTASKS, vals, model=model, condition=cond, setting="supervised",
                       decode="greedy", variant="")
    W2 = {"shuffled_before": {"GPT-2": (34.56, 41.64, 32.88), "Phi-1.5": (19.37, 38.81, 45.28),
                              "Gemma-2B": (25.80, 35.17, 20.52)},
          "shuffled_after": {"GPT-2": (69.56, 70.15, 70.56), "Phi-1.5": (72.19, 69.51, 81.01),
                             "Gemma-2B": (71.13, 67.28, 76.50)}}
    for cond, by_model in W2.items():
        for model, vals in by_model.items():
            R += _rows(WADHWA, "Wadhwa Table 2", WTASKS, vals, model=model, condition=cond, setting="supervised",
                       decode="greedy", variant="")
    W3 = {"ig_top15": {"GPT-2": (71.30, 74.86, 71.26), "Phi-1.5": (74.82, 71.54, 82.69),
                       "Gemma-2B": (73.85, 68.13, 79.03)},
          "ig_top15_shuffled": {"GPT-2": (71.24, 74.99, 71.47), "Phi-1.5": (74.18, 71.28, 81.84),
                                "Gemma-2B": (72.93, 67.30, 78.94)},
          "human": {"GPT-2": (None, None, 67.06), "Phi-1.5": (None, None, 78.44), "Gemma-2B": (None, None, 74.77)},
          "word2vec_top15": {"GPT-2": (63.81, 60.02, 59.90), "Phi-1.5": (67.94, 56.22, 75.49),
                             "Gemma-2B": (69.10, 58.86, 72.12)}}
    for variant, by_model in W3.items():
        for model, vals in by_model.items():
            R += _rows(WADHWA, "Wadhwa Table 3", WTASKS, vals, model=model, condition="key_tokens",
                       setting="supervised", decode="greedy", variant=variant)
    for r in R:
        r["citation"] = f"{r['paper']}, {r['table']}"
    return R


PAPER_NUMBERS: list[dict[str, Any]] = _build()


def paper_table(*, paper: str | None = None, table: str | None = None, task: str | None = None,
                condition: str | None = None):
    """The reported numbers as a pandas DataFrame, optionally filtered (substring match on paper/table)."""
    import pandas as pd

    df = pd.DataFrame(PAPER_NUMBERS)
    if paper:
        df = df[df["paper"].str.contains(paper, case=False, regex=False)]
    if table:
        df = df[df["table"].str.contains(table, case=False, regex=False)]
    if task:
        df = df[df["task"] == task]
    if condition:
        df = df[df["condition"] == condition]
    return df.reset_index(drop=True)


def reported(paper: str, table: str, task: str, condition: str, **match: Any) -> float:
    """One reported number; raises if zero or several rows match."""
    df = paper_table(paper=paper, table=table, task=task, condition=condition)
    for k, v in match.items():
        df = df[df[k] == v]
    if len(df) != 1:
        raise KeyError(f"{len(df)} rows match {paper}/{table}/{task}/{condition}/{match}")
    return float(df["value"].iloc[0])


# ------------------------------------------------------------------------- one cell of a table or figure

def _paper_rows(table: str, task: str, **match: Any) -> list[dict[str, Any]]:
    rows = [r for r in PAPER_NUMBERS if r["table"] == table and r["task"] == task]
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


def wadhwa_value(table: str, *, task: str, condition: str, model: str = "GPT-2", variant: str = "") -> float | None:
    """Wadhwa et al.'s number (%) for one cell of Table 1/2/3 (``table`` "1" | "2" | "3"; ``model`` GPT-2 |
    Phi-1.5 | Gemma-2B; ``variant`` for Table 3: ig_top15 | ig_top15_shuffled | human | word2vec_top15),
    or None where the paper has none (e.g. the generated coin flip)."""
    if table not in ("1", "2", "3"):
        raise KeyError(f"unknown Wadhwa table {table!r}; known: 1, 2, 3")
    rows = _paper_rows(f"Wadhwa Table {table}", task, condition=condition, model=model, variant=variant)
    if len(rows) > 1:
        raise KeyError(f"{len(rows)} paper rows match Wadhwa Table {table}/{task}/{condition}/{model}/{variant}")
    return float(rows[0]["value"]) if rows else None


def paper_curve(table: str, task: str) -> dict[str, dict[int, float]]:
    """Table 3(b) as ``{decode: {n_rationales: accuracy %}}``."""
    if table != "3b":
        raise KeyError("only Table 3(b) is a curve")
    out: dict[str, dict[int, float]] = {}
    for r in _paper_rows(_TABLES["3b"], task, condition="scotd"):
        out.setdefault(r["decode"], {})[int(r["variant"].split("=")[1])] = float(r["value"])
    return out


#: the paper's students by the hub ids a profile may name (SCoTD Fig. 4)
_PAPER_STUDENTS = {"facebook/opt-125m": "OPT-125M", "facebook/opt-350m": "OPT-350M", "facebook/opt-1.3b": "OPT-1.3B"}


def paper_figure(figure: str, *, task: str, condition: str, n_rationales: int | None = None,
                 fraction: float | None = None, student: str | None = None, split: str | None = None) -> float | None:
    """SCoTD Fig. 2 / 3 / 4 / 7's number (%) for one point, where the paper's text states it (Table 2(b),
    §3.1); None for every point the paper only plots, and for other tasks (the coin flip).

    ``condition``: ``label_only`` or ``scotd`` (with ``n_rationales``; paper N = 30 / 50) for Fig. 2–4;
    for Fig. 7 ``full`` (all of C') or a §4 strategy. Fig. 3 takes the ``fraction`` of training questions,
    Fig. 4 the ``student`` (a hub id: the paper's are facebook/opt-125m, -350m, -1.3b).

    Fig. 5 (§3.4, IMDb, supervised; the text states every bar): ``condition`` ``label_only`` or ``scotd``,
    ``split`` ``original`` or ``contrast`` of the contrast set's *test* part (the paper's only one).
    Fig. 6 (§3.5, SST-2 unseen): ``scotd`` (79.6), ``label_only`` (0.0, the MetaICL-style re-implementation:
    answers outside the label set) or ``prompt_cot`` (74.5: GPT-3 text-curie-001 prompted, not the student)."""
    if figure == "5":
        if split not in ("original", "contrast"):
            raise KeyError(f"Fig. 5 needs split='original' or 'contrast', got {split!r}")
        rows = _paper_rows("SCoTD §3.4 Fig. 5", task, condition=condition, variant=f"test_{split}")
        return float(rows[0]["value"]) if len(rows) == 1 else None
    if figure == "6":
        rows = _paper_rows("SCoTD §3.5", task, condition=condition)
        return float(rows[0]["value"]) if len(rows) == 1 else None
    figs = {"2": "SCoTD Fig. 2", "3": "SCoTD Fig. 3", "4": "SCoTD Fig. 4", "7": "SCoTD Fig. 7"}
    if figure not in figs:
        raise KeyError(f"unknown SCoTD figure {figure!r}; known: {sorted(figs) + ['5', '6']}")
    n = f"N={n_rationales}" if condition == "scotd" else ""
    if figure == "2":
        match = {"condition": condition, "variant": n}
    elif figure == "3":
        if fraction is None:
            raise KeyError("Fig. 3 needs the fraction of training questions")
        match = {"condition": condition, "variant": f"fraction={fraction:g}" + (f",{n}" if n else "")}
    elif figure == "4":
        match = {"condition": condition, "variant": n, "model": _PAPER_STUDENTS.get(str(student), f"not:{student}")}
    else:
        match = {"condition": "scotd", "variant": "full"} if condition == "full" else {"condition": condition}
    rows = _paper_rows(figs[figure], task, **match)
    if len(rows) > 1:
        raise KeyError(f"{len(rows)} paper rows match {figs[figure]}/{task}/{match}")
    return float(rows[0]["value"]) if rows else None
