"""The teacher corpus C = {(x, [(ŷ_k, z_k, logprob_k)]_{k=1..N})} (SCoTD §2): schema, JSONL I/O, stats.

JSONL schema (one file per corpus)::

    line 1:  {"_meta": {teacher, task, split, n, temperature, max_new_tokens, mode, shots,
                        prompt_hash, filter, seed, usage, exemplar_ids, ...}}
    line 2+: {"task", "id", "text", "choices": [{"label", "text"}], "labels", "answer",
              "samples": [{"k", "rationale", "label", "logprob", "n_tokens", "raw"}]}

``label`` is an option of the example (``"B"`` for MC, ``"positive"`` for classification) or
``null`` when the teacher gave no parseable answer. ``logprob`` is the sum of the token
log-probabilities of the generated completion under the teacher (``null`` when unknown, e.g. a
replayed corpus); ``n_tokens`` the number of generated tokens.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .provenance import stable_hash
from .sample_cache import SampleCache, cache_path_for
from .tasks import Choice, DataError, Example, iter_jsonl
from .teacher import Completion, Request, SampleParams, Teacher, TeacherError

#: Share of teacher CoTs discarded by the supervised filter in SCoTD (§3.1, GPT-3 code-davinci-002, N=30).
PAPER_DISCARD_RATES: dict[str, float] = {"csqa": 0.404, "obqa": 0.450, "quarel": 0.342}


@dataclass
class Sample:
    """One teacher chain-of-thought."""
    k: int                          # sample index within the question
    rationale: str                  # the CoT text only (no "So the answer is ..." sentence)
    label: str | None               # parsed answer (an option of ex.options) or None = no answer
    logprob: float | None = None    # sum of token log-probs of the generated completion
    n_tokens: int | None = None     # generated tokens
    raw: str = ""                   # full raw completion text
    finish_reason: str | None = None  # "stop" (EOS / stop string) | "length" (cut by the token budget) | None: unknown

    @property
    def mean_logprob(self) -> float | None:
        """Per-token log-likelihood (``logprob / n_tokens``), or None when unknown."""
        if self.logprob is None or not self.n_tokens:
            return None
        return self.logprob / self.n_tokens


@dataclass
class CorpusEntry:
    example: Example                # the question (gold answer only for filtering / evaluation)
    samples: list[Sample]

    def correct(self) -> list[Sample]:
        return [s for s in self.samples if s.label is not None and s.label == self.example.answer]


@dataclass
class Corpus:
    entries: list[CorpusEntry]
    meta: dict[str, Any] = field(default_factory=dict)

    def correct_only(self) -> "Corpus":
        """Supervised filter (SCoTD §3.1): drop samples whose label is not the gold label.

        Questions with no correct sample stay in the corpus with an empty sample list.
        """
        for e in self.entries:
            if e.example.answer is None:
                raise ValueError(f"{e.example.task}/{e.example.id}: no gold answer, cannot apply the supervised filter")
        entries = [CorpusEntry(e.example, e.correct()) for e in self.entries]
        meta = dict(self.meta, filter="supervised")
        return Corpus(entries, meta)

    def n_samples(self) -> int:
        return sum(len(e.samples) for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def by_id(self) -> dict[str, CorpusEntry]:
        return {e.example.id: e for e in self.entries}


# ----------------------------------------------------------------------------------------------- I/O

def entry_to_row(entry: CorpusEntry) -> dict[str, Any]:
    ex = entry.example
    return {
        "task": ex.task, "id": ex.id, "text": ex.text,
        "choices": [{"label": c.label, "text": c.text} for c in ex.choices],
        "labels": list(ex.labels), "answer": ex.answer,
        "samples": [asdict(s) for s in entry.samples],
    }


def save_corpus(corpus: Corpus, path: str | Path) -> Path:
    """Write the corpus as JSONL atomically (tmp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"_meta": corpus.meta}, ensure_ascii=False, default=str) + "\n")
        for e in corpus.entries:
            fh.write(json.dumps(entry_to_row(e), ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


_SAMPLE_FIELDS = {"k": (int,), "rationale": (str,), "label": (str, type(None)),
                  "logprob": (int, float, type(None)), "n_tokens": (int, type(None)), "raw": (str,)}


def _row_to_entry(row: dict[str, Any], path: Path, lineno: int) -> CorpusEntry:
    for key, types in (("task", (str,)), ("id", (str,)), ("text", (str,)), ("choices", (list,)),
                       ("labels", (list,)), ("answer", (str, type(None))), ("samples", (list,))):
        if key not in row:
            raise DataError(path, lineno, key, "missing field")
        if not isinstance(row[key], types):
            raise DataError(path, lineno, key, f"expected {'/'.join(t.__name__ for t in types)}, got {row[key]!r:.80}")
    choices = []
    for i, c in enumerate(row["choices"]):
        if not isinstance(c, dict) or not isinstance(c.get("label"), str) or not isinstance(c.get("text"), str):
            raise DataError(path, lineno, f"choices[{i}]", f"expected {{'label': str, 'text': str}}, got {c!r:.80}")
        choices.append(Choice(c["label"], c["text"]))
    ex = Example(row["task"], row["id"], row["text"], row["answer"], tuple(choices), tuple(row["labels"]))
    samples = []
    for i, s in enumerate(row["samples"]):
        if not isinstance(s, dict):
            raise DataError(path, lineno, f"samples[{i}]", f"expected an object, got {s!r:.80}")
        for key, types in _SAMPLE_FIELDS.items():
            if key not in s:
                raise DataError(path, lineno, f"samples[{i}].{key}", "missing field")
            if not isinstance(s[key], types) or isinstance(s[key], bool):
                raise DataError(path, lineno, f"samples[{i}].{key}", f"bad value {s[key]!r:.80}")
        if s["label"] is not None and s["label"] not in ex.options:
            raise DataError(path, lineno, f"samples[{i}].label",
                            f"label {s['label']!r} is not an option {list(ex.options)}")
        fr = s.get("finish_reason")          # optional (corpora written before it was recorded lack it)
        if fr not in (None, "stop", "length"):
            raise DataError(path, lineno, f"samples[{i}].finish_reason", f"expected 'stop', 'length' or null, got {fr!r:.80}")
        samples.append(Sample(**{k: s[k] for k in _SAMPLE_FIELDS}, finish_reason=fr))
    return CorpusEntry(ex, samples)


def load_corpus(path: str | Path) -> Corpus:
    """Read a corpus written by :func:`save_corpus`; a bad line raises :class:`DataError` (file, line, field)."""
    path = Path(path)
    meta: dict[str, Any] | None = None
    entries: list[CorpusEntry] = []
    seen: dict[str, int] = {}
    for lineno, row in iter_jsonl(path):
        if meta is None:
            if "_meta" not in row or not isinstance(row["_meta"], dict):
                raise DataError(path, lineno, "_meta", "first line must be {\"_meta\": {...}}")
            meta = row["_meta"]
            continue
        entry = _row_to_entry(row, path, lineno)
        if entry.example.id in seen:
            raise DataError(path, lineno, "id",
                            f"duplicate id {entry.example.id!r} (first on line {seen[entry.example.id]})")
        seen[entry.example.id] = lineno
        entries.append(entry)
    if meta is None:
        raise DataError(path, None, "_meta", "empty corpus file")
    return Corpus(entries, meta)


# --------------------------------------------------------------------------------------------- stats

def unique_bigrams(texts: list[str]) -> int:
    """Number of distinct lower-cased word bigrams over ``texts`` (SCoTD §4 open-endedness)."""
    grams: set[tuple[str, str]] = set()
    for t in texts:
        w = t.lower().split()
        grams.update(zip(w, w[1:]))
    return len(grams)


def corpus_stats(corpus: Corpus) -> dict[str, Any]:
    """Summary numbers: sizes, teacher accuracy (per sample and by majority vote), no-answer rate,
    supervised discard rate, rationale length, unique-bigram diversity."""
    n_q = len(corpus.entries)
    samples = [(e, s) for e in corpus.entries for s in e.samples]
    n_s = len(samples)
    labeled = [(e, s) for e, s in samples if e.example.answer is not None]
    correct = sum(1 for e, s in labeled if s.label == e.example.answer)
    no_answer = sum(1 for _, s in samples if s.label is None)
    known = [s for _, s in samples if s.finish_reason is not None]
    cut = [s for s in known if s.finish_reason == "length"]
    maj_correct = maj_total = 0
    for e in corpus.entries:
        votes = Counter(s.label for s in e.samples if s.label is not None)
        if e.example.answer is None or not e.samples:
            continue
        maj_total += 1
        if votes:
            top = max(votes.values())
            # ties broken by first occurrence order of the samples (deterministic)
            winner = next(s.label for s in e.samples if s.label is not None and votes[s.label] == top)
            maj_correct += winner == e.example.answer
    words = [len(s.rationale.split()) for _, s in samples]
    toks = [s.n_tokens for _, s in samples if s.n_tokens is not None]
    per_q_bigrams = [unique_bigrams([s.rationale for s in e.samples]) for e in corpus.entries if e.samples]
    return {
        "task": corpus.meta.get("task"),
        "teacher": corpus.meta.get("teacher"),
        "questions": n_q,
        "samples": n_s,
        "samples_per_question": n_s / n_q if n_q else 0.0,
        "teacher_accuracy": correct / len(labeled) if labeled else None,
        "teacher_accuracy_majority": maj_correct / maj_total if maj_total else None,
        "no_answer_rate": no_answer / n_s if n_s else None,
        # the teacher's token budget cut the CoT (None: the teacher does not say, e.g. a replayed release), and
        # the share of the no-answer CoTs that were cut — a budget too small for the exemplars' length shows here
        "length_cut_rate": len(cut) / len(known) if known else None,
        "no_answer_cut_rate": (sum(1 for s in cut if s.label is None) / max(1, sum(1 for s in known if s.label is None))
                               if known and any(s.label is None for s in known) else None),
        "discard_rate": 1 - correct / len(labeled) if labeled else None,
        "paper_discard_rate": PAPER_DISCARD_RATES.get(corpus.meta.get("task", "")),
        "questions_without_correct": sum(1 for e in corpus.entries if e.example.answer is not None
                                         and not e.correct()),
        "mean_rationale_words": sum(words) / len(words) if words else None,
        "mean_completion_tokens": sum(toks) / len(toks) if toks else None,
        "unique_bigrams_per_question": sum(per_q_bigrams) / len(per_q_bigrams) if per_q_bigrams else None,
        "distinct_rationale_rate": (sum(len({s.rationale for s in e.samples}) for e in corpus.entries) / n_s
                                    if n_s else None),
    }


def subset(corpus: Corpus, keep: dict[str, list[int]], **meta: Any) -> Corpus:
    """A corpus holding, per question id, the samples whose ``k`` is listed in ``keep`` (order kept)."""
    entries = []
    for e in corpus.entries:
        ks = set(keep.get(e.example.id, ()))
        entries.append(CorpusEntry(e.example, [s for s in e.samples if s.k in ks]))
    return Corpus(entries, dict(corpus.meta, **meta))


def only_questions(corpus: Corpus, examples: Any) -> Corpus:
    """The corpus restricted to the questions of ``examples`` (in the corpus's order)."""
    ids = {ex.id for ex in examples}
    return Corpus([e for e in corpus.entries if e.example.id in ids], dict(corpus.meta))


# ------------------------------------------------------------------------- sampling C from a teacher

def request_key(teacher_id: str, prompt: str, params: SampleParams) -> str:
    """Cache key of one question's samples: hash of (teacher, prompt, decoding parameters)."""
    return stable_hash({"teacher": teacher_id, "prompt": prompt, **params.key()}, n=24)


def _to_sample(ex: Example, k: int, rec: dict[str, Any] | Completion) -> Sample:
    from .prompts import extract_answer, split_rationale
    if isinstance(rec, Completion):
        rec = {f: getattr(rec, f) for f in ("text", "logprob", "n_tokens", "label", "rationale", "raw", "finish_reason")}
    if rec.get("rationale") is not None:      # replayed: label and rationale as released
        return Sample(k=k, rationale=rec["rationale"], label=rec.get("label"), logprob=rec.get("logprob"),
                      n_tokens=rec.get("n_tokens"), raw=rec.get("raw") or rec["text"],
                      finish_reason=rec.get("finish_reason"))
    text = rec["text"]
    rationale, _ = split_rationale(ex, text)
    return Sample(k=k, rationale=rationale, label=extract_answer(ex, text), logprob=rec.get("logprob"),
                  n_tokens=rec.get("n_tokens"), raw=text, finish_reason=rec.get("finish_reason"))


def sample_corpus(teacher: Teacher, examples: list[Example], *, n: int = 4, temperature: float = 1.0,
                  max_new_tokens: int = 96, shots: int | None = None, mode: str = "cot", seed: int = 0,
                  split: str | None = None, cache: SampleCache | str | Path | None = "default",
                  progress: bool = True,
                  meta: dict[str, Any] | None = None) -> Corpus:
    """Sample ``n`` CoTs per example from ``teacher`` and return the corpus (few-shot mode: all samples kept).

    Cached samples are reused; missing ones are requested and appended to the cache as they return.
    ``cache="default"`` uses ``$COTLAB_CACHE/teacher/<teacher>.jsonl``; ``None`` disables caching.
    """
    from .prompts import build_prompt, exemplar_ids, prompt_set_hash
    if not examples:
        raise ValueError("no examples to sample")
    task = examples[0].task
    params = SampleParams(n=n, temperature=temperature, max_new_tokens=max_new_tokens)
    if teacher.cacheable and cache is not None and not isinstance(cache, SampleCache):
        path = cache_path_for(teacher.teacher_id, None if cache == "default" else cache)
        cache = SampleCache(path, teacher.teacher_id)
    store: dict[tuple[str, int], dict | Completion] = {}
    reqs: list[Request] = []
    keys: dict[str, Request] = {}
    for ex in examples:
        prompt = build_prompt(ex, shots=shots, mode=mode) if teacher.supports_prompts else ""
        key = request_key(teacher.teacher_id, prompt if teacher.supports_prompts else f"id:{ex.id}", params)
        ks = list(range(n))
        if isinstance(cache, SampleCache):
            ks = cache.missing(key, ks)
        r = Request(ex, prompt, key, ks)
        keys[ex.id] = r
        if ks:
            reqs.append(r)
    todo = sum(len(r.ks) for r in reqs)
    bar = None
    if progress and todo and teacher.cacheable:
        from tqdm.auto import tqdm
        bar = tqdm(total=todo, desc=f"sample {task} ({teacher.teacher_id})", unit="cot", file=sys.stderr)
    try:
        for r, k, comp in teacher.generate(reqs, params, seed):
            if isinstance(cache, SampleCache):
                cache.put(r.key, k, {"text": comp.text, "logprob": comp.logprob, "n_tokens": comp.n_tokens,
                                     "tokens_in": comp.tokens_in, "token_ids": comp.token_ids,
                                     "token_logprobs": (None if comp.token_logprobs is None else
                                                        [round(x, 5) for x in comp.token_logprobs]),
                                     "finish_reason": comp.finish_reason, "id": r.example.id})
            else:
                store[(r.key, k)] = comp
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    entries = []
    missing = 0
    for ex in examples:
        r = keys[ex.id]
        samples = []
        for k in range(n):
            rec = cache.get(r.key, k) if isinstance(cache, SampleCache) else store.get((r.key, k))
            if rec is None:
                missing += 1
                continue
            samples.append(_to_sample(ex, k, rec))
        entries.append(CorpusEntry(ex, samples))
    if missing and teacher.cacheable:
        raise TeacherError(f"{missing} samples are missing after sampling; rerun to resume")
    used_keys = {r.key for r in keys.values()}
    m = {"teacher": teacher.teacher_id, **{f"teacher_{k}": v for k, v in teacher.describe().items() if k != "teacher"},
         "task": task, "split": split, "n": n, "temperature": temperature, "max_new_tokens": max_new_tokens,
         "shots": shots, "mode": mode, "seed": seed, "filter": "none",
         "prompt_hash": prompt_set_hash(task, shots, mode) if teacher.supports_prompts else None,
         "exemplar_ids": sorted(exemplar_ids(task)),
         "usage": cache.usage(used_keys) if isinstance(cache, SampleCache) else None,
         "cache": str(cache.path) if isinstance(cache, SampleCache) else None}
    if not teacher.cacheable:
        m["samples_available"] = sum(len(e.samples) for e in entries)
        m["questions_without_samples"] = sum(1 for e in entries if not e.samples)
    m.update(meta or {})
    return Corpus(entries, m)


def first_n(corpus: Corpus, n: int) -> Corpus:
    """The corpus with the first ``n`` answered samples (by index ``k``) of every question (SCoTD Fig. 2,
    Table 3(b)). Samples without an answer cannot make a training pair, so they are skipped rather
    than counted."""
    keep = {e.example.id: sorted(s.k for s in e.samples if s.label is not None)[:n] for e in corpus.entries}
    return subset(corpus, keep, n=n, downsample=f"first-{n}-answered")


__all__ = ["sample_corpus", "request_key", "first_n", "only_questions", "Sample", "CorpusEntry", "Corpus", "save_corpus", "load_corpus", "corpus_stats",
           "PAPER_DISCARD_RATES", "unique_bigrams", "subset", "entry_to_row"]
