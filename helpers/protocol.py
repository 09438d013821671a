"""The experimental protocol every comparison in the suite uses: fair, seeded, powered, diagnosed.

A comparison of conditions (label-only vs Greedy-CoT vs SCoTD, CoT before vs after the label, …) is
only worth showing if the conditions differ in *what* they learn from, not in how much training they
got or in which questions they are scored on. :class:`Protocol` fixes, for every condition:

* **A matched budget** (:class:`Budget`): the same number of optimizer steps at the same batch size,
  learning rate, linear warm-up and schedule. A condition with more pairs per question (SCoTD) sees
  more *distinct* targets in those steps, not more steps.
* **Seeds**: every condition is trained once per seed (data order, initialisation of sampling), and
  every table shows the per-seed numbers.
* **The full evaluation split** (``eval_split``, never truncated), and a **held-out slice of train**
  (``n_heldout`` questions, disjoint from the ``n_train`` training questions) for anything that
  selects or diagnoses — the reported split is used for nothing but the report.

The stage verbs, in data-flow order, each owning its cache:

* :func:`split_train` — training questions and the held-out slice (:func:`setup`: that, the reported
  split, the teacher's corpus and the majority-class row in one call);
* :func:`fit` — :func:`helpers.train.train_student` under the budget (cached by model, pairs, budget, seed),
  in a window that holds every training pair whole;
* :func:`decode` — :func:`helpers.decode.decode_student` with the protocol's decoding settings (cached), never
  with fewer new tokens than the student's longest training completion (:func:`decode_budget`);
* :func:`run_units` — many students' :func:`fit` and :func:`decode` (one :class:`Unit` each, built by
  :func:`unit`), several at once in worker processes (:func:`workers`), every one into the cache;
* :func:`score` — accuracy with its CI plus the per-student **diagnostics**: accuracy on training
  questions (fit) and on the held-out slice (generalisation), the loss on the answer tokens alone,
  the answer distribution, and for CoT students the share of answers whose letter agrees with the
  conclusion of their own rationale;
* :func:`summarize` — one row per condition: per-seed accuracies, the mean with a 95% interval over seeds
  and questions, and against the baseline condition the headline test that honours seed variance
  (:func:`helpers.stats.seed_test`: the difference, its t interval and p, the signed per-seed differences),
  the exact McNemar test per seed, and — a secondary column, conditional on the trained students — the
  paired permutation test over questions; :func:`check_converged` refuses a table whose students hit the
  step cap instead of converging; :func:`majority_baseline` goes beside every table.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from .config import workers  # noqa: F401  (protocol.workers: how many students run_units runs at once)
from .train import Budget  # noqa: F401  (the trainer consumes it; protocol.Budget: every comparison holds one)


@dataclass(frozen=True)
class Protocol:
    """Everything that must be the same across the conditions of one comparison."""
    task: str
    student: str
    budget: Budget
    seeds: tuple[int, ...] = (0, 1, 2)
    n_train: int | None = None      # training questions (None: all but the held-out slice)
    n_heldout: int = 64             # held-out slice of train: selection and diagnostics, never reported
    eval_split: str = "dev"         # reported on in full
    eval_limit: int | None = None   # only the smoke profile truncates (CI); None = the full split
    n_diag_train: int = 64          # training questions decoded for the fit diagnostic
    max_seq_len: int = 256          # training window; a unit whose longest pair is longer gets a wider one (fit)
    lora: bool = False
    max_new_tokens: int = 96        # decoding; never less than the student's longest training completion (decode_budget)
    sc_k: int = 5
    sc_temperature: float = 0.7
    # sequences per generate call: 64 decoded a converged coin-flip student's 200 dev questions 1.31× faster than
    # 16 with identical texts (results/bench.json, bench_student_decode; 1 thread, AVX2 EPYC)
    decode_batch_size: int = 64

    @classmethod
    def from_block(cls, block: Any, *, student: str, seeds: Sequence[int], **fixed: Any) -> "Protocol":
        """The protocol a profile block or sweep setting declares: every field of :class:`Protocol` that ``block``
        (a dataclass) also has is taken from it — the fields are declared here once, and each block holds only
        its own defaults — then ``fixed`` (what the block fixes rather than declares, e.g. no held-out slice)."""
        from dataclasses import fields
        mine = {f.name for f in fields(cls)} - {"student", "seeds"}
        given = {f.name: getattr(block, f.name) for f in fields(block) if f.name in mine}
        return cls(**{**given, **fixed, "student": student, "seeds": tuple(seeds)})

    def eval_text(self) -> str:
        return (f"the full {self.eval_split} split" if self.eval_limit is None else
                f"the first {self.eval_limit} {self.eval_split} questions (smoke only)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        d["budget_text"] = self.budget.describe()
        return d

    def train_config(self, seed: int, *, longest_pair: int = 0, longest_completion: int = 0) -> Any:
        """The trainer's config for ``seed``: the protocol's :class:`Budget` as it is, the window
        ``max_seq_len`` widened (to a multiple of 32) to hold the unit's longest pair whole — truncation would
        cut a CoT-before target's answer off — and early stopping decoding with the unit's :func:`decode_budget`."""
        from .train import TrainConfig
        window = self.max_seq_len if longest_pair <= self.max_seq_len else -(-longest_pair // 32) * 32
        return TrainConfig(self.budget, seed=seed, max_seq_len=window, lora=self.lora, n_dev_eval=self.n_heldout,
                           eval_max_new_tokens=max(self.max_new_tokens, longest_completion))


# ------------------------------------------------------------------------------------------ data

def split_train(p: Protocol, split: str = "train") -> tuple[list[Any], list[Any]]:
    """``(train, heldout)``: the held-out slice is the *last* ``n_heldout`` rows of the training split
    (prompt exemplars excluded), the training questions the first ``n_train`` of the rest."""
    from .prompts import exemplar_ids
    from .tasks import load_task
    rows = [ex for ex in load_task(p.task, split) if ex.id not in exemplar_ids(p.task)]
    if p.n_heldout >= len(rows):
        raise ValueError(f"n_heldout={p.n_heldout} leaves no training questions in {p.task}/{split} ({len(rows)} rows)")
    heldout = rows[len(rows) - p.n_heldout:] if p.n_heldout else []
    rest = rows[:len(rows) - p.n_heldout]
    if p.n_train is not None and p.n_train > len(rest):
        raise ValueError(f"n_train={p.n_train} but {p.task}/{split} has {len(rest)} rows besides the held-out slice")
    return (rest if p.n_train is None else rest[:p.n_train]), heldout


def eval_examples(p: Protocol) -> list[Any]:
    """The full evaluation split (minus the task's prompt exemplars, if they come from it)."""
    from .prompts import exemplar_ids
    from .tasks import load_task
    rows = [ex for ex in load_task(p.task, p.eval_split) if ex.id not in exemplar_ids(p.task)]
    return rows if p.eval_limit is None else rows[:p.eval_limit]


def majority_baseline(train: Sequence[Any], examples: Sequence[Any]) -> dict[str, Any]:
    """Always answering the most frequent gold answer of the training questions."""
    from collections import Counter
    counts = Counter(ex.answer for ex in train)
    label, _ = counts.most_common(1)[0]
    correct = [ex.answer == label for ex in examples]
    from .stats import accuracy_ci
    acc, lo, hi = accuracy_ci(correct)
    return {"condition": "majority class", "answer": label, "accuracy": acc, "ci_low": lo, "ci_high": hi,
            "n": len(correct)}


@dataclass
class Setup:
    """What a distillation notebook starts from (:func:`setup`): the protocol's questions, the teacher's
    corpus over the training questions *and* the held-out slice, and the majority-class row."""
    protocol: Protocol
    train: list[Any]
    heldout: list[Any]
    dev: list[Any]
    teacher: Any
    corpus: Any           # train + held-out questions (held-out CoTs serve only diagnostics)
    train_corpus: Any     # the training questions' part: what students are built from
    majority: dict[str, Any]
    controls: dict[str, list[Any]] = field(default_factory=dict)   # the task's control splits (:func:`control_splits`)

    def describe(self) -> str:
        p = self.protocol
        return (f"task {p.task}: {len(self.train)} training questions, {len(self.heldout)} held out from train, "
                f"{len(self.dev)} dev questions ({p.eval_text()}); student {p.student}, seeds {p.seeds}\n"
                f"teacher {getattr(self.teacher, 'teacher_id', self.teacher)}: {self.corpus.n_samples()} CoTs over {len(self.corpus)} questions; "
                f"majority class ({self.majority['answer']}) {100 * self.majority['accuracy']:.1f}% on dev\n"
                + "".join(f"control split {name}: {len(exs)} questions\n" for name, exs in self.controls.items())
                + f"budget: {p.budget.describe()}")


def setup(p: Protocol, teacher: str, n_samples: int, *, split: str = "train", progress: bool = False) -> Setup:
    """The shared start of notebooks 03–05, 08 and 10–12, in data-flow order: :func:`split_train`,
    :func:`eval_examples`, the teacher (``teacher``: a name for :func:`helpers.teacher.teacher_from_name`),
    ``n_samples`` CoTs per training and held-out question (:func:`helpers.corpus.sample_corpus`, cached),
    the training questions' part of the corpus, and :func:`majority_baseline` on the reported split.
    Notebook 03 shows these steps one by one."""
    from .corpus import only_questions, sample_corpus
    from .teacher import teacher_from_name
    train, heldout = split_train(p, split)
    dev = eval_examples(p)
    t = teacher_from_name(teacher, task=p.task)
    corpus = sample_corpus(t, train + heldout, n=n_samples, progress=progress)
    return Setup(p, train, heldout, dev, t, corpus, only_questions(corpus, train), majority_baseline(train, dev),
                 control_splits(p))


def control_splits(p: Protocol) -> dict[str, list[Any]]:
    """The task's control splits (``TaskSpec.controls``), each read as the reported split is (same limit), when
    the protocol reports on ``dev``: decoded beside it by :func:`unit` (``also=``) and scored by :func:`score`
    (``controls=``). Empty for a task without any."""
    from .tasks import get_spec
    if p.eval_split != "dev":
        return {}
    return {name: eval_examples(replace(p, eval_split=name)) for name in get_spec(p.task).controls}


# ------------------------------------------------------------------------------------- stage verbs

def fit(p: Protocol, pairs: Sequence[Any], *, seed: int, info: dict[str, Any] | None = None,
        heldout: Sequence[Any] | None = None, probes: Mapping[str, tuple[Sequence[Any], Sequence[Any]]] | None = None,
        train: Sequence[Any] | None = None, progress: bool = False) -> Any:
    """Train (or reuse from the cache) ``p.student`` on ``pairs`` under the protocol's budget.

    With early stopping in the budget (``eval_every > 0``) ``heldout`` — the held-out slice of train from
    :func:`split_train` — is decoded greedily every ``eval_every`` steps (an answer-first condition, named
    by ``info["condition"]``, stops at its answer) and the best weights are kept. The student records
    whether it *converged* (``meta["converged"]``: stopped by patience, not by the step cap) and its curve.
    With ``budget.probe``, ``probes`` (``{"train": (examples, gold pairs), "heldout": (examples, gold pairs)}``,
    built by :func:`unit`) add to every evaluation the accuracy on the training questions and the answer
    loss on both (:func:`answer_token_loss`): a learning curve. ``train`` (the training questions) stands in
    for ``probes`` when none are given: their first ``n_diag_train`` are the train slice the rule "learned" needs.

    The training window and the decoding budget are sized from ``pairs`` (:meth:`Protocol.train_config`,
    :func:`decode_budget`): a student is never trained on a cut-off target nor decoded with fewer tokens
    than its longest training completion (masked rationales, for one, are far longer than intact ones)."""
    from .train import train_student
    cfg, counts, lengths = _fit_config(p, pairs, seed)
    if probes is None and train:
        probes = {"train": (list(train)[:p.n_diag_train], ())}
    dev_eval = None
    missing = None                    # why this call could not train the student (a cached one is still found)
    if p.budget.early_stopping:
        cond = _cond((info or {}).get("condition", ""))
        if not heldout:
            missing = ("this budget stops early on the held-out slice of train: pass heldout= "
                       "(the second value of protocol.split_train)")
        elif cfg.stop_rule == "learned" and not (probes or {}).get("train"):
            missing = ("the 'learned' stop rule needs the training questions: build the unit with train= "
                       "(protocol.unit) or pass probes={'train': (examples, pairs)}")
        else:
            dev_eval = _stopping_eval(list(heldout), cfg.eval_max_new_tokens, bool(cond) and writes_after_answer(cond),
                                      probes if cfg.probe else None)
    if missing is not None:
        from .train import cached_student
        found = cached_student(p.student, pairs, cfg)
        if found is None:
            raise ValueError(missing)
        student = found
    else:
        student = train_student(p.student, pairs, cfg, dev_eval=dev_eval,
                                info={"task": p.task, "budget": asdict(p.budget), **(info or {})}, progress=progress,
                                token_counts=counts)
    for k, v in lengths.items():      # students trained before these were recorded
        student.meta.setdefault(k, v)
    return student


def _fit_config(p: Protocol, pairs: Sequence[Any], seed: int) -> tuple[Any, Any, dict[str, int]]:
    """``(TrainConfig, token counts, longest lengths)`` :func:`fit` trains ``pairs`` with: the window and the
    decoding budget sized from the pairs, tokenized once."""
    from .train import longest, pair_token_counts
    counts = pair_token_counts(p.student, pairs)      # tokenized once: sizes the window, then checked in training
    lengths = longest(counts)
    cfg = p.train_config(seed, longest_pair=lengths["max_pair_tokens"],
                         longest_completion=lengths["max_completion_tokens"])
    return cfg, counts, lengths


def fit_key(p: Protocol, pairs: Sequence[Any], *, seed: int) -> str:
    """The cache key of the student :func:`fit` trains on ``pairs`` (``train.student_key`` of its config)."""
    from .train import student_key
    return student_key(p.student, pairs, _fit_config(p, pairs, seed)[0])


def _stopping_eval(heldout: list[Any], max_new_tokens: int, stop_at_answer: bool,
                   probes: Mapping[str, tuple[Sequence[Any], Sequence[Any]]] | None) -> Callable[[Any, Any], Any]:
    """``evaluate(model, tokenizer)`` for early stopping: held-out accuracy, plus the probes' read-outs."""
    from .decode import dev_accuracy
    acc = dev_accuracy(heldout, max_new_tokens=max_new_tokens, stop_at_answer=stop_at_answer)
    if not probes:
        return acc
    train_ex, _ = probes.get("train", ((), ()))
    train_acc = dev_accuracy(list(train_ex), max_new_tokens=max_new_tokens,
                             stop_at_answer=stop_at_answer) if train_ex else None

    def evaluate(model: Any, tok: Any) -> dict[str, float]:
        out = {"accuracy": acc(model, tok)}
        if train_acc is not None:
            out["train_accuracy"] = train_acc(model, tok)
        for name, (_, pairs) in probes.items():
            if pairs:
                out[f"answer_loss_{name}"] = answer_loss(model, tok, list(pairs))
        return out
    return evaluate


def decode_budget(p: Protocol, student: Any) -> int:
    """``max_new_tokens`` for ``student``: the protocol's, or its longest training completion (+ EOS) if
    that is longer — a budget shorter than the targets it learned would score a student that writes them
    faithfully as giving no answer. (:func:`fit` records the length on every student it returns.)"""
    return max(p.max_new_tokens, int(student.meta.get("max_completion_tokens") or 0))


def writes_after_answer(condition: str) -> bool:
    """Whether ``condition``'s targets go on after the answer sentence (CoT after the label): such a student
    is decoded only up to its answer, as at test time in Wadhwa et al. (the text after it is not needed).
    Every such condition also answers first (:func:`answer_first`); label-only answers first and stops anyway."""
    from .targets import get_condition
    return get_condition(condition).position == "after"


def answer_first(condition: str) -> bool:
    """Whether ``condition``'s student writes its answer first (label-only, CoT after the label, fillers, …):
    then the answer sentence right after the prompt is what it predicts, and :func:`gold_margin` reads it."""
    from .targets import get_condition
    return get_condition(_cond(condition) or condition).position != "before"


def gold_margin(model: Any, tok: Any, examples: Sequence[Any]) -> float:
    """Mean over ``examples`` of log p(gold answer sentence) − max over the other options of log p(that
    answer sentence), teacher-forced right after the prompt, for a loaded ``(model, tokenizer)``: an
    answer-first student's confidence in the gold label (> 0 where it would answer right), continuous where
    accuracy moves in steps — the creatures task's early read-out. Only meaningful for answer-first
    conditions (:func:`answer_first`); :func:`score` records it on every split it scores."""
    import torch

    from .decode import format_input
    from .prompts import format_answer
    was_training, side = model.training, tok.padding_side
    model.eval()
    margins = []
    tok.padding_side = "right"              # the prompt's positions are the same in every row
    try:
        with torch.no_grad():
            for ex in examples:
                prompt = format_input(ex)
                plen = len(tok(prompt)["input_ids"])
                texts = [prompt + " " + format_answer(ex, o) for o in ex.options]
                enc = tok(texts, return_tensors="pt", padding=True).to(model.device)
                logp = torch.log_softmax(model(**enc).logits.float(), dim=-1)
                scores = []
                for r, ids in enumerate(enc["input_ids"]):
                    n = int(enc["attention_mask"][r].sum())
                    scores.append(float(sum(logp[r, j - 1, ids[j]] for j in range(plen, n))))
                gold = scores[ex.options.index(ex.answer)]
                margins.append(gold - max(sc for o, sc in zip(ex.options, scores) if o != ex.answer))
    finally:
        tok.padding_side = side
        model.train(was_training)
    return float(np.mean(margins))


def decode(p: Protocol, student: Any, examples: Sequence[Any], method: str = "greedy", *, seed: int = 0,
           k: int | None = None, condition: str | None = None, progress: bool = False) -> list[Any]:
    """Decode ``examples`` with a trained student: ``greedy`` or ``sc`` (``k`` samples, default ``p.sc_k``).
    A student whose targets go on after the label (CoT after the label: :func:`writes_after_answer`) stops at
    its answer, as at test time in Wadhwa et al.: the rationale it would write after the label is not needed.
    The condition is the student's own (:func:`student_condition`) unless ``condition`` names one."""
    from .decode import decode_student
    sc = method == "sc"
    condition = condition or student_condition(student)
    answer_first = condition is not None and writes_after_answer(condition)
    return decode_student(student, examples, method=method, k=(k or p.sc_k) if sc else 1,
                          temperature=p.sc_temperature if sc else None, max_new_tokens=decode_budget(p, student),
                          seed=seed, batch_size=p.decode_batch_size, stop_at_answer=True if answer_first else None,
                          progress=progress)


@dataclass(frozen=True)
class Unit:
    """One student of a comparison, for :func:`run_units`: what :func:`fit` trains it on (``pairs``,
    ``seed``, ``info``) and the decodes it needs, ``(examples, method)`` each, as :func:`decode` takes them.
    How the student decodes (stopping at its answer or not) is the student's own: :func:`student_condition`."""
    pairs: tuple[Any, ...]
    seed: int
    info: dict[str, Any]
    decodes: tuple[tuple[tuple[Any, ...], str], ...] = ()
    heldout: tuple[Any, ...] = ()          # for a budget that stops early on the held-out slice
    probes: tuple[tuple[str, tuple[Any, ...], tuple[Any, ...]], ...] = ()   # (name, examples, gold pairs): fit's probes
    names: tuple[str, ...] = ()            # one per decode: "eval:greedy", "eval:sc", a control split's name, "train", "heldout"


def unit(p: Protocol, pairs: Sequence[Any], *, seed: int, info: dict[str, Any], evaluate: Sequence[Any] = (),
         methods: Sequence[str] = ("greedy",), train: Sequence[Any] = (), heldout: Sequence[Any] = (),
         diagnostics: bool = True, pairs_for: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
         also: Mapping[str, Sequence[Any]] | Sequence[Sequence[Any]] = ()) -> Unit:
    """A :class:`Unit` whose decodes are those the notebook will ask for: ``evaluate`` by each of
    ``methods``, then each example set of ``also`` greedily (further evaluation splits), plus
    (``diagnostics``) what :func:`score`'s diagnostics decode — the first
    ``p.n_diag_train`` of ``train`` and all of ``heldout``, greedily. ``heldout`` is also what a budget
    with early stopping evaluates on (:func:`fit`); with ``budget.probe`` and ``pairs_for`` (as :func:`score`
    takes it) the unit also carries :func:`fit`'s probes (the first ``p.n_diag_train`` training questions
    and the held-out slice, with their gold pairs)."""
    decodes = [(tuple(evaluate), m) for m in methods if evaluate]
    names = [f"eval:{m}" for m in methods if evaluate]
    named_also = also.items() if isinstance(also, Mapping) else ((f"also:{i}", exs) for i, exs in enumerate(also))
    for name, exs in named_also:
        if exs:
            decodes.append((tuple(exs), "greedy"))
            names.append(name)
    probes: list[tuple[str, tuple[Any, ...], tuple[Any, ...]]] = []
    if (p.budget.probe or p.budget.rule == "learned") and (pairs_for is not None or p.budget.rule == "learned"):
        for name, exs in (("train", list(train)[:p.n_diag_train]), ("heldout", list(heldout))):
            if exs:
                probes.append((name, tuple(exs), tuple(pairs_for(exs)) if pairs_for is not None else ()))
    if diagnostics and train:
        decodes.append((tuple(list(train)[:p.n_diag_train]), "greedy"))
        names.append("train")
    if diagnostics and heldout:
        decodes.append((tuple(heldout), "greedy"))
        names.append("heldout")
    return Unit(tuple(pairs), seed, dict(info), tuple(decodes), tuple(heldout), tuple(probes), tuple(names))


class Decodes(list):
    """A unit's predictions, one list per decode in the unit's order (so ``preds, *rest = decodes`` works),
    also by name (``decodes.named["dev_seen"]``, ``decodes.named["eval:greedy"]``: :attr:`Unit.names`)."""

    def __init__(self, lists: Sequence[list[Any]] = (), names: Sequence[str] = ()) -> None:
        super().__init__(lists)
        self.named = dict(zip(names, lists))

    def controls(self, splits: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Sequence[Any], list[Any]]]:
        """``{split: (examples, predictions)}`` for :func:`score`'s ``controls`` (``splits``: ``Setup.controls``)."""
        return {name: (exs, self.named[name]) for name, exs in splits.items()}

    def __reduce__(self):                    # through a worker process and back
        return (Decodes, (list(self), list(self.named)))


class UnitResult(NamedTuple):
    """What :func:`run_units` returns per unit: the trained ``student`` and its ``decodes`` (:class:`Decodes`:
    one prediction list per decode of the unit, also by name). A tuple, so ``student, (preds, *_) = result``."""
    student: Any
    decodes: Decodes


def _run_unit(p: Protocol, u: Unit, threads: int | None = None) -> UnitResult:
    if threads:
        import torch
        torch.set_num_threads(threads)
    student = fit(p, list(u.pairs), seed=u.seed, info=u.info, heldout=list(u.heldout) or None,
                  probes={name: (ex, pairs) for name, ex, pairs in u.probes} or None)
    return UnitResult(student, Decodes([decode(p, student, list(ex), method, seed=u.seed)
                                        for ex, method in u.decodes], u.names))


def run_units(p: Protocol, units: Mapping[Any, Unit], *, n_workers: int | None = None,
              progress: bool = True) -> dict[Any, UnitResult]:
    """Train and decode every unit of ``units`` (``key → Unit``; the key is the notebook's own, e.g.
    ``(condition, seed)``) and return ``key →`` :class:`UnitResult` ``(student, decodes)``, in ``units``' order —
    ``n_workers`` (default :func:`workers`) at a time, each worker a process with an equal share of this
    process's torch threads. Units are independent and each student and decode lands in the cache the
    moment it is done, so a run cut off resumes. With one worker everything runs here, in order."""
    from tqdm.auto import tqdm
    if not isinstance(units, Mapping):
        raise TypeError(f"run_units takes a mapping key → Unit (e.g. {{(condition, seed): unit(...)}}), "
                        f"not {type(units).__name__}")
    keys = list(units)
    n = min(n_workers or workers(), len(keys))
    out: dict[Any, Any] = {}
    with tqdm(total=len(keys), desc=f"students ({n} at a time)", unit="student", disable=not progress) as bar:
        if n <= 1:
            for key in keys:
                out[key] = _run_unit(p, units[key])
                bar.update()
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        import torch
        threads = max(1, torch.get_num_threads() // n)
        # longest first, so the last worker to finish is not the one left with the biggest student
        order = sorted(keys, key=lambda k: -sum(len(x.prompt) + len(x.completion) for x in units[k].pairs))
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(_run_unit, p, units[k], threads): k for k in order}
            for fut in as_completed(futures):
                out[futures[fut]] = fut.result()      # a worker's exception is raised here, as it was
                bar.update()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)   # on an error: finish the running ones, start no more
    return {k: out[k] for k in keys}


def answer_pairs(corpus: Any, condition: str, options: dict[str, Any] | None = None
                 ) -> Callable[[Sequence[Any]], list[Any]]:
    """``pairs_for(examples)`` for :func:`score`: one gold-label training pair per question of ``examples``
    in ``condition``'s format (SCoTD's several CoTs per question are scored as Greedy-CoT: the same format),
    built from ``corpus`` (which must hold those questions); ``options``: the condition's own (a masked share ``p``)."""
    from .corpus import only_questions
    from .targets import pairs_from_corpus
    cond = "greedy_cot" if condition == "scotd" else condition
    if cond == "key_tokens":        # the words after a key-token answer are training text: scored with none
        options = {"key_tokens": lambda ex: []}

    def pairs_for(examples: Sequence[Any]) -> list[Any]:
        return pairs_from_corpus(only_questions(corpus, examples), cond, supervised=True, **(options or {}))
    return pairs_for


def answer_token_loss(student: Any, pairs: Sequence[Any], batch_size: int = 16) -> float:
    """Mean negative log-likelihood per token of the answer sentence ("So the answer is (b).") alone,
    teacher-forced on ``pairs`` — the part of the loss that is about the answer, whatever the
    condition puts around it. ``student``: a trained student (loaded here); :func:`answer_loss` takes
    a loaded model."""
    tok, model = student.load()
    try:
        return answer_loss(model, tok, pairs, batch_size)
    finally:
        del model


def answer_loss(model: Any, tok: Any, pairs: Sequence[Any], batch_size: int = 16) -> float:
    """:func:`answer_token_loss` of a loaded ``(model, tokenizer)``."""
    import torch

    from .prompts import ANSWER_PREFIX
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            batch = pairs[i:i + batch_size]
            ids, spans = [], []
            for pr in batch:
                full = pr.prompt + pr.completion
                start = full.find(ANSWER_PREFIX, len(pr.prompt))
                if start < 0:
                    raise ValueError(f"pair for {pr.example_id} has no answer sentence")
                end = full.find(".", start + len(ANSWER_PREFIX)) + 1 or len(full)
                enc = tok(full, return_offsets_mapping=True, add_special_tokens=True)
                tok_ids = enc["input_ids"]
                span = [j for j, (a, b) in enumerate(enc["offset_mapping"]) if b > start and a < end and j > 0]
                ids.append(tok_ids)
                spans.append(span)
            width = max(len(x) for x in ids)
            pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            inp = torch.full((len(ids), width), pad, dtype=torch.long)
            att = torch.zeros((len(ids), width), dtype=torch.long)
            for r, x in enumerate(ids):                      # right padding: positions stay 0..len-1
                inp[r, :len(x)] = torch.tensor(x)
                att[r, :len(x)] = 1
            logits = model(input_ids=inp.to(model.device), attention_mask=att.to(model.device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for r, span in enumerate(spans):
                for j in span:
                    total -= float(logp[r, j - 1, inp[r, j]])
                    count += 1
    model.train(was_training)
    return total / max(count, 1)


def rationale_agreement(examples: Sequence[Any], preds: Sequence[Any]) -> float | None:
    """Share of answered predictions whose letter is the option their own rationale concludes
    (:func:`helpers.prompts.rationale_conclusion`); None when no rationale states a conclusion."""
    from .prompts import rationale_conclusion
    by_id = {ex.id: ex for ex in examples}
    agree = n = 0
    for pr in preds:
        if pr.pred is None:
            continue
        c = rationale_conclusion(by_id[pr.id], pr.text)
        if c is None:
            continue
        n += 1
        agree += c == pr.pred
    return agree / n if n else None


def score(p: Protocol, student: Any, preds: Sequence[Any], examples: Sequence[Any], *, condition: str,
          seed: int, train: Sequence[Any] = (), heldout: Sequence[Any] = (),
          pairs_for: Callable[[Sequence[Any]], Sequence[Any]] | None = None, decode_method: str = "greedy",
          diagnostics: bool = True, controls: Mapping[str, tuple[Sequence[Any], Sequence[Any]]] | None = None,
          margins: bool = False, **keys: Any) -> dict[str, Any]:
    """One results row for one student: accuracy with its CI on ``examples`` and the diagnostics.

    ``train``/``heldout``: questions for the fit and generalisation diagnostics (greedy decodes, cached);
    ``pairs_for(examples)``: the condition's training pairs for given questions (for the answer-token
    loss; gold labels). The predictions are kept in the row (``preds``) for paired tests.
    ``controls``: ``{split: (examples, predictions)}`` of the task's control splits (:func:`control_splits`,
    decoded by the unit's ``also=``): each split's accuracy, CI and predictions go to ``row["splits"]``.
    With controls (or ``margins``) an answer-first student (:func:`answer_first`, read from its own metadata)
    also gets ``row["gold_margin"]``: :func:`gold_margin` on the reported split and every control split."""
    from .evaluate import metrics
    row: dict[str, Any] = {"condition": condition, "seed": seed, "decode": decode_method, **keys,
                           **metrics(list(preds), seed=seed),
                           "student_key": student.key, "train_steps": student.meta.get("global_steps"),
                           "train_pairs": student.meta.get("n_pairs"),
                           "train_seconds": student.meta.get("train_seconds"),
                           "best_step": student.meta.get("best_step"),
                           "converged": student.meta.get("converged"),
                           "stopped_by": student.meta.get("stopped_by"),
                           "tokens_seen": student.meta.get("non_padding_tokens_seen"),
                           "dev_curve": student.meta.get("dev_curve") or None,
                           "train_loss": student.meta.get("train_loss"),
                           "max_seq_len": student.meta.get("train_config", {}).get("max_seq_len"),
                           "max_new_tokens": decode_budget(p, student),
                           "precision": student.meta.get("precision") or ("bf16" if student.meta.get("bf16") else "fp32")}
    if student.meta.get("same_under_rule"):     # trained without the rule's train-slice requirement; replay: same stop
        row["same_under_rule"] = student.meta["same_under_rule"]
    row["rationale_agreement"] = rationale_agreement(examples, preds)
    if diagnostics:
        n = p.n_diag_train
        if train:
            tp = decode(p, student, list(train)[:n], "greedy", seed=seed, condition=_cond(condition))
            row["train_accuracy"] = float(np.mean([x.correct for x in tp]))
        if heldout:
            hp = decode(p, student, list(heldout), "greedy", seed=seed, condition=_cond(condition))
            row["heldout_accuracy"] = float(np.mean([x.correct for x in hp]))
        if pairs_for is not None:
            if train:
                row["answer_loss_train"] = answer_token_loss(student, list(pairs_for(list(train)[:n])))
            if heldout:
                row["answer_loss_heldout"] = answer_token_loss(student, list(pairs_for(list(heldout))))
    if controls:
        row["splits"] = {name: {**metrics(list(xp), seed=seed),
                                "preds": [{"id": x.id, "gold": x.gold, "pred": x.pred, "correct": x.correct}
                                          for x in xp]}
                         for name, (_, xp) in controls.items()}
    own = student_condition(student) or _cond(condition)
    if (controls or margins) and own and answer_first(own):
        tok, model = student.load()
        try:
            row["gold_margin"] = {name: gold_margin(model, tok, exs) for name, exs in
                                  {p.eval_split: examples, **{n: e for n, (e, _) in (controls or {}).items()}}.items()}
            row["gold_margin_split"] = row["gold_margin"][p.eval_split]     # this row's split (on_split: a control's)
        finally:
            del model
    row["preds"] = list(preds)
    return row


def student_condition(student: Any) -> str | None:
    """The condition a student was trained on, read from its own metadata: the condition of its training pairs
    (one per student), else the ``condition`` its trainer was told (``info``); None if neither names one."""
    named = {c for c in (student.meta.get("conditions") or []) if _cond(c)}
    if len(named) == 1:
        return named.pop()
    return _cond(str(student.meta.get("info", {}).get("condition", "")))


def _cond(name: str) -> str | None:
    from .targets import CONDITIONS
    return name if name in CONDITIONS else None


# --------------------------------------------------------------------------------------- summaries

def _matrix(rows: Sequence[dict[str, Any]]) -> tuple[list[int], list[str], np.ndarray]:
    """Correctness matrix (seeds × questions, questions sorted by id) of one condition's rows."""
    rows = sorted(rows, key=lambda r: r["seed"])
    ids = sorted(x.id for x in rows[0]["preds"])
    mats = []
    for r in rows:
        c = {x.id: x.correct for x in r["preds"]}
        if sorted(c) != ids:
            raise ValueError(f"condition {r['condition']!r} seed {r['seed']} was scored on other questions")
        mats.append([c[i] for i in ids])
    return [r["seed"] for r in rows], ids, np.array(mats, dtype=float)


def summarize(rows: Sequence[dict[str, Any]], *, baseline: str | None = "label_only",
              group: Sequence[str] = ("condition",), paper: Callable[[dict[str, Any]], float | None] | None = None,
              carry: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One summary row per group (default: per condition) of per-seed rows from :func:`score`.

    Columns: the group keys, ``seeds``, ``per_seed`` accuracies, ``accuracy`` (mean over seeds) with
    ``ci_low``/``ci_high`` (:func:`helpers.stats.seed_mean_ci`: seeds and questions), and against ``baseline``
    (a condition of the same group apart from ``condition``, matched by seed and question) the headline
    test of :func:`helpers.stats.seed_test`: ``diff`` with ``diff_ci_low/high``, ``p_value``, ``df`` and the
    signed ``per_seed_diff``; per seed the exact McNemar ``p_per_seed``; and ``p_questions``, the paired
    permutation test over questions of the seed-averaged differences — conditional on these trained students,
    never the headline. Diagnostics are averaged over seeds; ``steps`` lists each seed's optimizer steps and
    ``converged`` counts the students that stopped by the rule (None without early stopping).
    ``carry``: fields copied from the group's first row (e.g. ``n_rationales``). ``paper(row)`` adds the
    paper's number."""
    from .stats import mcnemar, question_permutation_p, seed_mean_ci, seed_test
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in group), []).append(r)
    out = []
    for key, rs in groups.items():
        seeds, ids, m = _matrix(rs)
        _, lo, hi = seed_mean_ci(m)
        s: dict[str, Any] = dict(zip(group, key))
        s.update({k: rs[0].get(k) for k in carry})
        s.update({"seeds": seeds, "per_seed": [float(x) for x in m.mean(axis=1)], "accuracy": float(m.mean()),
                  "ci_low": lo, "ci_high": hi, "n": len(ids)})
        for d in ("train_accuracy", "heldout_accuracy", "answer_loss_train", "answer_loss_heldout",
                  "rationale_agreement", "no_answer_rate", "mean_vote_share", "train_steps", "train_pairs",
                  "train_seconds", "tokens_seen", "gold_margin_split"):
            vals = [r[d] for r in rs if r.get(d) is not None]
            s[d] = float(np.mean(vals)) if vals else None
        by_seed = sorted(rs, key=lambda r: r["seed"])
        s["steps"] = [r.get("train_steps") for r in by_seed]
        conv = [r.get("converged") for r in by_seed]
        s["converged"] = None if all(c is None for c in conv) else sum(bool(c) for c in conv)
        counts: dict[str, int] = {}
        for r in rs:
            for lab, c in r.get("pred_counts", {}).items():
                counts[lab] = counts.get(lab, 0) + c
        s["answers"] = counts
        if baseline is not None and "condition" in group and s["condition"] != baseline:
            bkey = tuple(baseline if k == "condition" else v for k, v in zip(group, key))
            if bkey in groups:
                bseeds, bids, bm = _matrix(groups[bkey])
                common = [x for x in seeds if x in bseeds]
                if bids != ids:
                    raise ValueError(f"{key} and baseline {bkey} were scored on different questions")
                if common:
                    a = m[[seeds.index(x) for x in common]]
                    b = bm[[bseeds.index(x) for x in common]]
                    t = seed_test(a, b)
                    s["baseline"] = baseline
                    s.update({k: t[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "p_value", "df",
                                                "per_seed_diff", "seed_level", "test")})
                    s["p_per_seed"] = [mcnemar(a[i] == 1, b[i] == 1)["p_value"] for i in range(len(common))]
                    s["p_questions"] = question_permutation_p((a - b).mean(axis=0))
        if paper is not None:
            s["paper"] = paper(s)
        out.append(s)
    return out


def on_split(rows: Sequence[dict[str, Any]], split: str | None) -> list[dict[str, Any]]:
    """``rows`` (:func:`score`'s, scored with ``controls=``) re-pointed at one control split — its predictions
    as ``preds``, its mean gold log-odds (answer-first students) as ``gold_margin_split`` — so that
    :func:`summarize` gives that split the same seed-level table and tests as the reported one. ``split``
    None: the rows as they are (the reported split; :func:`score` sets its ``gold_margin_split``)."""
    from types import SimpleNamespace
    out = []
    for r in rows:
        margins = r.get("gold_margin") or {}
        if split is None:
            out.append(dict(r))
            continue
        if split not in (r.get("splits") or {}):
            raise ValueError(f"{r.get('condition')} seed {r.get('seed')}: no control split {split!r} "
                             f"(scored: {sorted(r.get('splits') or {})}); score it with controls=")
        sp = r["splits"][split]
        out.append(dict(r, split=split, preds=[x if hasattr(x, "correct") else SimpleNamespace(**x) for x in sp["preds"]],
                        gold_margin_split=margins.get(split)))
    return out


def check_matched(rows: Sequence[dict[str, Any]], budget: Budget | None = None, *, why: str | None = None) -> int:
    """The optimizer steps every compared student took; raises if they differ (an unfair comparison).

    Under a ``budget`` with early stopping the students are matched by the rule, not the step count:
    every one must have stopped within ``budget.steps`` *and* converged — stopped by the rule, not by the
    cap (:func:`check_converged`; ``why``: the notebook's stated reason to show a table with students that
    did not); returns the most steps any took."""
    steps = {r.get("train_steps") for r in rows}
    if budget is not None and budget.early_stopping:
        bad = [s for s in steps if not isinstance(s, int) or s > budget.steps]
        if bad:
            raise ValueError(f"students outside the budget of {budget.steps} steps: {sorted(map(str, bad))}")
        check_converged(rows, why=why)
        return max(steps)
    if len(steps) != 1:
        raise ValueError(f"unmatched training budgets: steps {sorted(map(str, steps))}")
    return steps.pop()


def check_converged(rows: Sequence[dict[str, Any]], *, why: str | None = None) -> dict[str, Any]:
    """Refuse a table that compares a student which did not learn by the rule: every per-seed row must
    come from a student that stopped by patience on the held-out slice of train (``converged``), not one
    that hit the step cap or was trained for a fixed number of steps. ``why``: the notebook's stated
    reason to show the table anyway (it is returned, to be printed with the table). Returns
    ``{"converged": n, "students": n, "why": why, "steps": {condition: [steps per seed]}}``."""
    bad = [f"{r.get('condition')} seed {r.get('seed')} ({r.get('stopped_by') or 'fixed steps'}, "
           f"{r.get('train_steps')} steps)" for r in rows if not r.get("converged")]
    steps: dict[str, list[Any]] = {}
    for r in sorted(rows, key=lambda r: (str(r.get("condition")), r.get("seed", 0))):
        steps.setdefault(str(r.get("condition")), []).append(r.get("train_steps"))
    if bad and not why:
        raise ValueError(f"{len(bad)} of {len(rows)} students did not converge under the rule: {', '.join(bad[:6])}"
                         f"{' …' if len(bad) > 6 else ''}; raise the budget's step cap, or pass why= to say "
                         "in the notebook why the table is shown anyway")
    return {"converged": len(rows) - len(bad), "students": len(rows), "why": why if bad else None, "steps": steps}


# ------------------------------------------------------------------- paired splits (SCoTD §3.4) and teachers

def paired_gap(rows: Sequence[dict[str, Any]], pair_of: dict[str, str], *, split: str = "split",
               before: str = "original", after: str = "contrast",
               baseline: str | None = "label_only") -> list[dict[str, Any]]:
    """The change in accuracy from split ``before`` to split ``after`` on *paired* questions, per condition
    (SCoTD §3.4: an IMDb review → its contrast edit, whose label is flipped).

    ``rows``: :func:`score` rows, each with ``condition``, ``seed`` and ``rows[i][split]`` = ``before`` or
    ``after``; ``pair_of`` maps every question id to its pair id (an original and its contrast share one).
    Per condition and seed, ``d_i = correct(after of pair i) − correct(before of pair i)``. Returns one row
    per condition: ``accuracy_<before>``, ``accuracy_<after>``, ``per_seed`` (each seed's change),
    ``diff`` (the mean change) with ``diff_ci_low/high`` and ``p_value`` (:func:`helpers.stats.seed_test`:
    seeds and pairs), ``p_questions`` (sign-flip permutation over pairs, conditional on the students);
    against ``baseline`` (same seeds and pairs): ``vs_baseline_diff`` (this change minus the baseline's)
    with its interval, ``vs_baseline_p`` and ``vs_baseline_p_questions``. Raises if a seed lacks a split or the splits cover other pairs."""
    from .stats import question_permutation_p, seed_test
    by: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}
    for r in rows:
        if r.get(split) not in (before, after):
            raise ValueError(f"condition {r.get('condition')!r} seed {r.get('seed')}: {split}={r.get(split)!r}, "
                             f"expected {before!r} or {after!r}")
        slot = by.setdefault(r["condition"], {}).setdefault(r["seed"], {})
        if r[split] in slot:
            raise ValueError(f"condition {r['condition']!r} seed {r['seed']}: two rows for {split}={r[split]!r}")
        slot[r[split]] = r

    def correct_by_pair(r: dict[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for x in r["preds"]:
            if x.id not in pair_of:
                raise ValueError(f"condition {r['condition']!r} seed {r['seed']}: question {x.id!r} has no pair id")
            out[pair_of[x.id]] = float(x.correct)
        return out

    mats: dict[str, tuple[list[int], list[str], np.ndarray, np.ndarray]] = {}
    for cond, seeds in by.items():
        pids: list[str] | None = None
        b_rows, a_rows = [], []
        for seed in sorted(seeds):
            got = seeds[seed]
            if set(got) != {before, after}:
                raise ValueError(f"condition {cond!r} seed {seed}: needs both {before!r} and {after!r} rows, "
                                 f"has {sorted(got)}")
            cb, ca = correct_by_pair(got[before]), correct_by_pair(got[after])
            if set(cb) != set(ca):
                raise ValueError(f"condition {cond!r} seed {seed}: {before!r} and {after!r} cover other pairs "
                                 f"(only in {before!r}: {sorted(set(cb) - set(ca))[:3]}, "
                                 f"only in {after!r}: {sorted(set(ca) - set(cb))[:3]})")
            if pids is None:
                pids = sorted(cb)
            elif sorted(cb) != pids:
                raise ValueError(f"condition {cond!r} seed {seed} was scored on other pairs than its first seed")
            b_rows.append([cb[p] for p in pids])
            a_rows.append([ca[p] for p in pids])
        mats[cond] = (sorted(seeds), pids or [], np.array(b_rows), np.array(a_rows))

    out = []
    for cond, (seeds, pids, mb, ma) in mats.items():
        d = ma - mb
        t = seed_test(ma, mb)
        row: dict[str, Any] = {"condition": cond, "seeds": seeds, f"accuracy_{before}": float(mb.mean()),
                               f"accuracy_{after}": float(ma.mean()), "per_seed": [float(x) for x in d.mean(axis=1)],
                               "diff": t["diff"], "diff_ci_low": t["diff_ci_low"], "diff_ci_high": t["diff_ci_high"],
                               "p_value": t["p_value"], "p_questions": question_permutation_p(d.mean(axis=0)),
                               "test": t["test"], "n_pairs": len(pids)}
        if baseline is not None and cond != baseline and baseline in mats:
            bseeds, bpids, bmb, bma = mats[baseline]
            if bpids != pids:
                raise ValueError(f"{cond!r} and baseline {baseline!r} were scored on different pairs")
            common = [s for s in seeds if s in bseeds]
            if common:
                da = d[[seeds.index(s) for s in common]]
                db = (bma - bmb)[[bseeds.index(s) for s in common]]
                tb = seed_test(da, db)
                row["baseline"] = baseline
                row["vs_baseline_diff"] = tb["diff"]
                row["vs_baseline_diff_ci_low"], row["vs_baseline_diff_ci_high"] = tb["diff_ci_low"], tb["diff_ci_high"]
                row["vs_baseline_p"] = tb["p_value"]
                row["vs_baseline_p_questions"] = question_permutation_p((da - db).mean(axis=0))
        out.append(row)
    return out


def teacher_accuracy(corpus: Any, seed: int = 0) -> dict[str, Any]:
    """A teacher's corpus on labelled questions as one row: accuracy per CoT (correct CoTs / CoTs) with a
    95% interval that resamples *questions* (a question's N CoTs are not independent), the no-answer
    rate, and the accuracy of the majority vote over each question's CoTs (ties: the label sampled
    first) with its interval. Questions without samples are left out (``questions`` counts the rest)."""
    from .decode import majority_vote
    right, total, vote, n_none = [], [], [], 0
    for e in corpus.entries:
        if e.example.answer is None:
            raise ValueError(f"{e.example.task}/{e.example.id}: no gold answer to score the teacher on")
        if not e.samples:
            continue
        right.append(sum(s.label == e.example.answer for s in e.samples))
        total.append(len(e.samples))
        vote.append(float(majority_vote([s.label for s in e.samples])[0] == e.example.answer))
        n_none += sum(s.label is None for s in e.samples)
    if not total:
        raise ValueError("the corpus holds no samples")
    from .stats import accuracy_ci, ratio_ci
    r, t, v = np.array(right, float), np.array(total, float), np.array(vote)
    _, lo, hi = ratio_ci(r, t, seed=seed)
    _, vlo, vhi = accuracy_ci(v, seed=seed)
    return {"teacher": corpus.meta.get("teacher"), "questions": len(t), "samples": int(t.sum()),
            "accuracy": float(r.sum() / t.sum()), "ci_low": float(lo), "ci_high": float(hi),
            "no_answer_rate": n_none / float(t.sum()), "majority_vote_accuracy": float(v.mean()),
            "majority_vote_ci_low": float(vlo), "majority_vote_ci_high": float(vhi)}
