"""Experiment orchestration for the SCoTD notebooks (00–04): one call per condition, one row per result.

A notebook starts with :func:`start` (profile + overrides → a :class:`Run`), builds corpora with
:func:`replay_corpus` / :func:`live_corpus`, gets results rows from :func:`prompting_row`,
:func:`run_condition` and :func:`evaluate_student`, saves them with :meth:`Run.save_table` (JSON +
CSV, stamped with profile, models, data, seed and git commit) and ends with :meth:`Run.finish`,
which checks that every promised figure was written.

Everything expensive is cached, so re-running a notebook recomputes nothing that did not change:
teacher samples in :class:`helpers.sample_cache.SampleCache`, students by
:func:`helpers.train.train_student` (key: model, pairs, hyper-parameters, seed) and decodes here
(:func:`decode_cached`, key: student, examples, decoding parameters).

A results row holds the condition's keys (``task``, ``setting``, ``condition``, ``decode``, …) and
``accuracy``, ``ci_low``, ``ci_high`` (bootstrap 95%), ``n``, ``no_answer_rate`` and ``paper`` (the
paper's number for the same cell, in %, or None).
"""
from __future__ import annotations

import csv
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import config
from .profiles import Profile, get_profile
from .provenance import stable_hash, stamp, write_json

log = logging.getLogger(__name__)
# tqdm.auto in a kernel without ipywidgets falls back to text bars (fine under papermill): no warning
warnings.filterwarnings("ignore", message="IProgress not found")

DECODE_CACHE_VERSION = 1
#: QuaRel train questions with the 5 GPT-3 samples of the MaRio release (SCoTD's own 30× corpus is not public).
GPT3_QUAREL = "mario_gpt3"
PALM_CSQA = "palm_distilling_step_by_step"
#: Fraction correct by guessing, per task (uniform over the options).
CHANCE = {"quarel": 1 / 2, "csqa": 1 / 5, "obqa": 1 / 4, "imdb": 1 / 2, "sst2": 1 / 2, "anli": 1 / 3}


# ------------------------------------------------------------------------------------------ runs

@dataclass
class Run:
    """One notebook execution: its profile, seed, and where its records go."""
    notebook: str
    profile: Profile
    seed: int
    started: float = field(default_factory=time.time)
    models: dict[str, str] = field(default_factory=dict)

    @property
    def results_dir(self) -> Path:
        p = config.results_dir() / self.profile.name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def _models(self) -> dict[str, str]:
        from .models import model_id
        out = {"student": model_id(self.profile.student)}
        if self.profile.teacher_live != "endpoint":
            out["teacher_live"] = model_id(self.profile.teacher_live)
        else:
            out["teacher_live"] = f"endpoint:{os.environ.get('COTLAB_TEACHER_URL', '?')}"
        out.update(self.models)
        return out

    def save_table(self, name: str, rows: Sequence[dict[str, Any]], *, title: str, columns: Sequence[str],
                   description: str = "", notes: str = "", data: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Path:
        """Write ``<results>/<profile>/<name>.json`` (rows + provenance) and ``<name>.csv``."""
        rec = {"notebook": self.notebook, "title": title, "description": description, "notes": notes,
               "columns": list(columns), "rows": [dict(r) for r in rows], **(extra or {})}
        rec = stamp(rec, profile=self.profile, models=self._models(), data=data, seed=self.seed)
        path = write_json(self.results_dir / f"{name}.json", rec)
        keys = list(dict.fromkeys(k for r in rows for k in r))
        tmp = self.results_dir / f".{name}.csv.tmp"
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
        tmp.replace(self.results_dir / f"{name}.csv")
        return path

    def save(self, name: str, obj: dict[str, Any], data: dict[str, Any] | None = None) -> Path:
        """Write any stamped record to ``<results>/<profile>/<name>.json``."""
        rec = stamp({"notebook": self.notebook, **obj}, profile=self.profile, models=self._models(),
                    data=data, seed=self.seed)
        return write_json(self.results_dir / f"{name}.json", rec)

    def finish(self, figures: Iterable[str]) -> list[Path]:
        """Check every promised figure was written by this run; print where things went."""
        from . import plots
        paths = plots.assert_written(list(figures), since=self.started)
        print(f"{self.notebook} [{self.profile.name}] done in {time.time() - self.started:.0f}s: "
              f"{len(paths)} figure files in {config.figures_dir()}, results in {self.results_dir}")
        return paths


def start(notebook: str, profile: str = "course", *, seed: int | None = None, **overrides: Any) -> Run:
    """Begin a notebook run: resolve the profile with its non-None overrides, fix the seeds, and apply
    ``$COTLAB_TORCH_THREADS`` (torch intra-op threads; unset = torch's default, all cores)."""
    prof = get_profile(profile, **overrides)
    seed = prof.seeds[0] if seed is None else int(seed)
    threads = os.environ.get("COTLAB_TORCH_THREADS")
    if threads:  # on a shared / oversubscribed CPU, 1 thread per process avoids OpenMP spin contention
        import torch
        torch.set_num_threads(int(threads))
    from transformers import set_seed
    set_seed(seed)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return Run(notebook, prof, seed)


def profile_table(profile: Profile) -> "Any":
    """The profile's settings as a one-column DataFrame."""
    import pandas as pd
    d = profile.to_dict()
    return pd.DataFrame({"value": [str(v) for v in d.values()]}, index=list(d.keys()))


# ---------------------------------------------------------------------------------------- scoring

def score(preds: Sequence[Any], *, seed: int = 0, **keys: Any) -> dict[str, Any]:
    """A results row from predictions (objects with ``correct`` and ``pred``): accuracy with a
    bootstrap 95% CI, ``n`` and the no-answer rate, plus the given ``keys``."""
    from .evaluate import metrics
    return {**keys, **metrics(list(preds), seed=seed)}


def paired(preds_a: Sequence[Any], preds_b: Sequence[Any]) -> float:
    """p-value of a paired test (McNemar) between two conditions decoded on the same examples."""
    from .evaluate import mcnemar
    ids_a, ids_b = [p.id for p in preds_a], [p.id for p in preds_b]
    if ids_a != ids_b:
        raise ValueError("paired test needs predictions on the same examples in the same order")
    return mcnemar([p.correct for p in preds_a], [p.correct for p in preds_b])["p_value"]


# ---------------------------------------------------------------------------------------- corpora

def dev_examples(task: str, n: int | None, split: str = "dev") -> list[Any]:
    """The first ``n`` dev examples (all when None), without the task's prompt exemplars."""
    from .prompts import exemplar_ids
    from .tasks import load_task
    skip = exemplar_ids(task)
    exs = [ex for ex in load_task(task, split) if ex.id not in skip]
    return exs[:n] if n is not None else exs


def replay_corpus(task: str, source: str, *, split: str = "train", limit: int | None = None,
                  n: int | None = None) -> Any:
    """A released large-teacher corpus for the first ``limit`` questions of ``task``/``split``, served
    through :class:`helpers.teacher.ReplayTeacher` (``n``: samples per question, default all released)."""
    from .tasks import load_task
    from .teacher import ReplayTeacher, sample_corpus
    examples = load_task(task, split)
    teacher = ReplayTeacher(source, task, split, examples=examples)
    if limit is not None:
        examples = examples[:limit]
    n = n or max(teacher.available(ex.id) for ex in examples)
    return sample_corpus(teacher, examples, n=n, cache=None, progress=False,
                         meta={"split": split, "limit": limit, "source": source})


def make_teacher(name: str, batch_size: int = 4) -> Any:
    """A live teacher: a registry model / local dir, or ``"endpoint"`` (``$COTLAB_TEACHER_URL``)."""
    from .teacher import HTTPTeacher, LocalTeacher
    if name == "endpoint":
        url = os.environ.get("COTLAB_TEACHER_URL")
        if not url:
            raise RuntimeError("profile teacher_live='endpoint' needs COTLAB_TEACHER_URL (an OpenAI-compatible "
                               "base URL, e.g. http://127.0.0.1:8000/v1) and optionally COTLAB_TEACHER_MODEL")
        return HTTPTeacher(url, model=os.environ.get("COTLAB_TEACHER_MODEL"))
    return LocalTeacher(name, batch_size=batch_size)


def live_corpus(profile: Profile, task: str, *, split: str = "train", n_questions: int | None = None,
                teacher: Any = None, seed: int = 0, shots: int | None = None) -> Any:
    """Sample ``profile.n_samples`` CoTs per question from the profile's live teacher (cached, resumable)."""
    from .tasks import load_task
    from .teacher import sample_corpus
    n_q = profile.n_live_questions if n_questions is None else n_questions
    examples = dev_examples(task, n_q, split) if split != "train" else load_task(task, split, limit=n_q)
    own = teacher is None
    teacher = teacher or make_teacher(profile.teacher_live)
    try:
        return sample_corpus(teacher, examples, n=profile.n_samples, temperature=profile.temperature,
                             max_new_tokens=profile.max_new_tokens, shots=shots, seed=seed,
                             meta={"split": split})
    finally:
        if own:
            teacher.close()


def first_n(corpus: Any, n: int) -> Any:
    """The corpus with the first ``n`` answered samples (by index ``k``) of every question (SCoTD Fig. 2,
    Table 3(b)). Samples without an answer cannot make a training pair, so they are skipped here rather
    than counted; ``n=1`` is then exactly the Greedy-CoT choice of :mod:`helpers.targets`."""
    from .corpus import subset
    keep = {e.example.id: sorted(s.k for s in e.samples if s.label is not None)[:n] for e in corpus.entries}
    return subset(corpus, keep, n=n, downsample=f"first-{n}-answered")


# ------------------------------------------------------------------------------------- prompting

PROMPT_MODES = ("no_cot", "greedy", "sc")


def prompting_row(profile: Profile, model: str, examples: Sequence[Any], mode: str, *, teacher: Any = None,
                  shots: int | None = None, seed: int = 0) -> tuple[dict[str, Any], Any]:
    """Few-shot prompting of an un-distilled model (SCoTD Table 2(a)): ``no_cot`` (exemplars with
    labels only, greedy), ``greedy`` (CoT exemplars, greedy CoT) or ``sc`` (CoT exemplars,
    ``profile.sc_k`` samples at ``profile.sc_temperature``, majority vote). Samples are cached.
    Returns ``(row, corpus)``."""
    from .decode import Prediction, majority_vote
    from .teacher import sample_corpus
    if mode not in PROMPT_MODES:
        raise ValueError(f"mode must be one of {PROMPT_MODES}, got {mode!r}")
    own = teacher is None
    teacher = teacher or make_teacher(model)
    kw = dict(n=1, temperature=0.0, max_new_tokens=profile.max_new_tokens, mode="cot")
    if mode == "no_cot":
        kw.update(mode="direct", max_new_tokens=16)
    elif mode == "sc":
        kw.update(n=profile.prompt_sc_k or profile.sc_k, temperature=profile.sc_temperature)
    try:
        corpus = sample_corpus(teacher, list(examples), shots=shots, seed=seed, **kw)
    finally:
        if own:
            teacher.close()
    preds = []
    for e in corpus.entries:
        pred, votes = majority_vote([s.label for s in e.samples])
        preds.append(Prediction(e.example.id, e.example.answer, pred, [s.raw for s in e.samples], votes))
    row = score(preds, seed=seed, task=examples[0].task, model=model, mode=mode, shots=shots,
                k=kw["n"], temperature=kw["temperature"])
    return row, corpus


# ------------------------------------------------------------------------------------ distillation

def distill(profile: Profile, corpus: Any, condition: str, setting: str, *, seed: int = 0,
            student: str | None = None, progress: bool = True) -> Any:
    """Train (or reuse) the profile's student on ``corpus`` under ``condition`` (``label_only`` |
    ``greedy_cot`` | ``scotd`` | …) in ``setting`` ``supervised`` (gold labels, correct CoTs only)
    or ``few_shot`` (teacher labels, all CoTs). Returns a :class:`helpers.train.Student`."""
    from .targets import pairs_from_corpus
    from .train import TrainConfig, train_student
    if setting not in ("supervised", "few_shot"):
        raise ValueError(f"setting must be 'supervised' or 'few_shot', got {setting!r}")
    pairs = pairs_from_corpus(corpus, condition, supervised=setting == "supervised", seed=seed)
    cfg = TrainConfig.from_profile(profile, seed=seed)
    info = {"task": corpus.meta.get("task"), "teacher": corpus.meta.get("teacher"), "condition": condition,
            "setting": setting, "n_questions": len(corpus.entries), "profile": profile.name}
    return train_student(student or profile.student, pairs, cfg, info=info, progress=progress)


def decode_cached(student: Any, examples: Sequence[Any], method: str, profile: Profile, *, seed: int = 0,
                  batch_size: int = 16, progress: bool = True) -> list[Any]:
    """Decode ``examples`` with a trained student (``greedy`` or ``sc`` with the profile's k and T);
    predictions are cached under ``$COTLAB_CACHE/decodes/`` by (student, examples, decoding params)."""
    from .decode import Prediction, decode
    k = profile.sc_k if method == "sc" else 1
    params = {"method": method, "k": k, "temperature": profile.sc_temperature if method == "sc" else None,
              "max_new_tokens": profile.decode_max_new_tokens, "seed": seed, "batch_size": batch_size}
    # Self-consistency votes on the extracted answers only, so each sample stops as soon as it has one
    # (a sampled chain that runs on after its answer would otherwise hold its whole batch to
    # max_new_tokens). Greedy decodes keep the full text (it ends at EOS).
    stop_at_answer = method == "sc"
    if stop_at_answer:
        params["stop_at_answer"] = True
    key = stable_hash({"student": student.key, "ids": [ex.id for ex in examples], **params,
                       "v": DECODE_CACHE_VERSION}, n=24)
    path = config.cache_dir() / "decodes" / f"{key}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return [Prediction(**{k_: v for k_, v in d.items() if k_ != "correct"}) for d in data["predictions"]]
    tok, model = student.load()
    preds = decode(model, tok, examples, method=method, k=k,
                   temperature=profile.sc_temperature, max_new_tokens=profile.decode_max_new_tokens,
                   batch_size=batch_size, seed=seed, stop_at_answer=stop_at_answer, progress=progress)
    del model
    write_json(path, {"student": student.key, "params": params, "predictions": [p.to_dict() for p in preds]})
    return preds


def evaluate_student(profile: Profile, student: Any, examples: Sequence[Any], method: str, *, seed: int = 0,
                     **keys: Any) -> tuple[dict[str, Any], list[Any]]:
    """Decode and score a trained student; returns ``(row, predictions)``."""
    preds = decode_cached(student, examples, method, profile, seed=seed)
    row = score(preds, seed=seed, decode=method, student_key=student.key,
                train_pairs=student.meta.get("n_pairs"), train_seconds=student.meta.get("train_seconds"),
                **keys)
    return row, preds


def run_condition(profile: Profile, corpus: Any, examples: Sequence[Any], *, condition: str, setting: str,
                  decode: str, seed: int = 0, paper: float | None = None,
                  **keys: Any) -> tuple[dict[str, Any], list[Any]]:
    """Distill one condition and evaluate it: SCoTD Table 2(b) / Table 3 cell. Returns ``(row, preds)``."""
    student = distill(profile, corpus, condition, setting, seed=seed)
    row, preds = evaluate_student(profile, student, examples, decode, seed=seed, task=corpus.meta.get("task"),
                                  setting=setting, condition=condition, **keys)
    row["paper"] = paper
    return row, preds


# --------------------------------------------------------------------------------- table builders

TABLE2B_SETTINGS: tuple[tuple[str, str], ...] = (("supervised", "greedy"), ("few_shot", "sc"))
TABLE2B_CONDITIONS: tuple[str, ...] = ("label_only", "greedy_cot", "scotd")


def prompting_table(profile: Profile, examples: Sequence[Any], models: dict[str, Any], *,
                    shots: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """SCoTD Table 2(a): every model (``{role: teacher object or model name}``) × every prompting mode."""
    rows = []
    for role, model in models.items():
        teacher = model if not isinstance(model, str) else make_teacher(model)
        name = getattr(teacher, "name", None) or (model if isinstance(model, str) else teacher.teacher_id)
        try:
            for mode in PROMPT_MODES:
                row, _ = prompting_row(profile, name, examples, mode, teacher=teacher, shots=shots, seed=seed)
                row["role"] = role
                row["paper"] = paper_value("2a", task=row["task"], role=role, mode=mode)
                rows.append(row)
        finally:
            if isinstance(model, str):
                teacher.close()
    return rows


def corpus_table(corpora: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`helpers.corpus.corpus_stats` of each corpus, one row each (``corpus`` = its display name)."""
    from .corpus import corpus_stats
    return [{"corpus": name, **corpus_stats(c)} for name, c in corpora.items()]


def rationale_lengths(corpora: dict[str, Any]) -> dict[str, list[int]]:
    """Rationale lengths in words, per corpus (for the statistics figure)."""
    return {name: [len(s.rationale.split()) for e in c.entries for s in e.samples] for name, c in corpora.items()}


def paired_table(preds: dict[tuple[str, str], list[Any]], comparisons: Sequence[tuple[str, str]]) -> Any:
    """McNemar tests between conditions of the same setting: one row per (setting, a vs b)."""
    import pandas as pd
    rows = []
    for setting in dict.fromkeys(s for s, _ in preds):
        for a, b in comparisons:
            if (setting, a) in preds and (setting, b) in preds:
                pa, pb = preds[setting, a], preds[setting, b]
                acc_a = sum(p.correct for p in pa) / len(pa)
                acc_b = sum(p.correct for p in pb) / len(pb)
                rows.append({"setting": setting, "comparison": f"{a} vs {b}",
                             "difference (points)": round(100 * (acc_a - acc_b), 1), "p_value": paired(pa, pb),
                             "only a right": sum(x.correct and not y.correct for x, y in zip(pa, pb)),
                             "only b right": sum(y.correct and not x.correct for x, y in zip(pa, pb))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ display

def frame(rows: Sequence[dict[str, Any]], keys: Sequence[str], *, metric: str | None = "accuracy",
          pct: Sequence[str] = ()) -> Any:
    """Rows as a DataFrame: the key columns, then accuracy % with its 95% CI, paper %, n, no-answer %."""
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


def exemplar_table(task: str) -> Any:
    """The prompt set P of ``task``: id, question, gold answer and the hand-written CoT."""
    import pandas as pd
    from .prompts import exemplars, label_to_display
    return pd.DataFrame([{"id": ex.id, "question": ex.text, "answer": label_to_display(ex, e.answer),
                          "chain of thought": e.rationale} for ex, e in exemplars(task)])


def samples_table(corpus: Any, n_questions: int = 2) -> Any:
    """The samples of the first questions: k, parsed answer, per-token log-likelihood, rationale."""
    import pandas as pd
    rows = []
    for e in corpus.entries[:n_questions]:
        for s in e.samples:
            rows.append({"question": e.example.text[:80], "gold": e.example.answer, "k": s.k, "answer": s.label,
                         "✓": s.label == e.example.answer,
                         "logprob/token": None if s.mean_logprob is None else round(s.mean_logprob, 3),
                         "rationale": s.rationale})
    return pd.DataFrame(rows)


def gallery(corpora: dict[str, Any], per_corpus: int = 2, max_chars: int = 300) -> Any:
    """A Table-1-style gallery: per corpus, the first questions and each CoT the teacher wrote."""
    import pandas as pd
    from .prompts import format_choices
    rows = []
    for name, c in corpora.items():
        for e in c.entries[:per_corpus]:
            ex = e.example
            q = ex.text + ("  " + format_choices(ex) if ex.is_mc else "")
            for s in e.samples[:3]:
                rows.append({"corpus": name, "question": q[:max_chars], "gold": ex.answer, "k": s.k,
                             "teacher answer": s.label, "✓": s.label == ex.answer, "CoT": s.rationale[:max_chars]})
    return pd.DataFrame(rows)


def student_gallery(preds: dict[tuple[str, str], list[Any]], examples: Sequence[Any], *, setting: str,
                    n: int = 3, max_chars: int = 300) -> Any:
    """The students' generations on the first ``n`` dev questions (one row per question × condition)."""
    import pandas as pd
    from .prompts import format_choices
    rows = []
    for ex in list(examples)[:n]:
        for (s, cond), ps in preds.items():
            if s != setting:
                continue
            p = next(p for p in ps if p.id == ex.id)
            rows.append({"question": (ex.text + "  " + format_choices(ex))[:max_chars], "gold": ex.answer,
                         "student": cond, "answer": p.pred, "✓": p.correct, "generation": p.text[:max_chars]})
    return pd.DataFrame(rows)


def _pts(x: float) -> str:
    return f"{100 * x:.1f}%"


def describe_prompting(rows: Sequence[dict[str, Any]], chance: float) -> str:
    """One sentence per model: best prompting mode, and whether its CI clears chance."""
    out = []
    for role in dict.fromkeys(r["role"] for r in rows):
        rs = [r for r in rows if r["role"] == role]
        best = max(rs, key=lambda r: r["accuracy"])
        above = best["ci_low"] > chance
        out.append(f"{role} ({best['model']}): best mode {best['mode']} at {_pts(best['accuracy'])} "
                   f"(95% CI {_pts(best['ci_low'])}–{_pts(best['ci_high'])}), "
                   f"{'above' if above else 'not distinguishable from'} chance ({_pts(chance)}).")
    return "\n".join(out)


def describe_distillation(rows: Sequence[dict[str, Any]], tests: Any, chance: float, alpha: float = 0.05) -> str:
    """Data-driven summary of Table 2(b): the best condition per setting and the paired tests."""
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        rs = [r for r in rows if r["setting"] == setting]
        best = max(rs, key=lambda r: r["accuracy"])
        out.append(f"{setting}: best {best['condition']} at {_pts(best['accuracy'])} "
                   f"(CI {_pts(best['ci_low'])}–{_pts(best['ci_high'])}); conditions above chance: "
                   f"{[r['condition'] for r in rs if r['ci_low'] > chance] or 'none'}.")
    for t in tests.to_dict("records"):
        sig = "significant" if t["p_value"] < alpha else "not significant"
        out.append(f"  {t['setting']}: {t['comparison']}: {t['difference (points)']:+.1f} points, "
                   f"McNemar p={t['p_value']:.3f} ({sig} at {alpha}).")
    return "\n".join(out)


def describe_self_consistency(rows_a: Sequence[dict[str, Any]], rows_b: Sequence[dict[str, Any]]) -> str:
    """Self-consistency gain (SC − greedy) per setting (Table 3a) and per N (Table 3b)."""
    out = []
    for label, rows, key in (("Table 3(a)", rows_a, "setting"), ("Table 3(b)", rows_b, "n_rationales")):
        for v in dict.fromkeys(r[key] for r in rows):
            g = next((r for r in rows if r[key] == v and r["decode"] == "greedy"), None)
            s = next((r for r in rows if r[key] == v and r["decode"] == "sc"), None)
            if g and s:
                out.append(f"{label} {key}={v}: greedy {_pts(g['accuracy'])}, SC {_pts(s['accuracy'])} "
                           f"({100 * (s['accuracy'] - g['accuracy']):+.1f} points)")
    return "\n".join(out)


# --------------------------------------------------------------------------- overview (notebook 00)

def data_table(profile: Profile) -> Any:
    """Every task split and released corpus in the data directory with its row count, and how many
    rows this profile's notebooks 01–04 use."""
    import pandas as pd
    from . import rationales
    from .tasks import TASKS, available_splits, load_task
    used = {("quarel", "train"): profile.n_train, ("quarel", "dev"): profile.n_dev,
            ("csqa", "train"): profile.n_train}
    rows = []
    for name, spec in TASKS.items():
        for split in available_splits(name):
            n = len(load_task(name, split))
            u = used.get((name, split), "–")
            rows.append({"kind": "task", "name": name, "split": split, "rows": n,
                         "used here": (n if u is None else min(n, u)) if u != "–" else "–"})
    for corpus, task, split in rationales.available():
        recs = rationales.load_rationales(corpus, task, split)
        n_r, n_ok = rationales.count(recs)
        u = used.get((task, split), "–") if corpus in (GPT3_QUAREL, PALM_CSQA) else "–"
        rows.append({"kind": "rationales", "name": f"{corpus}", "split": f"{task}/{split}", "rows": n_r,
                     "used here": (len(recs) if u is None else min(len(recs), u)) if u != "–" else "–",
                     "teacher correct %": round(100 * n_ok / n_r, 1) if n_r else None})
    return pd.DataFrame(rows).set_index(["kind", "name", "split"])


def models_table(profile: Profile) -> Any:
    """The model registry with each model's role in this profile and whether it is installed."""
    import pandas as pd
    from .models import REGISTRY, converted_dir, installed
    roles = {profile.student: "student", profile.teacher_live: "live teacher"}
    if profile.teacher_live == profile.student:
        roles[profile.student] = "student + live teacher"
    rows = []
    for s in REGISTRY.values():
        rows.append({"name": s.name, "kind": s.kind, "role here": roles.get(s.name, "–"),
                     "installed": installed(s.name),
                     "converted": s.kind == "causal" and (converted_dir(s.name) / "cotlab_model.json").exists(),
                     "stands in for": s.stands_in_for, "hub id": s.hub_id, "license": s.license})
    return pd.DataFrame(rows).set_index("name")


def paper_map(notebook_dir: Path | None = None) -> Any:
    """notebook ↔ paper result, read from each notebook's ``metadata.cotlab`` (title, reproduces, figures):
    the jupytext header of ``notebooks/NN_*.py`` (see :func:`helpers.runner.discover`)."""
    import pandas as pd

    from .runner import discover, read_notebook
    nb_dir = Path(notebook_dir or config.REPO_ROOT / "notebooks")
    rows = []
    for p in discover(None, nb_dir):
        meta = read_notebook(p).metadata.get("cotlab", {})
        rows.append({"notebook": p.stem, "title": meta.get("title", ""),
                     "reproduces": "; ".join(meta.get("reproduces", [])),
                     "figures": ", ".join(meta.get("figures", []))})
    return pd.DataFrame(rows).set_index("notebook")


# ------------------------------------------------------------------------------- paper's numbers

def _paper_rows(table: str, task: str, **match: Any) -> list[dict[str, Any]]:
    from . import paper_numbers as pn
    rows = [r for r in pn.PAPER_NUMBERS if r["paper"] == pn.SCOTD and r["table"] == table and r["task"] == task]
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


_TABLES = {"2a": "SCoTD Table 2(a)", "2b": "SCoTD Table 2(b)", "3a": "SCoTD Table 3(a)", "3b": "SCoTD Table 3(b)"}
_PAPER_MODEL = {"teacher": "GPT3-175B", "student": "OPT-1.3B"}


def paper_value(table: str, *, task: str, **keys: Any) -> float | None:
    """The SCoTD paper's number (%) for one cell (from :mod:`helpers.paper_numbers`), or None where the
    paper has no such cell (e.g. Table 3(b) at N=2).

    Keys: ``2a`` role (teacher|student), mode (no_cot|greedy|sc); ``2b`` setting (supervised|few_shot),
    condition; ``3a`` setting, decode (greedy|sc); ``3b`` n_rationales, decode.
    """
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
    """Table 3(b) as ``{decode: {n_rationales: accuracy %}}`` for the rationales-curve figure."""
    if table != "3b":
        raise KeyError("only Table 3(b) is a curve")
    out: dict[str, dict[int, float]] = {}
    for r in _paper_rows(_TABLES["3b"], task, condition="scotd"):
        out.setdefault(r["decode"], {})[int(r["variant"].split("=")[1])] = float(r["value"])
    return out


def data_info(corpus: Any = None, dev: Sequence[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``data`` block of a results stamp: which corpus (teacher, task, questions, CoTs) and which
    dev questions (task, count, hash of their ids)."""
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
