"""Downsampling a teacher corpus to a fixed budget of CoTs (SCoTD §4).

All strategies keep on average ``budget`` samples per question (fewer where a question has fewer
samples, as in the paper's footnote 11) and are deterministic given ``seed``:

* ``random``          — ``budget`` samples drawn uniformly per question (the null hypothesis: volume).
* ``diversity``       — sentence embeddings of the rationales (S-BERT; here the ``minilm`` embedder),
  Ward hierarchical clustering into ``k = budget`` clusters, one random sample per cluster.
* ``likelihood``      — the ``budget`` samples with the highest per-token log-likelihood under the
  teacher (``logprob / n_tokens``; needs a corpus with log-probs).
* ``open_endedness``  — questions sorted into quintiles by the number of unique word bigrams over their
  CoTs; the quintiles keep ``budget × (1, 3, 5, 7, 9) / 5`` samples (1/3/5/7/9 for budget 5), lowest
  diversity first, chosen at random within a question.

Usually applied to the supervised corpus ``C'`` (``corpus.correct_only()``), as in the paper.

A replayed corpus (the released GPT-3 CoTs) carries no log-probabilities: :func:`score_likelihood`
scores every CoT under a *local* model instead (``log p(CoT + answer sentence | question)``, cached and
resumable), which stands in for the teacher's likelihood — a proxy, and notebooks say so.
:func:`selection_stats` shows what each strategy kept (CoTs, per-token log-likelihood, bigram
diversity, spread of the embeddings, overlap with a reference selection).
"""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .corpus import Corpus, CorpusEntry, Sample, subset, unique_bigrams
from .provenance import stable_hash

STRATEGIES = ("random", "diversity", "likelihood", "open_endedness")
OPEN_ENDED_SHARES = (1, 3, 5, 7, 9)


def _rng(seed: int, *parts: Any) -> random.Random:
    return random.Random(int(stable_hash([seed, *parts]), 16))


def pick_random(entry: CorpusEntry, budget: int, seed: int = 0) -> list[int]:
    """``k`` of ``budget`` samples drawn uniformly (all when there are at most ``budget``)."""
    ks = [s.k for s in entry.samples]
    if len(ks) <= budget:
        return ks
    return sorted(_rng(seed, "random", entry.example.id).sample(ks, budget))


def cluster_labels(embeddings: np.ndarray, k: int) -> np.ndarray:
    """Ward hierarchical clustering of L2-normalized embeddings into at most ``k`` clusters (labels 1..)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    if len(x) == 1:
        return np.ones(1, dtype=int)
    z = linkage(x, method="ward")
    return fcluster(z, t=k, criterion="maxclust")


def pick_diverse(entry: CorpusEntry, embeddings: np.ndarray, budget: int, seed: int = 0) -> list[int]:
    """One random sample from each of ``budget`` clusters of the rationale embeddings.

    Identical rationales can leave fewer than ``budget`` clusters; the budget is then filled with random
    further samples from the largest clusters.
    """
    ks = [s.k for s in entry.samples]
    if len(ks) <= budget:
        return ks
    labels = cluster_labels(embeddings, budget)
    rng = _rng(seed, "diversity", entry.example.id)
    members: dict[int, list[int]] = {}
    for k, lab in zip(ks, labels.tolist()):
        members.setdefault(lab, []).append(k)
    picked = [rng.choice(m) for _, m in sorted(members.items())]
    if len(picked) < budget:
        rest = [k for k in ks if k not in picked]
        picked += rng.sample(rest, budget - len(picked))
    return sorted(picked)


def pick_likely(entry: CorpusEntry, budget: int) -> list[int]:
    """The ``budget`` samples with the highest per-token log-likelihood (ties: lower ``k`` first)."""
    for s in entry.samples:
        if s.mean_logprob is None:
            raise ValueError(f"{entry.example.task}/{entry.example.id} sample {s.k} has no log-prob: the "
                             "likelihood strategy needs a corpus sampled with log-probs (not a replay)")
    ranked = sorted(entry.samples, key=lambda s: (-s.mean_logprob, s.k))  # type: ignore[operator]
    return sorted(s.k for s in ranked[:budget])


def open_endedness_quotas(corpus: Corpus, budget: int, seed: int = 0) -> dict[str, int]:
    """Per question id, how many samples the open-endedness strategy keeps.

    Questions are ranked by unique bigrams over their CoTs (ties broken by a seeded hash of the id) and
    cut into five equal quintiles, which get ``round(budget * share / 5)`` samples (at least 1),
    ``share`` = 1, 3, 5, 7, 9 from the least to the most open-ended quintile.
    """
    entries = [e for e in corpus.entries if e.samples]
    scored = sorted(entries, key=lambda e: (unique_bigrams([s.rationale for s in e.samples]),
                                            stable_hash([seed, e.example.id])))
    quotas = {}
    n = len(scored)
    for rank, e in enumerate(scored):
        q = min(4, rank * 5 // n)
        quotas[e.example.id] = max(1, round(budget * OPEN_ENDED_SHARES[q] / 5))
    return quotas


def downsample(corpus: Corpus, strategy: str, budget: int = 5, seed: int = 0,
               embedder: Any | None = None, embed: Callable[[list[str]], np.ndarray] | None = None) -> Corpus:
    """Keep about ``budget`` CoTs per question chosen by ``strategy`` (one of :data:`STRATEGIES`).

    ``diversity`` embeds rationales with ``embed(texts)`` if given, else ``embedder.encode`` (default:
    ``helpers.models.load_embedder("minilm")``). Returns a new corpus; ``meta["downsample"]`` records
    the strategy, budget and seed.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    keep: dict[str, list[int]] = {}
    if strategy == "random":
        keep = {e.example.id: pick_random(e, budget, seed) for e in corpus.entries}
    elif strategy == "likelihood":
        keep = {e.example.id: pick_likely(e, budget) for e in corpus.entries}
    elif strategy == "open_endedness":
        quotas = open_endedness_quotas(corpus, budget, seed)
        keep = {e.example.id: pick_random(e, quotas.get(e.example.id, 0), seed) if e.samples else []
                for e in corpus.entries}
    else:  # diversity
        if embed is None:
            if embedder is None:
                from .models import load_embedder
                embedder = load_embedder("minilm")
            model = embedder

            def embed(texts: list[str]) -> np.ndarray:
                return np.asarray(model.encode(texts, batch_size=64, show_progress_bar=False))
        need = [e for e in corpus.entries if len(e.samples) > budget]
        texts = [s.rationale for e in need for s in e.samples]
        vecs = embed(texts) if texts else np.zeros((0, 1))
        pos = 0
        for e in corpus.entries:
            if len(e.samples) > budget:
                m = len(e.samples)
                keep[e.example.id] = pick_diverse(e, vecs[pos:pos + m], budget, seed)
                pos += m
            else:
                keep[e.example.id] = [s.k for s in e.samples]
    return subset(corpus, keep, downsample={"strategy": strategy, "budget": budget, "seed": seed})


def score_likelihood(corpus: Corpus, scorer: str, *, shots: int = 0, batch_size: int = 8,
                     cache: str | Path | None = "default", model_and_tokenizer: Any = None,
                     progress: bool = False) -> Corpus:
    """The corpus with every sample's ``logprob`` / ``n_tokens`` replaced by its likelihood under the
    local model ``scorer`` (registry name, local dir or hub id): ``log p(" <CoT> <answer sentence>" |
    prompt)``, the prompt being the question alone (``shots=0``) or the task's few-shot CoT prompt with
    ``shots`` exemplars, as a teacher would have been prompted. For corpora whose teacher gave no
    log-probs (a replay) — this is the *scorer's* likelihood, not the teacher's; ``meta["likelihood"]``
    says which model and prompt.

    Scores are cached durably per scorer (``$COTLAB_CACHE/likelihood/``, one JSON line per CoT, keyed by
    scorer, prompt and text), so a run cut off resumes and a re-run loads no model. fp32 weights."""
    from .models import model_id
    from .prompts import build_prompt, format_answer, format_input
    from .sample_cache import SampleCache, cache_path_for
    from .teacher import completion_logprobs
    sid = model_id(scorer)
    store = None
    if cache is not None:
        from . import config
        root = config.cache_dir() / "likelihood" if cache == "default" else Path(cache)
        store = SampleCache(cache_path_for(f"likelihood:{sid}", root), f"likelihood:{sid}")
    jobs: list[tuple[str, str, str]] = []          # (key, prompt, completion) of every sample
    for e in corpus.entries:
        ex = e.example
        prompt = build_prompt(ex, shots=shots, mode="cot") if shots else format_input(ex)
        for s in e.samples:
            text = f" {s.rationale.strip()}" + (f" {format_answer(ex, s.label)}" if s.label is not None else "")
            jobs.append((stable_hash({"scorer": sid, "prompt": prompt, "completion": text}, n=24), prompt, text))
    scores: dict[str, tuple[float, int]] = {}
    todo, queued = [], set()
    for key, prompt, text in jobs:
        rec = store.get(key, 0) if store is not None else None
        if rec is not None:
            scores[key] = (float(rec["logprob"]), int(rec["n_tokens"]))
        elif key not in queued:
            queued.add(key)
            todo.append((key, prompt, text))
    if todo:
        if model_and_tokenizer is None:
            from .models import load_model
            model_and_tokenizer = load_model(scorer)
        tok, model = model_and_tokenizer
        bar = None
        if progress:
            import sys

            from tqdm.auto import tqdm
            bar = tqdm(total=len(todo), desc=f"likelihood under {scorer}", unit="cot", file=sys.stderr)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i:i + batch_size]
            for (key, _, text), (lp, n) in zip(chunk, completion_logprobs(model, tok, [c[1] for c in chunk],
                                                                          [c[2] for c in chunk],
                                                                          batch_size=batch_size)):
                scores[key] = (lp, n)
                if store is not None:
                    store.put(key, 0, {"text": text, "logprob": lp, "n_tokens": n})
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
    entries, j = [], 0
    for e in corpus.entries:
        samples = []
        for s in e.samples:
            lp, n = scores[jobs[j][0]]
            samples.append(replace(s, logprob=lp, n_tokens=n))
            j += 1
        entries.append(CorpusEntry(e.example, samples))
    return Corpus(entries, dict(corpus.meta, likelihood={
        "scorer": sid, "shots": shots, "scored": len(jobs), "computed": len(todo),
        "note": "per-CoT log-likelihood under a local model standing in for the teacher (the corpus's own "
                "teacher log-probs, if any, are replaced)"}))


def memo_embed(embedder: Any) -> Callable[[list[str]], np.ndarray]:
    """``embed(texts)`` for :func:`downsample` and :func:`selection_stats` that encodes each distinct text
    once with ``embedder.encode`` (e.g. the ``minilm`` sentence embedder) and remembers it, so several
    seeds and strategies over one corpus embed it once."""
    seen: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in seen))
        if new:
            seen.update(zip(new, np.asarray(embedder.encode(new, batch_size=64, show_progress_bar=False))))
        return np.stack([seen[t] for t in texts]) if texts else np.zeros((0, 1))
    embed.cache = seen  # type: ignore[attr-defined]
    return embed


def _jaccard(a: set, b: set) -> float | None:
    return len(a & b) / len(a | b) if a | b else None


def selection_stats(corpora: dict[str, Corpus], *, reference: str | None = None,
                    embed: Callable[[list[str]], np.ndarray] | None = None,
                    scores_from: Corpus | None = None) -> list[dict[str, Any]]:
    """One row per named corpus (e.g. ``{"full": C', "random": ..., "diversity": ...}``): questions, CoTs
    and CoTs per question, the mean per-token log-likelihood of the kept CoTs (None where unknown), unique
    word bigrams per question, and with ``embed`` the mean pairwise cosine distance of the kept CoTs within
    a question (their spread); ``overlap`` is the Jaccard index of the kept (question, k) with the
    ``reference`` corpus. ``scores_from``: a corpus of the same CoTs whose log-likelihoods are used for
    every row (e.g. :func:`score_likelihood`'s), so all rows are on the scale the likelihood strategy
    ranked by. Shows whether each strategy kept what it claims to."""
    lik = ({(e.example.id, s.k): s.mean_logprob for e in scores_from.entries for s in e.samples}
           if scores_from is not None else None)
    vec: dict[str, np.ndarray] = {}
    if embed is not None:
        texts = sorted({s.rationale for c in corpora.values() for e in c.entries for s in e.samples})
        if texts:
            arr = np.asarray(embed(texts), dtype=np.float64)
            arr = arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)
            vec = dict(zip(texts, arr))
    kept = {name: {(e.example.id, s.k) for e in c.entries for s in e.samples} for name, c in corpora.items()}
    rows = []
    for name, c in corpora.items():
        lps = [x for x in ((lik.get((e.example.id, s.k)) if lik is not None else s.mean_logprob)
                           for e in c.entries for s in e.samples) if x is not None]
        with_samples = [e for e in c.entries if e.samples]
        spreads = []
        if vec:
            for e in with_samples:
                if len(e.samples) > 1:
                    m = np.stack([vec[s.rationale] for s in e.samples])
                    sim = m @ m.T
                    iu = np.triu_indices(len(m), 1)
                    spreads.append(float(np.mean(1 - sim[iu])))
        n_cots = c.n_samples()
        row = {
            "corpus": name, "questions": len(with_samples), "cots": n_cots,
            "cots_per_question": n_cots / len(c.entries) if c.entries else 0.0,
            "mean_token_logprob": float(np.mean(lps)) if lps else None,
            "unique_bigrams_per_question": (float(np.mean([unique_bigrams([s.rationale for s in e.samples])
                                                           for e in with_samples])) if with_samples else None),
            "embedding_spread": float(np.mean(spreads)) if spreads else None,
            "overlap": _jaccard(kept[name], kept[reference]) if reference in kept else None,
        }
        rows.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    return rows


__all__ = ["STRATEGIES", "downsample", "pick_random", "pick_diverse", "pick_likely", "cluster_labels",
           "open_endedness_quotas", "score_likelihood", "selection_stats", "memo_embed", "Sample"]
