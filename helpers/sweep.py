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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from . import config
from .profiles import CREATURES, PROFILES
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
    n_heldout: int = 64
    n_diag_train: int = 32
    # further evaluation splits decoded and recorded beside the reported one (``splits`` in each record): the
    # creatures task's controls, dev_seen (trained facts, new wording) and dev_new (creatures never trained on)
    extra_splits: tuple[str, ...] = ()
    # Wadhwa Table 3's key-token conditions (``key_tokens@<variant>``, :func:`key_words`): integrated gradients of
    # the setting's CoT-before student at its first seed over each training rationale, ``ig_steps`` interpolation
    # steps ``ig_internal_batch`` at a time, the ``top_k`` words kept (the defaults: profiles.Wadhwa's)
    top_k: int = 15
    ig_steps: int = 64
    ig_internal_batch: int = 8

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> "Setting":
        """The setting a run record's ``setting`` field (``asdict``) describes."""
        return cls(**{**d, "budget": Budget(**d["budget"]), "seeds": tuple(d["seeds"]),
                      "conditions": tuple(d["conditions"]), "extra_splits": tuple(d.get("extra_splits", ()))})

    def protocol(self) -> Protocol:
        return Protocol.from_block(self, student=self.student, seeds=self.seeds)


_CSQA = Setting("csqa-palm-n500-s200", "csqa", "replay:palm_distilling_step_by_step", n_train=500, n_samples=1,
                budget=Budget(steps=200, lr=1e-4), conditions=("label_only", "greedy_cot", "cot_after"),
                max_seq_len=320)

# notebook 12's IG settings on `course` (the course profile's Wadhwa block)
WADHWA_COURSE = PROFILES["course"].wadhwa
# Wadhwa Table 3's variants, in the table's order (analysis.key_token_variants)
KEY_TOKEN_VARIANTS = ("ig_top", "ig_top_shuffled", "glove_neighbours", "label_neighbours", "human")

# the course's block for notebooks 10–12 (profiles.CREATURES) as a setting: its students are the course's

GRID_CREATURES = Setting("creatures", CREATURES.task, CREATURES.teacher, n_train=CREATURES.n_train,
                         n_samples=CREATURES.n_samples, budget=CREATURES.budget, seeds=(0,),
                         conditions=("label_only", "cot_after", "greedy_cot"), n_heldout=CREATURES.n_heldout,
                         n_diag_train=CREATURES.n_diag_train, max_seq_len=CREATURES.max_seq_len,
                         max_new_tokens=CREATURES.max_new_tokens, extra_splits=("dev_seen", "dev_new"))

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
    # the confirmation of the course setting: notebook 03/10's protocol exactly (its students and decodes
    # come from the cache when those notebooks ran), 3 seeds, all 200 dev questions
    "coinflip-confirm": [
        Setting("coinflip-n300-s40-course", "coinflip", "scripted:0.1", n_train=300, budget=Budget(steps=40),
                seeds=(0, 1, 2), n_heldout=32, n_diag_train=16),
    ],
    # convergence on the coin flip (the convergence issue): the course setting trained by the rule "learned" —
    # every 20 steps the held-out slice (32 training questions) and 16 training questions are decoded; stop
    # after 3 evaluations after the warm-up in which neither improved by 0.02, under a cap of 400 steps — with
    # a learning curve (answer losses too). Seed 2: the seed whose Greedy-CoT student stalled at the course's
    # fixed 40 steps. Cheap students first (answer-first decodes stop at the answer). (A first attempt that
    # evaluated 96 questions every 10 steps spent ≈ 4 of every 5 minutes decoding a CoT student's evaluations,
    # and counted patience from step 10: label-only stopped at step 60, 20 steps after its warm-up.)
    "coinflip-converge": [
        Setting("coinflip-n300-converge", "coinflip", "scripted:0.1", n_train=300,
                budget=Budget(steps=400, eval_every=20, patience=3, threshold=0.02, probe=True, rule="learned"),
                seeds=(2,), conditions=("label_only", "cot_after", "greedy_cot"), n_heldout=32, n_diag_train=16),
    ],
    # does label-only ever fit its training questions on the coin flip? The same setting for label-only with a
    # patience no evaluation can exhaust before the 200-step cap (5.3 epochs): the whole learning curve
    "coinflip-label-only-curve": [
        Setting("coinflip-n300-label-only-curve", "coinflip", "scripted:0.1", n_train=300,
                budget=Budget(steps=200, eval_every=20, patience=25, threshold=0.02, probe=True, rule="learned"),
                seeds=(2,), conditions=("label_only",), n_heldout=64, n_diag_train=32),
    ],
    # F1 under the rule at 3 seeds (seed 2's label-only record comes from coinflip-converge); the CoT students
    # first: they are the ones whose convergence is in question
    "coinflip-converge-confirm": [
        Setting("coinflip-n300-converge", "coinflip", "scripted:0.1", n_train=300,
                budget=Budget(steps=400, eval_every=20, patience=3, threshold=0.02, probe=True, rule="learned"),
                seeds=(0, 1, 2), conditions=("greedy_cot", "label_only"), n_heldout=32, n_diag_train=16),
    ],
    # the same with the rule's train-slice requirement (profiles.CREATURES has it): label-only trains until it answers
    # 90% of its own training questions (the 200-step curve: 81% at step 200) or hits the cap; the Greedy-CoT
    # students are the converge-confirm ones (replayed: same stop on every seed — train.same_student_under_rule)
    "coinflip-converge-fit": [
        Setting("coinflip-n300-converge-fit", "coinflip", "scripted:0.1", n_train=300,
                budget=Budget(steps=400, eval_every=20, patience=3, threshold=0.02, probe=True, rule="learned",
                              min_train_accuracy=0.9),
                seeds=(0, 1, 2), conditions=("greedy_cot", "label_only"), n_heldout=32, n_diag_train=16),
    ],
    # Wadhwa et al.'s question on a task built for it (helpers.synthetic, creatures): can a rationale *after* the
    # label teach facts the label needs? dev = attributes no training label revealed (label-only's ceiling: chance),
    # dev_seen = trained facts in a new wording (label-only must do well: proof it trained), dev_new = creatures
    # never trained on (everyone at chance: proof nothing leaks). The screen: one seed, every condition by the
    # rule "learned" as it was (no train-slice requirement: seed 1's CoT-after student stopped at chance by it)
    "creatures-screen": [replace(GRID_CREATURES, name="creatures-screen",
                                 budget=replace(CREATURES.budget, min_train_accuracy=0.0))],
    # F7 on creatures by seed: the course's setting (profiles.CREATURES: the rule "learned" + 90% of its own training
    # questions before patience counts) at seeds 0–2 — notebook 10's Table 1 students on `course`, same cache keys
    # (tests/test_sweep.py); seed 0's screen students are these (same stop under the requirement, replayed); seeds 3–4
    # because after − none at seeds 0–2 cleared zero by 0.005 points
    "creatures-confirm": [replace(GRID_CREATURES, seeds=(0, 1, 2, 3, 4))],
    # F8 (Wadhwa Table 2, after the label) on creatures: shuffled rationales after the label, the same setting and
    # name, so its records sit beside creatures-confirm's label-only and CoT-after students (notebook 11's keys) ...
    # and F9 (Fig. 4, after the label) at the course's masked shares (notebook 11: Wadhwa.mask_fractions)
    "creatures-rq2": [replace(GRID_CREATURES, seeds=(0, 1, 2, 3, 4),
                              conditions=("shuffled_after", "masked_after@0.5", "masked_after@1.0"))],
    # F10 (Wadhwa Table 3) on creatures: the key words of each training rationale after the label — IG's top 15
    # (in order and shuffled), their GloVe neighbours, the words nearest the label, and the generator's ground truth
    # of which words state the deciding fact (the "human" row) — at the course's IG settings (notebook 12's
    # students on `course`, same keys: its attributor is creatures-confirm's CoT-before student of seed 0)
    "creatures-rq3": [replace(GRID_CREATURES, seeds=(0, 1, 2, 3, 4), top_k=WADHWA_COURSE.top_k,
                              ig_steps=WADHWA_COURSE.ig_steps, ig_internal_batch=WADHWA_COURSE.ig_internal_batch,
                              conditions=tuple(f"key_tokens@{v}" for v in KEY_TOKEN_VARIANTS))],
    # the papers' task at CPU scale (QuaRel + replayed GPT-3, 5 CoTs/question)
    "quarel-screen": [
        Setting("quarel-gpt3-n500-s200", "quarel", "replay:mario_gpt3", n_train=500,
                budget=Budget(steps=200, lr=1e-4), max_seq_len=320),
        Setting("quarel-gpt3-all-s400", "quarel", "replay:mario_gpt3", n_train=None,
                budget=Budget(steps=400, lr=1e-4), max_seq_len=320),
    ],
    # a second paper task: CSQA (5 choices) + PaLM-540B's released CoTs (one per question, so SCoTD = Greedy-CoT);
    # QuaRel's screen budget, all 1221 dev questions; label-only, CoT before and after the label (F1 and F7)
    "csqa-screen": [_CSQA],
    # F1 showed on the CSQA screen (seed 0): the same setting for seeds 1 and 2 (seed 0's records are reused)
    "csqa-confirm": [replace(_CSQA, conditions=("greedy_cot", "label_only"), seeds=(0, 1, 2))],
}


def condition_spec(cond: str) -> tuple[str, dict[str, Any]]:
    """A setting's condition as the target condition's name and its options: ``"masked_after@0.5"`` is
    ``masked_after`` with half the rationale's words masked (``p=0.5``, Wadhwa Fig. 4); a plain name has none.
    Unknown names and options are one-line errors naming the valid ones."""
    from .targets import get_condition
    name, at, opt = cond.partition("@")
    get_condition(name)
    if name == "key_tokens":
        if opt not in KEY_TOKEN_VARIANTS:
            raise ValueError(f"condition {cond!r}: key_tokens needs its variant after '@' "
                             f"(e.g. 'key_tokens@ig_top'); valid: {list(KEY_TOKEN_VARIANTS)}")
        return name, {"variant": opt}
    if not at:
        return name, {}
    if not name.startswith("masked_"):
        raise ValueError(f"condition {cond!r}: only masked_* conditions take an option ('masked_after@0.5': "
                         f"the share of rationale words masked)")
    try:
        p = float(opt)
    except ValueError:
        p = -1.0
    if not 0 < p <= 1:
        raise ValueError(f"condition {cond!r}: the masked share after '@' must be a number in (0, 1]")
    return name, {"p": p}


def condition_pairs(train_corpus: Any, cond: str, seed: int,
                    key_words: dict[str, dict[str, list[str]]] | None = None) -> list[Any]:
    """The training pairs of a setting's condition (:func:`condition_spec`) at ``seed`` — what notebooks 10–12 build
    for the same condition, so their students are the sweep's. A ``key_tokens@<variant>`` condition takes its words
    from ``key_words`` (:func:`key_words`; a question without a correct rationale gets the label alone, as in
    notebook 12)."""
    from .targets import pairs_from_corpus
    name, kw = condition_spec(cond)
    if name == "key_tokens":
        if key_words is None:
            raise ValueError(f"condition {cond!r} needs the setting's key words (sweep.key_words)")
        words = key_words[kw["variant"]]
        return pairs_from_corpus(train_corpus, name, supervised=True, seed=seed,
                                 key_tokens=lambda ex: words.get(ex.id, []))
    return pairs_from_corpus(train_corpus, name, supervised=True, seed=seed, **kw)


def key_words_path(s: Setting) -> Path:
    return sweep_dir() / "key_tokens" / f"{s.name}.json"


def key_words(s: Setting, train_corpus: Any, *, train: Sequence[Any] = (), heldout: Sequence[Any] = (),
              compute: bool = True, log=print) -> dict[str, dict[str, list[str]]]:
    """Wadhwa Table 3's words for setting ``s`` (:func:`helpers.analysis.key_token_variants`), ``{variant:
    {example id: words}}``: integrated gradients of the setting's CoT-before student at its first seed (the
    ``greedy_cot`` student, trained here if the cache lacks it — notebook 12's attributor, same key) over each
    training question's first correct rationale, ``s.ig_steps`` steps, the top ``s.top_k`` words kept.

    Written once to ``results/sweep/key_tokens/<setting>.json`` with what made them (attributor key, IG settings,
    completeness, notes), so a resumed sweep, :func:`record_keys` and a reader use the words the students trained
    on without re-attributing; a stored file made otherwise (another attributor or IG setting) is an error, not
    silently reused. ``compute=False``: the stored words or a one-line error."""
    from . import protocol as P
    from .targets import first_correct_rationales
    seed = s.seeds[0]
    proto = s.protocol()
    att_pairs = condition_pairs(train_corpus, "greedy_cot", seed)
    spec = {"attributor": P.fit_key(proto, att_pairs, seed=seed), "attributor_condition": "greedy_cot",
            "attributor_seed": seed, "ig_steps": s.ig_steps, "ig_internal_batch": s.ig_internal_batch,
            "top_k": s.top_k, "word_vectors": "glove-50d", "variant_seed": seed}
    path = key_words_path(s)
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("spec") != spec:
            raise ValueError(f"{path}: made with {stored.get('spec')}, setting {s.name!r} asks {spec}; "
                             f"move the file away to recompute")
        return stored["variants"]
    if not compute:
        raise ValueError(f"{path}: no key words stored for setting {s.name!r}; run `python -m helpers sweep` "
                         f"on it to compute them")
    from .analysis import attribute_rationales, completeness, key_token_variants
    from .models import load_word_vectors
    from .results import write_record
    items = first_correct_rationales(train_corpus)
    log(f"{s.name}: key words — the CoT-before student of seed {seed} attributes {len(items)} training "
        f"rationales ({s.ig_steps} IG steps)")
    attributor = P.fit(proto, att_pairs, seed=seed, train=train, heldout=heldout,
                       info={"condition": "greedy_cot", "setting": "supervised", "sweep": s.name})
    atts = attribute_rationales(attributor, items, n_steps=s.ig_steps, internal_batch_size=s.ig_internal_batch)
    variants, notes = key_token_variants(s.task, items, atts, load_word_vectors("glove-50d"), k=s.top_k, seed=seed)
    write_record(path, {"setting_name": s.name, "spec": spec, "completeness": completeness(list(atts.values())),
                        "notes": notes, "variants": variants})
    return variants


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


def run_setting(s: Setting, *, log=print, conditions: Sequence[str] | None = None,
                seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Run (or reuse) every condition × seed of ``s`` — or only those of ``conditions`` / ``seeds`` (e.g. two
    processes sharing the work of one setting); returns the per-seed records of what was asked for."""
    for name, asked, valid in (("condition", conditions, s.conditions), ("seed", seeds, s.seeds)):
        bad = sorted(set(asked or ()) - set(valid))
        if bad:
            raise ValueError(f"setting {s.name!r} has no {name}(s) {bad}; valid: {list(valid)}")
    conds = [c for c in s.conditions if conditions is None or c in conditions]
    seed_list = [x for x in s.seeds if seeds is None or x in seeds]
    for c in conds:
        condition_spec(c)
    from . import protocol as P
    from .corpus import only_questions
    proto = s.protocol()
    train, heldout = P.split_train(proto)
    dev = P.eval_examples(proto)
    controls = P.control_splits(proto)
    missing = sorted(set(s.extra_splits) - set(controls))
    if missing:
        raise ValueError(f"setting {s.name!r}: {missing} are not control splits of {s.task!r}; "
                         f"valid: {sorted(controls)}")
    extra = {name: controls[name] for name in s.extra_splits}
    corpus = _corpus(s, train, heldout)
    train_corpus = only_questions(corpus, train)
    majority = P.majority_baseline(train, dev)

    def record(cond: str, seed: int) -> Path:
        return sweep_dir() / "runs" / f"{s.name}__{cond}__s{seed}.json"

    todo = [(cond, seed) for cond in conds for seed in seed_list if not record(cond, seed).exists()]
    words = (key_words(s, train_corpus, train=train, heldout=heldout, log=log)
             if any(condition_spec(c)[0] == "key_tokens" for c, _ in todo) else None)
    # every student of the setting trained and decoded $COTLAB_WORKERS at a time, each into the cache the
    # moment it is done (a sweep cut off there resumes from the cache); then scored and recorded here
    units = {(cond, seed): P.unit(proto, condition_pairs(train_corpus, cond, seed, words), seed=seed,
                                  info={"condition": condition_spec(cond)[0], **condition_spec(cond)[1],
                                        "setting": "supervised", "sweep": s.name},
                                  evaluate=dev, also=extra, train=train, heldout=heldout,
                                  pairs_for=P.answer_pairs(corpus, *condition_spec(cond)))
             for cond, seed in todo}
    keys = list(units)
    step = max(1, P.workers())            # a record is written as soon as its chunk of students is done
    for i in range(0, len(keys), step):
        done = P.run_units(proto, {k: units[k] for k in keys[i:i + step]}, progress=False)
        _record_done(s, proto, done, dev, train, heldout, corpus, majority, record, log, extra)
    out = [json.loads(record(cond, seed).read_text()) for cond in conds for seed in seed_list]
    write_table()
    return out


def _record_done(s: Setting, proto: Protocol, done: dict[Any, Any], dev: Sequence[Any], train: Sequence[Any],
                 heldout: Sequence[Any], corpus: Any, majority: dict[str, Any], record: Any, log: Any,
                 extra: dict[str, Sequence[Any]] | None = None) -> None:
    """Score the students of ``done`` and write their run records (with the accuracy on each extra split and,
    for an answer-first student, its mean log-odds of the gold label on every split: :func:`protocol.gold_margin`)."""
    from . import protocol as P
    from .provenance import stamp
    from .results import write_record
    extra = extra or {}
    for (cond, seed), (student, decodes) in done.items():
        row = P.score(proto, student, decodes[0], dev, condition=cond, seed=seed, train=train, heldout=heldout,
                      pairs_for=P.answer_pairs(corpus, *condition_spec(cond)), controls=decodes.controls(extra),
                      margins=True)
        rec = stamp({"setting": asdict(s), "setting_name": s.name, **row, "majority": majority},
                    profile={"name": "sweep"}, models={"student": s.student, "teacher": s.teacher},
                    data={"task": s.task, "n_train": len(train), "n_eval": len(dev)}, seed=seed)
        write_record(record(cond, seed), rec)
        log(f"{s.name} {cond} seed {seed}: {row['accuracy']:.3f} "
            f"(train {row.get('train_accuracy')}, steps {row['train_steps']}, {row.get('stopped_by')}, "
            f"trained in {row.get('train_seconds')}s)")


def record_keys(records: Sequence[dict[str, Any]]) -> list[str]:
    """The cache key of the student each run record describes, rebuilt from the record's setting with today's
    code (corpus, training pairs, :func:`protocol.fit_key`; a student reused under the rule's train-slice requirement,
    ``same_under_rule``, by the key it was trained under): where it differs from the record's ``student_key``,
    today's code would train that student anew rather than find it in the cache."""
    from . import protocol as P
    from .corpus import only_questions
    built: dict[str, tuple[Protocol, Any]] = {}
    out = []
    for rec in records:
        s = Setting.from_record(rec["setting"])
        if s.name not in built:
            proto = s.protocol()
            train, heldout = P.split_train(proto)
            built[s.name] = proto, only_questions(_corpus(s, train, heldout), train)
        proto, train_corpus = built[s.name]
        words = (key_words(s, train_corpus, compute=False)
                 if condition_spec(rec["condition"])[0] == "key_tokens" else None)
        pairs = condition_pairs(train_corpus, rec["condition"], rec["seed"], words)
        if rec.get("same_under_rule"):      # the student trained without the requirement, the same one under it
            proto = replace(proto, budget=replace(proto.budget, min_train_accuracy=0.0))
        out.append(P.fit_key(proto, pairs, seed=rec["seed"]))
    return out


def load_runs() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((sweep_dir() / "runs").glob("*.json"))]


class _Pred:
    def __init__(self, d):
        self.id, self.gold, self.pred, self.correct = d["id"], d["gold"], d["pred"], d["correct"]


ALPHA = 0.05


def _majority(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The majority-class row of a setting: stored in its run records (since it was added), else
    recomputed from the setting they record (its training questions and evaluation split)."""
    stored = next((r["majority"] for r in rs if r.get("majority")), None)
    if stored is not None:
        return dict(stored)
    from . import protocol as P
    proto = Setting.from_record(rs[0]["setting"]).protocol()
    train, _ = P.split_train(proto)
    return P.majority_baseline(train, P.eval_examples(proto))


def _vs(rows: Sequence[dict[str, Any]], cond: str, base: str) -> dict[str, Any] | None:
    """``cond`` against ``base`` on the same seeds and questions (protocol.summarize), or None if either is absent."""
    from .protocol import summarize
    pick = [r for r in rows if r["condition"] in (cond, base)]
    if {r["condition"] for r in pick} != {cond, base}:
        return None
    row = next(s for s in summarize(pick, baseline=base) if s["condition"] == cond)
    return row if "diff" in row else None          # no seeds in common (a setting still running): not compared


def _vs_label_only(summary: Sequence[dict[str, Any]], cond: str) -> dict[str, Any] | None:
    """``cond``'s row of a label-only-baselined summary, or None if ``cond`` or label-only was not run."""
    return next((s for s in summary if s["condition"] == cond and "diff" in s), None)


def _text(name: str, s: dict[str, Any] | None) -> str:
    if s is None or "diff" not in s:
        return f"{name}: not run"
    return (f"{name} {100 * s['diff']:+.1f} [{100 * s['diff_ci_low']:+.1f}, {100 * s['diff_ci_high']:+.1f}], "
            f"p = {s['p_value']:.2g}" + ("" if s.get("seed_level", True) else " (one shared seed: over questions)"))


def _better(s: dict[str, Any] | None) -> bool:
    return s is not None and "diff" in s and s["diff"] > 0 and s["p_value"] < ALPHA


POWER = 0.8


def gap(s: dict[str, Any] | None) -> dict[str, Any] | None:
    """How far a comparison (a :func:`_vs` row) is from showing, by extrapolation: the minimal detectable
    difference ``mde`` (two-sided α = 0.05, power 0.8, from the width of its 95% interval: SE = width /
    3.92), and — if the observed difference points the paper's way — the factor by which the sample
    (seeds × questions) would have to grow for that difference to reach the MDE, assuming the interval
    narrows as 1/√sample, with the CPU-hours of the students that would take at this setting's
    measured training time. ``None`` for a comparison not run or without spread."""
    from scipy.stats import norm
    if s is None or "diff" not in s or s["diff_ci_high"] <= s["diff_ci_low"]:
        return None
    z = norm.ppf(1 - ALPHA / 2)
    mde = (z + norm.ppf(POWER)) * (s["diff_ci_high"] - s["diff_ci_low"]) / (2 * z)
    out: dict[str, Any] = {"mde": mde, "factor": None, "cpu_hours": None}
    if s["diff"] > 0:
        out["factor"] = max(1.0, (mde / s["diff"]) ** 2)
        if s.get("train_seconds"):
            out["cpu_hours"] = out["factor"] * 2 * len(s["seeds"]) * s["train_seconds"] / 3600
    return out


def _gap_text(name: str, s: dict[str, Any] | None) -> str:
    g = gap(s)
    if g is None:
        return f"{name}: –"
    text = f"{name}: MDE {100 * g['mde']:.1f}"
    if g["factor"] is None:
        return text + f" (observed {100 * s['diff']:+.1f}: not the paper's direction — more data would not show it)"
    text += f"; at the observed {100 * s['diff']:+.1f}, ≈ {g['factor']:.0f}× the sample"
    return text + (f" (≈ {g['cpu_hours']:.0f} CPU-h of training)" if g["cpu_hours"] is not None else "")


def _helps_as_intact(rows: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]], cond: str, name: str,
                     intact: str, below: str) -> tuple[Any, Any, bool, bool, list[str]]:
    """A changed rationale after the label against no CoT and against the intact one (F8, F10): ``(vs none, vs
    intact, run, shown, gaps)`` — shown: it beats ``label_only`` and is not significantly below ``cot_after``."""
    vs_none, vs_intact = _vs_label_only(summary, cond), _vs(rows, cond, "cot_after")
    run = None not in (vs_none, vs_intact)
    below_intact = run and vs_intact["diff"] < 0 and vs_intact["p_value"] < ALPHA
    gaps = [_gap_text(f"{name} − none", vs_none)] if run and not _better(vs_none) else []
    if below_intact:
        gaps.append(f"{name} − {intact}: significantly below ({below})")
    return vs_none, vs_intact, run, bool(run and _better(vs_none) and not below_intact), gaps


def findings(rows: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The papers' two headline findings on one setting's per-seed rows (points, paired over seeds and
    questions as in :func:`helpers.protocol.summarize`; shown = p < 0.05 in the paper's direction):

    * **F1** (SCoTD Table 2b): a CoT student (``greedy_cot`` and/or ``scotd``) beats ``label_only``;
    * **F7** (Wadhwa Table 1): CoT after the label ≥ CoT before > no CoT — ``greedy_cot`` (before) and
      ``cot_after`` each beat ``label_only``, and ``cot_after`` is not significantly below ``greedy_cot``;
    * **F8** (Wadhwa Table 2, the after half): a rationale whose words are shuffled still helps after the label —
      ``shuffled_after`` beats ``label_only`` and is not significantly below ``cot_after`` (70.6 vs 71.0 on
      QuaRel in the paper);
    * **F9** (Wadhwa Fig. 4, the after half): with up to 60% of its words masked a rationale after the label still
      helps — every ``masked_after@p`` run with p ≤ 0.6 beats ``label_only`` (beyond, the paper sees no-CoT's level);
    * **F10** (Wadhwa Table 3): the top-15 integrated-gradients words of the rationale after the label do what the
      whole rationale does — ``key_tokens@ig_top`` beats ``label_only`` and is not significantly below ``cot_after``
      (71.3 vs 71.0 on QuaRel, no CoT 59.1); the other variants (shuffled key words, their GloVe neighbours, the
      words nearest the label, the marked words) are reported against no CoT beside it.

    ``summary``: ``protocol.summarize(rows, baseline="label_only")`` if the caller has it (not recomputed)."""
    from .protocol import summarize
    if summary is None:
        summary = summarize(rows, baseline="label_only")
    f1 = {c: _vs_label_only(summary, c) for c in ("greedy_cot", "scotd")}
    f1_run = {c: s for c, s in f1.items() if s is not None}
    before, after = f1["greedy_cot"], _vs_label_only(summary, "cot_after")
    after_before = _vs(rows, "cot_after", "greedy_cot")
    f7_run = None not in (before, after, after_before)
    f7 = (f7_run and _better(before) and _better(after)
          and not (after_before["diff"] < 0 and after_before["p_value"] < ALPHA))
    f1_shown = any(_better(s) for s in f1_run.values())
    f7_gaps = [_gap_text(n, x) for n, x in (("before − none", before), ("after − none", after)) if not _better(x)]
    if f7_run and after_before["diff"] < 0 and after_before["p_value"] < ALPHA:
        f7_gaps.append("after − before: significantly below (the paper's order reversed)")
    shuffled, shuffled_intact, f8_run, f8, f8_gaps = _helps_as_intact(
        rows, summary, "shuffled_after", "shuffled after", "intact after", "shuffling hurts after the label")
    masked = sorted((condition_spec(c)[1]["p"], c) for c in {r["condition"] for r in rows}
                    if condition_spec(c)[0] == "masked_after" and condition_spec(c)[1])
    f9_rows = [(p, c, _vs_label_only(summary, c)) for p, c in masked]
    f9_rows = [(p, c, x) for p, c, x in f9_rows if x is not None]
    f9_tested = [(p, c, x) for p, c, x in f9_rows if p <= 0.6]
    f9 = bool(f9_tested) and all(_better(x) for _, _, x in f9_tested)
    ig, ig_intact, f10_run, f10, f10_gaps = _helps_as_intact(
        rows, summary, "key_tokens@ig_top", "IG top-15 after", "full CoT after", "the key words do not carry it")
    others = [(v, _vs_label_only(summary, f"key_tokens@{v}")) for v in KEY_TOKEN_VARIANTS[1:]]
    out = {
        "F10": "not run" if not f10_run else "shown" if f10 else "not shown",
        "F10_detail": "; ".join([_text("IG top-15 after − none", ig), _text("IG top-15 after − full CoT after", ig_intact)]
                                + [_text(f"{v} after − none", x) for v, x in others if x is not None]
                                ) if f10_run else "",
        "F10_gap": "; ".join(f10_gaps),
        "F9": "not run" if not f9_tested else "shown" if f9 else "not shown",
        "F9_detail": "; ".join(_text(f"masked after p = {p:g} − none", x) for p, _, x in f9_rows),
        "F9_gap": "" if f9 or not f9_tested else "; ".join(_gap_text(f"masked after p = {p:g} − none", x)
                                                           for p, _, x in f9_tested if not _better(x)),
        "F8": "not run" if not f8_run else "shown" if f8 else "not shown",
        "F8_detail": "; ".join([_text("shuffled after − none", shuffled),
                                _text("shuffled after − intact after", shuffled_intact)]) if f8_run else "",
        "F8_gap": "; ".join(f8_gaps),
        "F1": "not run" if not f1_run else "shown" if f1_shown else "not shown",
        "F1_detail": "; ".join(_text(f"{c} − label_only", s) for c, s in f1_run.items()),
        "F1_gap": "" if f1_shown or not f1_run else "; ".join(_gap_text(f"{c} − label_only", s)
                                                                for c, s in f1_run.items()),
        "F7": "not run" if not f7_run else "shown" if f7 else "not shown",
        "F7_detail": "; ".join([_text("before − none", before), _text("after − none", after),
                                _text("after − before", after_before)]),
        "F7_gap": "; ".join(f7_gaps) if f7_run and not f7 else "",
    }
    # a comparison with a student that did not learn its own training questions tests the budget, not the paper
    uses = {"F1": ("greedy_cot", "scotd"), "F7": ("greedy_cot", "cot_after"), "F8": ("shuffled_after", "cot_after"),
            "F9": tuple(c for _, c, _ in f9_rows), "F10": ("key_tokens@ig_top", "cot_after")}
    for f, conds in uses.items():
        why = _not_learned(rows, ("label_only", *conds))
        if why and out[f] != "not run":
            out[f], out[f"{f}_gap"] = "untested (not learned)", why
    return out


def _not_learned(rows: Sequence[dict[str, Any]], conds: Sequence[str]) -> str:
    """The students of ``conds`` that the rule's cap stopped before they answered the share of their own training
    questions the rule asks (``min_train_accuracy``) — not converged, so no baseline (the protocol) — as text."""
    bad = []
    for r in rows:
        need = ((r.get("setting") or {}).get("budget") or {}).get("min_train_accuracy") or 0
        if r["condition"] in conds and r.get("stopped_by") == "cap" and (r.get("train_accuracy") or 0) < need:
            bad.append(f"{r['condition']} seed {r['seed']} stopped by the cap at step {r.get('train_steps')} with "
                       f"{100 * (r.get('train_accuracy') or 0):.0f}% of its training slice (the rule asks "
                       f"{100 * need:.0f}%)")
    return "; ".join(bad)


def _split_rows(rs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One setting's records on the reported split and on every control split it was scored on, each split
    summarised as the reported one is (:func:`helpers.protocol.on_split` + ``summarize``: the mean over seeds with
    its seed-level interval, and against label-only the seed-level test), with the mean gold log-odds where
    recorded."""
    from .protocol import on_split, summarize
    if not any(r.get("splits") or r.get("gold_margin") for r in rs):
        return []
    # records written before score() set the reported split's gold_margin_split carry it in gold_margin["dev"]
    rs = [dict(r, gold_margin_split=r.get("gold_margin_split", (r.get("gold_margin") or {}).get("dev")))
          for r in rs]
    out = []
    for name in [None, *dict.fromkeys(n for r in rs for n in (r.get("splits") or {}))]:
        for s in summarize(on_split(rs, name), baseline="label_only"):
            margin = s.get("gold_margin_split")
            out.append({"setting": rs[0]["setting_name"], "split": name or "dev", **s,
                        "gold_margin": round(margin, 3) if margin is not None else None})
    return out


def write_table() -> Path:
    """``results/sweep/README.md`` (+ ``summary.json``) from every run record present: one row per setting
    and condition plus the setting's majority-class row, then the F1/F7 verdict of each setting
    (:func:`findings`)."""
    from .protocol import summarize
    from .results import markdown_table, write_record
    runs = load_runs()
    by_setting: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        r = dict(r, preds=[_Pred(d) for d in r["preds"]])
        by_setting.setdefault(r["setting_name"], []).append(r)
    verdicts, rows = [], []
    for name, rs in by_setting.items():
        seeds = sorted({r["seed"] for r in rs})
        try:
            summ = summarize(rs, baseline="label_only")
            verdicts.append({"setting": name, "seeds": seeds, **findings(rs, summ)})
        except ValueError as e:
            summ = [{"condition": "?", "error": str(e)}]
            verdicts.append({"setting": name, "seeds": seeds, "F1": "?", "F1_detail": str(e), "F1_gap": "",
                             **{f"{f}{x}": "?" if not x else "" for f in ("F7", "F8", "F9", "F10")
                                for x in ("", "_detail", "_gap")}})
        summ = [_majority(rs), *summ]
        for x in summ:
            x["setting"] = name
            x["task"] = rs[0]["setting"]["task"]
            x["teacher"] = rs[0]["setting"]["teacher"]
            x["cap"] = rs[0]["setting"]["budget"]["steps"]
            x["n_train"] = rs[0]["provenance"]["data"].get("n_train")
        rows.extend(summ)
    cols = ["setting", "task", "teacher", "n_train", "cap", "condition", "seeds", "per_seed", "accuracy", "ci_low",
            "ci_high", "diff", "p_value", "p_questions", "steps", "converged", "train_accuracy", "heldout_accuracy",
            "rationale_agreement", "n"]
    split_rows = [row for rs in by_setting.values() for row in _split_rows(rs)]
    d = sweep_dir()
    write_record(d / "summary.json", {"rows": rows, "findings": verdicts})
    text = ("# Settings sweep (generated by `helpers.sweep.write_table`; do not edit)\n\n"
            "Every run under the protocol (matched optimizer steps, or one convergence rule for every condition; "
            "supervised setting, greedy decoding); `diff`/`p_value`: against label-only of the same setting, the "
            "paired t test over seeds and questions (`helpers.stats.seed_test`; with one seed over questions only); "
            "`p_questions`: the permutation test over questions, conditional on the trained students; "
            "`cap`: the budget's steps (a fixed budget's, or the rule's cap); `steps`: each seed's steps taken; "
            "`converged`: students stopped by the rule (– for fixed steps). Accuracies in %. Negative results stay "
            "in the table.\n\n" + markdown_table(rows, cols)
            + ("\n\n## Control splits and the gold label's log-odds\n\n"
               "Settings evaluated on further splits (the creatures task: `dev` = facts only rationales stated, "
               "`dev_seen` = trained facts in a new wording, `dev_new` = creatures never trained on; "
               "`data/README.md`): each split summarised as the reported one (mean over seeds, 95% interval over seeds "
               "and questions; `diff`/`p_value`: against label-only, the seed-level test) and, for an answer-first "
               "student, the mean log p(gold answer) − log p(other answer) right after the prompt "
               "(`protocol.gold_margin`; > 0: it leans to the right answer).\n\n"
               + markdown_table(split_rows, ["setting", "split", "condition", "seeds", "per_seed", "accuracy", "ci_low",
                                             "ci_high", "diff", "p_value", "gold_margin", "n"])
               if split_rows else "")
            + "\n\n## The papers' findings, per setting\n\n"
            "F1 (SCoTD Table 2b): a CoT student beats label-only. F7 (Wadhwa Table 1): CoT after the label ≥ CoT "
            "before > no CoT. F8 (Wadhwa Table 2, after the label): a shuffled rationale after the label beats no CoT "
            "and is not significantly below the intact one (settings that trained `shuffled_after`). F9 (Wadhwa Fig. 4, "
            "after the label): with up to 60% of its words masked (`masked_after@p`, p ≤ 0.6) it still beats no CoT. "
            "F10 (Wadhwa Table 3): the rationale's top-15 integrated-gradients words after the label "
            "(`key_tokens@ig_top`) beat no CoT and are not significantly below the whole rationale after it; the other "
            "key-word variants beside it (`results/sweep/key_tokens/` holds every student's words). *Untested (not learned)*: a "
            "student the comparison rests on was stopped by the rule's cap before it answered the share of its own "
            "training questions the rule asks — a verdict on the budget, not on the paper. *Shown*: p < 0.05 in the paper's direction (differences in points, 95% t interval over "
            "seeds and questions; a one-seed screen's is over questions only). *How far* (where not "
            "shown, by extrapolation): the minimal detectable difference (MDE; α = 0.05, power 0.8, from the "
            "interval's width) and, for a difference in the paper's direction, how many times the sample "
            "(seeds × questions) it would take for the observed difference to reach the MDE, assuming the "
            "interval narrows as 1/√sample (an evaluation split cannot grow past its full size: then only "
            "seeds can), with the CPU-hours of training that many students would take at the measured rate.\n\n"
            + markdown_table(verdicts, ["setting", "seeds", "F1", "F1_detail", "F7", "F7_detail"]
                             + [c for f in ("F8", "F9", "F10") if any(v.get(f"{f}_detail") for v in verdicts)
                                for c in (f, f"{f}_detail")])
            + "\n\n### How far each unshown finding is\n\n"
            + markdown_table([v for v in verdicts if any(v.get(f"{f}_gap") for f in ("F1", "F7", "F8", "F9", "F10"))],
                             ["setting", "F1_gap", "F7_gap"]
                             + [f"{f}_gap" for f in ("F8", "F9", "F10") if any(v.get(f"{f}_gap") for v in verdicts)]))
    (d / "README.md").write_text(text)
    return d / "README.md"
