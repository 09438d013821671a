"""Scoring decoded predictions: accuracy with its CI, results records. (Every interval and test is in
:mod:`helpers.stats`; ``accuracy_ci`` and ``mcnemar`` are re-exported here for callers of this module.)

* :func:`metrics` — accuracy, CI, ``n``, ``no_answer_rate`` (no parseable answer).
* :func:`results_record` — one record per (condition, task, seed), stamped with profile, models, data
  and git commit (:func:`helpers.provenance.stamp`).
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np

from .decode import Prediction
from .stats import accuracy_ci, mcnemar  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)



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


PROMPT_MODES = ("no_cot", "greedy", "sc")


def prompting_corpus(teacher: Any, examples: Sequence[Any], mode: str, *, k: int = 5, temperature: float = 0.7,
                     max_new_tokens: int = 96, shots: int | None = None, seed: int = 0) -> Any:
    """The completions behind :func:`prompting` as a :class:`helpers.corpus.Corpus` (every raw text, its answer,
    and why it ended — ``finish_reason`` "length" when the token budget cut it: :func:`corpus_stats`'s
    ``length_cut_rate``)."""
    from .corpus import sample_corpus
    if mode not in PROMPT_MODES:
        raise ValueError(f"mode must be one of {PROMPT_MODES}, got {mode!r}")
    kw: dict[str, Any] = dict(n=1, temperature=0.0, max_new_tokens=max_new_tokens, mode="cot")
    if mode == "no_cot":
        kw.update(mode="direct", max_new_tokens=16)
    elif mode == "sc":
        kw.update(n=k, temperature=temperature)
    return sample_corpus(teacher, list(examples), shots=shots, seed=seed, progress=False, **kw)


def votes(corpus: Any) -> list[Prediction]:
    """One prediction per question of ``corpus``: the majority answer of its samples (one sample: that one)."""
    from .decode import majority_vote
    preds = []
    for e in corpus.entries:
        pred, v = majority_vote([s.label for s in e.samples])
        preds.append(Prediction(e.example.id, e.example.answer, pred, [s.raw for s in e.samples], v))
    return preds


def raw_completions(corpus: Any, n: int = 5, **keys: Any) -> list[dict[str, Any]]:
    """The first sample of the first ``n`` questions of ``corpus`` exactly as generated, one row each (with
    ``keys``, e.g. role/model/mode): what a teacher or prompted model wrote, committed beside its table so a
    reader can see it without re-running (its answer, the gold one and why it ended — ``finish_reason``)."""
    return [{**keys, "id": e.example.id, "gold": e.example.answer, "answer": e.samples[0].label,
             "finish_reason": e.samples[0].finish_reason, "completion": e.samples[0].raw.strip()}
            for e in corpus.entries[:n] if e.samples]


def prompting(teacher: Any, examples: Sequence[Any], mode: str, *, k: int = 5, temperature: float = 0.7,
              max_new_tokens: int = 96, shots: int | None = None, seed: int = 0) -> list[Prediction]:
    """Few-shot prompting of an un-distilled model (SCoTD Table 2(a)) as predictions: ``no_cot``
    (exemplars with answers only, greedy), ``greedy`` (CoT exemplars, greedy CoT) or ``sc`` (CoT
    exemplars, ``k`` samples at ``temperature``, majority vote). ``teacher``: any
    :class:`helpers.teacher.Teacher`; samples go through its durable cache."""
    return votes(prompting_corpus(teacher, examples, mode, k=k, temperature=temperature,
                                  max_new_tokens=max_new_tokens, shots=shots, seed=seed))
