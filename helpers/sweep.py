"""The settings sweep: where, on a CPU, do the papers' effects show? (``results/sweep/``)

A *setting* is (task, teacher, student, training questions, budget); each is run for a list of
conditions and seeds under :mod:`helpers.protocol` (matched budget, full evaluation split unless the
grid says it is a screen, held-out slice of train). Every finished (setting, condition, seed) writes
one stamped record ``results/sweep/runs/<setting>__<condition>__s<seed>.json`` the moment it is done
(students and decodes are cached too), so a sweep cut off anywhere resumes where it stopped.
:func:`write_table` regenerates ``results/sweep/README.md`` from every record present — negative
results included — with, per setting, the SCoTD F1 comparison (CoT conditions vs label-only) and the
Wadhwa F7 ordering (CoT after ≥ CoT before > no CoT).

Grids are data (:data:`GRIDS`): a screen runs cheaply (fewer questions, one seed), a confirmation
runs the best settings at full dev size with 3 seeds.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import config
from .protocol import Budget, Protocol


@dataclass(frozen=True)
class Setting:
    name: str
    task: str
    teacher: str
    student: str = "smollm2-135m"
    n_train: int | None = 300
    n_samples: int = 5
    budget: Budget = Budget(steps=40)
    seeds: tuple[int, ...] = (0,)
    conditions: tuple[str, ...] = ("label_only", "greedy_cot", "scotd", "cot_after")
    eval_limit: int | None = None
    lora: bool = False
    max_seq_len: int = 256
    max_new_tokens: int = 96

    def protocol(self) -> Protocol:
        return Protocol(task=self.task, student=self.student, budget=self.budget, seeds=self.seeds,
                        n_train=self.n_train, eval_limit=self.eval_limit, lora=self.lora,
                        max_seq_len=self.max_seq_len, max_new_tokens=self.max_new_tokens, n_diag_train=32)


GRIDS: dict[str, list[Setting]] = {
    # course sizing on the coin flip: budget and data size
    "coinflip-screen": [
        Setting("coinflip-n300-s40", "coinflip", "scripted:0.1", n_train=300, budget=Budget(steps=40)),
        Setting("coinflip-n300-s80", "coinflip", "scripted:0.1", n_train=300, budget=Budget(steps=80)),
        Setting("coinflip-n100-s40", "coinflip", "scripted:0.1", n_train=100, budget=Budget(steps=40)),
    ],
    # how few steps does a CoT student need? (screen: greedy-CoT only, first 100 dev questions)
    "coinflip-budget": [
        Setting(f"coinflip-n300-s{n}-screen", "coinflip", "scripted:0.1", n_train=300, budget=Budget(steps=n),
                conditions=("greedy_cot",), eval_limit=100) for n in (12, 24)
    ],
    # the papers' task at CPU scale (QuaRel + replayed GPT-3, 5 CoTs/question)
    "quarel-screen": [
        Setting("quarel-gpt3-n500-s200", "quarel", "replay:mario_gpt3", n_train=500,
                budget=Budget(steps=200, lr=1e-4), max_seq_len=320),
        Setting("quarel-gpt3-all-s400", "quarel", "replay:mario_gpt3", n_train=None,
                budget=Budget(steps=400, lr=1e-4), max_seq_len=320),
    ],
}


def sweep_dir() -> Path:
    p = config.results_dir() / "sweep"
    (p / "runs").mkdir(parents=True, exist_ok=True)
    return p


def _corpus(s: Setting, train: Sequence[Any], heldout: Sequence[Any]) -> Any:
    from .teacher import teacher_from_name
    from .corpus import sample_corpus
    exs = list(train) + list(heldout)
    t = teacher_from_name(s.teacher, task=s.task, split="train")
    try:
        return sample_corpus(t, exs, n=s.n_samples, progress=False, meta={"split": "train"})
    finally:
        t.close()


def run_setting(s: Setting, *, log=print) -> list[dict[str, Any]]:
    """Run (or reuse) every condition × seed of ``s``; returns the per-seed records."""
    from . import protocol as P
    from .corpus import only_questions
    from .provenance import stamp
    from .results import write_record
    from .targets import pairs_from_corpus
    proto = s.protocol()
    train, heldout = P.split_train(proto)
    dev = P.eval_examples(proto)
    corpus = _corpus(s, train, heldout)
    train_corpus = only_questions(corpus, train)
    def record(cond: str, seed: int) -> Path:
        return sweep_dir() / "runs" / f"{s.name}__{cond}__s{seed}.json"

    todo = [(cond, seed) for cond in s.conditions for seed in s.seeds if not record(cond, seed).exists()]
    # every student of the setting trained and decoded $COTLAB_WORKERS at a time, each into the cache the
    # moment it is done (a sweep cut off there resumes from the cache); then scored and recorded here
    units = {(cond, seed): P.unit(proto, pairs_from_corpus(train_corpus, cond, supervised=True, seed=seed), seed=seed,
                                  info={"condition": cond, "setting": "supervised", "sweep": s.name}, evaluate=dev,
                                  train=train, heldout=heldout) for cond, seed in todo}
    for (cond, seed), (student, (preds, *_)) in P.run_units(proto, units, progress=False).items():
        row = P.score(proto, student, preds, dev, condition=cond, seed=seed, train=train, heldout=heldout,
                      pairs_for=P.answer_pairs(corpus, cond))
        rec = stamp({"setting": asdict(s), "setting_name": s.name, **row}, profile={"name": "sweep"},
                    models={"student": s.student, "teacher": s.teacher},
                    data={"task": s.task, "n_train": len(train), "n_eval": len(dev)}, seed=seed)
        write_record(record(cond, seed), rec)
        log(f"{s.name} {cond} seed {seed}: {row['accuracy']:.3f} "
            f"(train {row.get('train_accuracy')}, steps {row['train_steps']}, trained in {row.get('train_seconds')}s)")
    out = [json.loads(record(cond, seed).read_text()) for cond in s.conditions for seed in s.seeds]
    write_table()
    return out


def load_runs() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((sweep_dir() / "runs").glob("*.json"))]


class _Pred:
    def __init__(self, d):
        self.id, self.gold, self.pred, self.correct = d["id"], d["gold"], d["pred"], d["correct"]


def write_table() -> Path:
    """``results/sweep/README.md`` (+ ``summary.json``) from every run record present."""
    from .protocol import summarize
    from .results import markdown_table, write_record
    runs = load_runs()
    by_setting: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        r = dict(r, preds=[_Pred(d) for d in r["preds"]])
        by_setting.setdefault(r["setting_name"], []).append(r)
    rows = []
    for name, rs in by_setting.items():
        try:
            summ = summarize(rs, baseline="label_only")
        except ValueError as e:
            summ = [{"condition": "?", "error": str(e)}]
        for x in summ:
            x["setting"] = name
            x["task"] = rs[0]["setting"]["task"]
            x["teacher"] = rs[0]["setting"]["teacher"]
            x["steps"] = rs[0]["setting"]["budget"]["steps"]
            x["n_train"] = rs[0]["provenance"]["data"].get("n_train")
        rows.extend(summ)
    cols = ["setting", "task", "teacher", "n_train", "steps", "condition", "seeds", "per_seed", "accuracy", "ci_low",
            "ci_high", "diff", "p_value", "train_accuracy", "heldout_accuracy", "rationale_agreement", "n"]
    d = sweep_dir()
    write_record(d / "summary.json", {"rows": rows})
    text = ("# Settings sweep (generated by `helpers.sweep.write_table`; do not edit)\n\n"
            "Every run under the protocol (matched optimizer steps, supervised setting, greedy decoding); "
            "`diff`/`p_value`: against label-only of the same setting (paired permutation test over questions, "
            "seed-averaged). Accuracies in %. Negative results stay in the table.\n\n" + markdown_table(rows, cols))
    (d / "README.md").write_text(text)
    return d / "README.md"
