"""Scoring decoded predictions: accuracy with a bootstrap 95% CI, paired tests, results records.

* :func:`accuracy_ci` — accuracy and a percentile-bootstrap 95% CI (``scipy.stats.bootstrap``, seeded).
* :func:`paired_test` — two conditions on the *same* examples: exact McNemar test
  (``scipy.stats.binomtest`` on the discordant pairs) and a paired-bootstrap CI of the accuracy
  difference.
* :func:`metrics` — accuracy, CI, ``n``, ``no_answer_rate`` (no parseable answer).
* :func:`results_record` — one record per (condition, task, seed), stamped with profile, models, data
  and git commit (:func:`helpers.provenance.stamp`).
* :func:`compare_to_paper` — our results beside the papers' reported numbers
  (:mod:`helpers.paper_numbers`).
"""
from __future__ import annotations

import logging
import time
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .decode import Prediction

log = logging.getLogger(__name__)

N_BOOT = 10_000


def _as_correct(preds: Sequence[Prediction] | Sequence[bool]) -> np.ndarray:
    return np.array([p.correct if isinstance(p, Prediction) else bool(p) for p in preds], dtype=float)


def accuracy_ci(correct: Sequence[bool] | Sequence[Prediction], *, confidence: float = 0.95,
                n_resamples: int = N_BOOT, seed: int = 0) -> tuple[float, float, float]:
    """``(accuracy, ci_low, ci_high)``: percentile bootstrap over examples."""
    from scipy.stats import bootstrap

    x = _as_correct(correct)
    if x.size == 0:
        raise ValueError("no predictions to score")
    acc = float(x.mean())
    if x.min() == x.max():          # all right or all wrong: every resample has the same mean
        return acc, acc, acc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", rng=np.random.default_rng(seed), vectorized=True)
    return acc, float(res.confidence_interval.low), float(res.confidence_interval.high)


def metrics(preds: Sequence[Prediction], *, seed: int = 0) -> dict[str, Any]:
    """Accuracy, bootstrap 95% CI, ``n``, no-answer rate (and, for SC, the mean winning vote share)."""
    acc, lo, hi = accuracy_ci(preds, seed=seed)
    out = {"accuracy": acc, "ci_low": lo, "ci_high": hi, "n": len(preds),
           "no_answer_rate": float(np.mean([p.pred is None for p in preds])),
           "n_correct": int(sum(p.correct for p in preds))}
    counts: dict[str, int] = {}
    for p in preds:
        key = "none" if p.pred is None else p.pred
        counts[key] = counts.get(key, 0) + 1
    out["pred_counts"] = dict(sorted(counts.items()))
    if any(len(p.texts) > 1 for p in preds):
        shares = [max(p.votes.values()) / len(p.texts) for p in preds if p.votes]
        out["mean_vote_share"] = float(np.mean(shares)) if shares else 0.0
    return out


def _align(a: Sequence[Prediction], b: Sequence[Prediction]) -> tuple[np.ndarray, np.ndarray]:
    ia = {p.id: p.correct for p in a}
    ib = {p.id: p.correct for p in b}
    if set(ia) != set(ib):
        only_a, only_b = sorted(set(ia) - set(ib))[:3], sorted(set(ib) - set(ia))[:3]
        raise ValueError(f"paired test needs the same examples: only in A {only_a}…, only in B {only_b}…")
    ids = sorted(ia)
    return np.array([ia[i] for i in ids], float), np.array([ib[i] for i in ids], float)


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test on two aligned correctness vectors (same examples, same order).

    ``a_only``: A right and B wrong; ``b_only``: the reverse; ``p_value``: two-sided exact binomial
    test of ``a_only`` out of the discordant pairs at 0.5 (1.0 when there are none).
    """
    from scipy.stats import binomtest

    xa, xb = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if xa.shape != xb.shape:
        raise ValueError(f"McNemar needs aligned vectors, got {xa.shape} and {xb.shape}")
    a_only, b_only = int((xa & ~xb).sum()), int((~xa & xb).sum())
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"n": int(xa.size), "a_only": a_only, "b_only": b_only, "p_value": p}


def paired_test(a: Sequence[Prediction], b: Sequence[Prediction], *, n_resamples: int = N_BOOT,
                seed: int = 0) -> dict[str, Any]:
    """Compare condition A with B on the same examples (matched by id).

    Returns the accuracy difference A−B with a paired-bootstrap 95% CI, the discordant counts
    (``a_only``: A right and B wrong; ``b_only``) and the exact McNemar p-value (two-sided binomial
    test of ``a_only`` out of ``a_only + b_only`` at 0.5).
    """
    xa, xb = _align(a, b)
    mc = mcnemar(xa == 1, xb == 1)
    n01, n10, p = mc["a_only"], mc["b_only"], mc["p_value"]
    d = xa - xb
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_resamples, len(d)))
    boots = d[idx].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"n": len(d), "acc_a": float(xa.mean()), "acc_b": float(xb.mean()), "diff": float(d.mean()),
            "diff_ci_low": float(lo), "diff_ci_high": float(hi), "a_only": n01, "b_only": n10,
            "mcnemar_p": p}


def results_record(*, condition: str, task: str, split: str, seed: int, preds: Sequence[Prediction],
                   profile: Any, models: Mapping[str, str], decode: Mapping[str, Any],
                   data: Mapping[str, Any] | None = None, train_meta: Mapping[str, Any] | None = None,
                   timing: Mapping[str, Any] | None = None, keep_predictions: bool = True) -> dict[str, Any]:
    """One stamped results record for (condition, task, seed): metrics + settings + predictions."""
    from .provenance import stamp

    rec: dict[str, Any] = {"condition": condition, "task": task, "split": split, "seed": seed,
                           **metrics(preds, seed=seed), "decode": dict(decode)}
    if train_meta:
        rec["training"] = {k: train_meta.get(k) for k in (
            "key", "student", "train_config", "n_pairs", "n_examples", "train_seconds", "train_loss",
            "tokens_per_s", "global_steps", "best_step", "info") if k in train_meta}
    if timing:
        rec["timing"] = dict(timing)
    if keep_predictions:
        rec["predictions"] = [p.to_dict() for p in preds]
    return stamp(rec, profile=profile, models=dict(models), data=dict(data or {}), seed=seed)


def load_predictions(record: Mapping[str, Any]) -> list[Prediction]:
    """Rebuild :class:`Prediction` objects from a results record (for paired tests across files)."""
    out = []
    for d in record["predictions"]:
        out.append(Prediction(d["id"], d["gold"], d["pred"], list(d["texts"]), dict(d.get("votes", {})),
                              int(d.get("n_generated_tokens", 0))))
    return out


def compare_to_paper(records: Iterable[Mapping[str, Any]], *, paper: str | None = None,
                     table: str | None = None):
    """A table (pandas DataFrame) of our results beside the papers' reported accuracies.

    Each of our records is matched to paper rows with the same task and condition (and ``setting``
    and ``decode`` where the paper row states them); unmatched rows on either side are kept, so
    the table shows what we ran and what the paper reported.
    """
    import pandas as pd

    from .paper_numbers import paper_table

    ours = []
    for r in records:
        setting = (r.get("training") or {}).get("info", {}).get("setting") or r.get("setting")
        ours.append({"task": r["task"], "condition": r["condition"], "setting": setting,
                     "decode": (r.get("decode") or {}).get("method"),
                     "ours_accuracy": 100 * r["accuracy"], "ours_ci": f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]",
                     "ours_n": r["n"], "ours_student": (r.get("provenance") or {}).get("models", {}).get("student"),
                     "seed": r.get("seed")})
    ours_df = pd.DataFrame(ours, columns=["task", "condition", "setting", "decode", "ours_accuracy", "ours_ci",
                                          "ours_n", "ours_student", "seed"])
    ref = paper_table(paper=paper, table=table)
    ref = ref.rename(columns={"value": "paper_accuracy", "model": "paper_model", "setting": "paper_setting",
                              "decode": "paper_decode"})
    merged = ours_df.merge(ref, on=["task", "condition"], how="outer")
    keep = (merged["paper_setting"].isna() | merged["setting"].isna() |
            (merged["paper_setting"] == merged["setting"]))
    keep &= (merged["paper_decode"].isna() | merged["decode"].isna() | (merged["paper_decode"] == merged["decode"]))
    merged = merged[keep]
    cols = ["task", "condition", "setting", "decode", "ours_accuracy", "ours_ci", "ours_n", "ours_student",
            "paper", "table", "paper_model", "paper_setting", "paper_decode", "paper_accuracy", "citation"]
    return merged[[c for c in cols if c in merged.columns]].sort_values(["task", "condition"]).reset_index(drop=True)


PROMPT_MODES = ("no_cot", "greedy", "sc")


def prompting(teacher: Any, examples: Sequence[Any], mode: str, *, k: int = 5, temperature: float = 0.7,
              max_new_tokens: int = 96, shots: int | None = None, seed: int = 0) -> list[Prediction]:
    """Few-shot prompting of an un-distilled model (SCoTD Table 2(a)) as predictions: ``no_cot``
    (exemplars with answers only, greedy), ``greedy`` (CoT exemplars, greedy CoT) or ``sc`` (CoT
    exemplars, ``k`` samples at ``temperature``, majority vote). ``teacher``: any
    :class:`helpers.teacher.Teacher`; samples go through its durable cache."""
    from .decode import majority_vote
    from .corpus import sample_corpus
    if mode not in PROMPT_MODES:
        raise ValueError(f"mode must be one of {PROMPT_MODES}, got {mode!r}")
    kw: dict[str, Any] = dict(n=1, temperature=0.0, max_new_tokens=max_new_tokens, mode="cot")
    if mode == "no_cot":
        kw.update(mode="direct", max_new_tokens=16)
    elif mode == "sc":
        kw.update(n=k, temperature=temperature)
    corpus = sample_corpus(teacher, list(examples), shots=shots, seed=seed, progress=False, **kw)
    preds = []
    for e in corpus.entries:
        pred, votes = majority_vote([s.label for s in e.samples])
        preds.append(Prediction(e.example.id, e.example.answer, pred, [s.raw for s in e.samples], votes))
    return preds
