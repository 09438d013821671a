"""Student fine-tuning: TRL ``SFTTrainer`` on (prompt, completion) pairs, loss on the completion only.

* **Loss.** A prompt-completion dataset: TRL masks the prompt (labels -100) and appends EOS to the
  completion. :func:`check_pairs` refuses, before training, any pair whose completion would be cut
  away entirely by ``max_seq_len`` (TRL would otherwise drop it silently), and the trainer's dataset is
  checked to still hold every pair.
* **Batches.** Length-grouped (``train_sampling_strategy="group_by_length"``). On CPU they are
  padding-free: a step's sequences are concatenated into one row with per-sequence ``position_ids``
  (TRL's padding-free collator) and attention stays within each sequence;
  the LM head scores only the loss positions — both in :mod:`helpers.cpu_training`. A step holds the same
  sequences and each gets the same loss as in a padded batch (``tests/test_train.py``). Elsewhere
  (GPUs) TRL's padded batches and fused head are used. The metadata records real and padded token counts.
* **Precision.** bf16 autocast (fp32 weights) where :func:`helpers.precision.choose_precision` picks it
  (``bf16=None`` → auto): a GPU with bf16, or a CPU with native bf16 (``avx512_bf16``/``amx_bf16``) on
  which a timed check found bf16 faster; fp32 otherwise. bf16 on CPU uses eager attention. The choice
  and its reason are stored in the student metadata.
* **LoRA** (``lora=True``): peft adapters on all linear layers, merged into the weights on save, so a
  saved student is always a plain transformers checkpoint.
* **Early stopping** on dev accuracy (every ``eval_every`` steps the caller's ``dev_eval(model, tokenizer)``
  is called — e.g. :func:`helpers.decode.dev_accuracy`, a greedy decode of a small dev subset; stop
  after ``patience`` evaluations without an improvement of at least ``threshold``; the best weights
  are restored) — Wadhwa et al. §2 (patience 10, threshold 0.02).
* **Cache.** A student is stored under ``$COTLAB_CACHE/students/<key>/`` where ``key`` hashes the
  model id, the pairs (hence corpus, condition and target options), the hyper-parameters and the
  seed. The directory is built under a temporary name and renamed into place with
  ``cotlab_student.json`` (the completion marker + training metadata: loss curve, time, tokens)
  inside it, so an interrupted run leaves no half student and a re-run reuses a finished one; the
  temporary folders of killed runs (``<key>.tmp-<pid>``, pid no longer alive) are removed by the next run.
* **Resume.** A run that is killed (a session's end, a crash, Ctrl-C) loses at most one evaluation interval:
  at every evaluation (``eval_every``; without evaluations every :data:`CHECKPOINT_EVERY` steps) the
  trainer writes a checkpoint — weights, optimizer, scheduler, RNG states, data position (transformers'
  own checkpoint) plus the stopping rule's state (its learning curve, patience, kept best weights) — under
  ``<key>.resume/``, and the next ``train_student`` of the same key resumes from the newest complete one
  (``tests/test_train.py``: a run killed mid-epoch and resumed gives the uninterrupted run's losses and
  weights). The folder is removed when the student is saved; ``COTLAB_RESUME=0`` turns checkpoints off. An
  inter-process lock (``<key>.lock``) keeps two processes from training one key at once: the second waits,
  then reuses it.

``accelerate launch -m helpers train …`` runs the same code data-parallel on GPUs.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from . import config
from .provenance import stable_hash
from .cpu_training import (VARLEN_ATTENTION, padding_free_supported, register_per_sequence_attention,  # noqa: F401
                           train_with_attention, training_attn_implementation, use_compact_lm_head)
from .targets import RESERVED_FILLER, Pair

log = logging.getLogger(__name__)

STUDENT_META = "cotlab_student.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors")
RESUME_SUFFIX = ".resume"       # students/<key>.resume/: checkpoints of a run not finished yet
STOPPER_STATE = "cotlab_stopper-{step}.json"
CHECKPOINT_EVERY = 50           # steps between checkpoints of a run without evaluations


def resume_enabled() -> bool:
    """Whether training writes checkpoints to resume from (``COTLAB_RESUME=0``: no)."""
    return os.environ.get("COTLAB_RESUME", "1").strip().lower() not in ("0", "false", "no", "off")


def has_weights(folder: Path) -> bool:
    """Whether a student folder still holds its weights (``python -m helpers cache prune --what weights``
    removes them and keeps the metadata: :func:`train_student` then retrains that student)."""
    return any((folder / w).exists() or any(folder.glob(w.replace(".", "-*.", 1))) for w in WEIGHT_FILES)
TRAIN_CODE_VERSION = 1          # bump when a change alters what a given key trains


@dataclass(frozen=True)
class Budget:
    """One training budget — the schedule and the stopping rule — identical for every condition compared: what
    a :class:`helpers.protocol.Protocol` holds and the trainer (:class:`TrainConfig`) consumes as it is.
    ``steps = -1`` trains ``TrainConfig.epochs`` epochs instead (``python -m helpers train --epochs``)."""
    steps: int                      # optimizer steps
    batch_size: int = 8
    lr: float = 2e-4
    warmup_ratio: float = 0.1       # linear warm-up over this share of the steps ...
    schedule: str = "linear"        # ... then this decay to 0 (transformers scheduler name)
    grad_accum: int = 1
    # Early stopping (Wadhwa et al. §2: evaluate every K steps, patience 10, threshold 0.02) on the
    # held-out slice of *train* — never the reported split. 0 = off: every student takes ``steps``.
    eval_every: int = 0
    patience: int = 10
    threshold: float = 0.02
    # a learning curve: at every evaluation also record the accuracy on the first ``n_diag_train`` training
    # questions and the teacher-forced answer loss on training and held-out pairs (costs a decode and two
    # forward passes per evaluation; the weights trained are the same)
    probe: bool = False
    # what counts as progress: "heldout" (held-out accuracy) or "learned" (held-out or train-slice accuracy:
    # a student stops only when it has stopped learning its own training questions too; implies ``probe``)
    rule: str = "heldout"
    # rule "learned": patience counts only once the student answers this share of its own training questions
    # (the train-slice probe) right — a student at chance on them has stalled, not converged, and trains on to the
    # cap (0 = off; students trained before it existed keep their cache keys)
    min_train_accuracy: float = 0.0

    @property
    def early_stopping(self) -> bool:
        return self.eval_every > 0

    def describe(self) -> str:
        text = (f"{self.steps} optimizer steps × batch {self.batch_size * self.grad_accum} "
                f"(= {self.steps * self.batch_size * self.grad_accum} training sequences) for every condition; "
                f"AdamW lr {self.lr:g}, {self.warmup_ratio:.0%} linear warm-up, then {self.schedule} decay")
        if self.early_stopping and self.rule == "learned":
            text = (f"every condition trained by one rule: until neither its held-out accuracy nor its accuracy on "
                    f"its own training questions improves by {self.threshold:g} for {self.patience} evaluations "
                    f"(every {self.eval_every} steps, from the end of the warm-up"
                    + (f" and not before it answers {self.min_train_accuracy:.0%} of its own training questions right"
                       if self.min_train_accuracy else "")
                    + f"; the weights of the best held-out accuracy kept), at most "
                    f"{self.steps} steps × batch {self.batch_size * self.grad_accum}; AdamW lr {self.lr:g}, "
                    f"{self.warmup_ratio:.0%} linear warm-up, then {self.schedule} decay over the {self.steps}-step cap")
        elif self.early_stopping:
            text += (f"; early stopping on the held-out slice of train (accuracy every {self.eval_every} steps, "
                     f"patience {self.patience}, threshold {self.threshold:g}; best weights kept), so "
                     f"{self.steps} steps is the most any student takes")
        return text


@dataclass(frozen=True)
class TrainConfig:
    """One fine-tuning run: a :class:`Budget` (the schedule and stopping rule every compared condition shares) and
    the run's own options — seed, window, LoRA, precision, what early stopping decodes."""
    budget: Budget
    seed: int = 0
    max_seq_len: int = 256
    epochs: float = 1.0                # with ``budget.steps = -1`` only: train this many epochs
    lora: bool = False
    bf16: bool | None = None           # None: bf16 autocast where supported
    weight_decay: float = 0.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    n_dev_eval: int = 64               # held-out questions an early-stopping evaluation decodes
    eval_max_new_tokens: int = 64

    # the budget's fields under the trainer's names (transformers' and the stopper's)
    lr = property(lambda self: self.budget.lr)
    batch_size = property(lambda self: self.budget.batch_size)
    grad_accum = property(lambda self: self.budget.grad_accum)
    max_steps = property(lambda self: self.budget.steps)
    warmup_ratio = property(lambda self: self.budget.warmup_ratio)
    lr_scheduler = property(lambda self: self.budget.schedule)
    eval_every = property(lambda self: self.budget.eval_every)
    patience = property(lambda self: self.budget.patience)
    threshold = property(lambda self: self.budget.threshold)
    stop_rule = property(lambda self: self.budget.rule)

    @property
    def probe(self) -> bool:
        """Record train-slice accuracy and answer losses at each evaluation (the rule "learned" needs them)."""
        return self.budget.probe or self.budget.rule == "learned"

    @property
    def min_steps(self) -> int:
        """No stop before this step: for the rule "learned", the warm-up (an evaluation during it is recorded and
        can set the best weights, but never counts against patience)."""
        b = self.budget
        return math.ceil(b.warmup_ratio * b.steps) if b.rule == "learned" and b.steps > 0 else 0

    @property
    def min_train_accuracy(self) -> float:
        """Rule "learned" only: patience counts once the train-slice accuracy has reached this share."""
        return self.budget.min_train_accuracy if self.budget.rule == "learned" else 0.0

    def with_budget(self, **changes: Any) -> "TrainConfig":
        """This config with ``changes`` to its budget (``cfg.with_budget(min_train_accuracy=0.0)``)."""
        return replace(self, budget=replace(self.budget, **changes))

    def key_fields(self) -> dict[str, Any]:
        """The hyper-parameters a student's cache key holds — under the names and with the omissions they have
        always had, so a student trained before the budget moved here keeps its key
        (``tests/test_sweep.py`` rebuilds every committed sweep record's key)."""
        d: dict[str, Any] = {
            "lr": float(self.lr), "epochs": float(self.epochs), "batch_size": self.batch_size,
            "grad_accum": self.grad_accum, "max_steps": self.max_steps, "lora": self.lora,
            "max_seq_len": self.max_seq_len, "seed": self.seed, "bf16": self.bf16,
            "warmup_ratio": float(self.warmup_ratio), "weight_decay": float(self.weight_decay),
            "lr_scheduler": self.lr_scheduler}
        if self.lora:
            d.update(lora_r=self.lora_r, lora_alpha=self.lora_alpha, lora_dropout=float(self.lora_dropout))
        if self.eval_every:
            d.update(eval_every=self.eval_every, patience=self.patience, threshold=float(self.threshold),
                     n_dev_eval=self.n_dev_eval, eval_max_new_tokens=self.eval_max_new_tokens)
            if self.probe:
                d["probe"] = True            # students trained before probes existed keep their keys
            if self.stop_rule != "heldout":
                d["stop_rule"] = self.stop_rule
            if self.min_steps:
                d["min_steps"] = self.min_steps
            if self.min_train_accuracy:      # students trained before the requirement existed keep their keys
                d["min_train_accuracy"] = float(self.min_train_accuracy)
        else:
            d["eval_every"] = 0
        return d


@dataclass
class Student:
    """A trained student on disk: ``path`` loads with :func:`helpers.models.load_model`."""
    path: Path
    key: str
    meta: dict[str, Any] = field(default_factory=dict)
    reused: bool = False

    def load(self, dtype: Any = None):
        """``(tokenizer, model)``; ``dtype`` (default fp32) e.g. ``torch.bfloat16`` for inference only."""
        from .models import load_model
        return load_model(str(self.path), dtype=dtype)


def bf16_supported() -> bool:
    """Whether to train under bf16 autocast here: :func:`helpers.precision.choose_precision` (CUDA bf16; on
    CPU native bf16 instructions *and* a timed check showing bf16 faster than fp32, cached per machine)."""
    from .precision import use_bf16
    return use_bf16()


def pairs_key(pairs: Sequence[Pair]) -> str:
    return stable_hash([[p.prompt, p.completion] for p in pairs])


def student_key(model_name: str, pairs: Sequence[Pair], cfg: TrainConfig) -> str:
    """Cache key: hash of (model id, pairs, hyper-parameters incl. seed, code version)."""
    from .models import model_id
    key = {"model": model_id(model_name), "pairs": pairs_key(pairs), "cfg": cfg.key_fields(),
           "code": TRAIN_CODE_VERSION}
    if _uses_reserved_filler(pairs):
        key["filler_init"] = "space"        # students of the reserved filler before its row started there
    return stable_hash(key)


def students_dir() -> Path:
    p = config.cache_dir() / "students"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # alive, owned by someone else
        return True
    return True


def remove_stale_tmp(root: Path) -> list[Path]:
    """Remove ``<key>.tmp-<pid>`` folders under ``root`` whose process is gone (a training run killed
    mid-way); folders of live processes are left alone. Returns the removed folders."""
    removed = []
    for p in root.glob("*.tmp-*"):
        pid = p.name.rsplit(".tmp-", 1)[1]
        if p.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    if removed:
        log.info("removed %d stale temporary student folder(s) of killed runs", len(removed))
    return removed


def _completion_lengths(tokenizer: Any, pairs: Sequence[Pair]) -> list[tuple[int, int]]:
    """(prompt tokens, prompt+completion+EOS tokens) per pair, as TRL tokenizes them."""
    eos = tokenizer.eos_token or ""
    out = []
    for p in pairs:
        pi = tokenizer(p.prompt, add_special_tokens=True)["input_ids"]
        fi = tokenizer(p.prompt + p.completion + eos, add_special_tokens=True)["input_ids"]
        n = 0
        while n < min(len(pi), len(fi)) and pi[n] == fi[n]:
            n += 1
        out.append((n, len(fi)))
    return out


def check_pairs(tokenizer: Any, pairs: Sequence[Pair], max_seq_len: int, *,
                counts: Sequence[tuple[int, int]] | None = None) -> dict[str, int]:
    """Refuse pairs whose completion would be fully masked (prompt alone fills ``max_seq_len``, or an
    empty completion); count completions that truncation shortens. Returns token statistics.
    ``counts``: the pairs' :func:`pair_token_counts`, when the caller has them (not tokenized again)."""
    if not pairs:
        raise ValueError("no training pairs (empty corpus, or every sample filtered out)")
    if counts is not None and len(counts) != len(pairs):
        raise ValueError(f"counts has {len(counts)} entries for {len(pairs)} pairs: pass pair_token_counts(pairs)")
    lens = list(counts) if counts is not None else _completion_lengths(tokenizer, pairs)
    n_cut = 0
    for i, (p, (n_prompt, n_full)) in enumerate(zip(pairs, lens)):
        if not p.completion.strip():
            raise ValueError(f"pair {i} ({p.condition}, example {p.example_id}): empty completion")
        if n_prompt >= max_seq_len:
            raise ValueError(f"pair {i} ({p.condition}, example {p.example_id}): the prompt is {n_prompt} tokens, "
                             f"so max_seq_len={max_seq_len} leaves no completion token to learn from; raise "
                             "max_seq_len or shorten the input")
        n_cut += n_full > max_seq_len
    if n_cut:
        log.warning("%d of %d completions are truncated by max_seq_len=%d", n_cut, len(pairs), max_seq_len)
    return {"n_pairs": len(pairs), "n_truncated": n_cut,
            "tokens": sum(min(f, max_seq_len) for _, f in lens),
            "completion_tokens": sum(max(0, min(f, max_seq_len) - n) for n, f in lens),
            **longest(lens)}


def longest(counts: Sequence[tuple[int, int]]) -> dict[str, int]:
    """The longest pair (prompt + completion + EOS) and the longest completion (+ EOS) of
    :func:`pair_token_counts`."""
    return {"max_pair_tokens": max(f for _, f in counts), "max_completion_tokens": max(f - n for n, f in counts)}


def pair_token_counts(student: str, pairs: Sequence[Pair]) -> list[tuple[int, int]]:
    """(prompt tokens, prompt + completion + EOS tokens) of each pair in ``student``'s tokens, as the
    trainer will count them (the reserved filler as the one token it becomes); hand them to
    :func:`train_student` (``token_counts=``) so the pairs are not tokenized twice."""
    from .models import load_tokenizer
    if not pairs:
        raise ValueError("no training pairs (empty corpus, or every sample filtered out)")
    tok = load_tokenizer(student)
    if _uses_reserved_filler(pairs) and RESERVED_FILLER not in tok.get_vocab():
        tok.add_tokens([RESERVED_FILLER])
    return _completion_lengths(tok, pairs)


def _uses_reserved_filler(pairs: Sequence[Pair]) -> bool:
    return any(RESERVED_FILLER in p.completion for p in pairs)


def _ensure_filler(tokenizer: Any, model: Any, pairs: Sequence[Pair]) -> str | None:
    """Add the reserved filler token when ``filler`` pairs use it and the tokenizer lacks it; return the
    token whose embedding row it starts from (else ``None``: nothing added).

    The new row starts as a copy of the space token's (input and output rows: the space is the nearest
    content-free token), not from the embeddings' mean: started at the mean (transformers' default)
    SmolLM2-135M gave the filler a log-probability of about -18 and 40 steps at lr 2e-4 raised it only
    to -7.7, so the student never emitted it and answered nothing (0 % on the coin flip); copied from the
    space it is learnt within 6 steps (tests/test_train.py)."""
    import torch

    if not _uses_reserved_filler(pairs) or RESERVED_FILLER in tokenizer.get_vocab():
        return None
    space = tokenizer(" ", add_special_tokens=False)["input_ids"][-1]
    tokenizer.add_tokens([RESERVED_FILLER])
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    new = tokenizer.convert_tokens_to_ids(RESERVED_FILLER)
    with torch.no_grad():
        for emb in filter(None, (model.get_input_embeddings(), model.get_output_embeddings())):  # tied: same row twice
            emb.weight[new] = emb.weight[space]
            if getattr(emb, "bias", None) is not None:
                emb.bias[new] = emb.bias[space]
    return tokenizer.convert_ids_to_tokens(space)


class DevAccuracyStopper:
    """Trainer callback: every ``every`` steps, ``evaluate(model)`` returns the held-out accuracy (a float, or
    a dict with ``"accuracy"`` and further read-outs recorded beside it, e.g. train-slice accuracy and answer
    losses for a learning curve); stop after ``patience`` evaluations without an improvement ≥ ``threshold``;
    restore the best weights at the end. ``stopped_by`` says which ended training: ``"patience"`` (the
    student stopped improving: converged under the rule) or ``"cap"`` (the step cap came first).

    ``rule="learned"``: an evaluation is progress when the held-out accuracy *or* the train-slice accuracy
    (``"train_accuracy"`` in the dict ``evaluate`` returns) improves by ``threshold`` — so a student that
    cannot generalise (label-only on the coin flip) still trains until it stops learning its own training
    questions. The weights kept are always those of the best held-out accuracy (ties: the higher
    train-slice accuracy, then the later step): selection on the held-out slice of train alone.
    ``min_steps``: evaluations up to that step never count against patience (the learning-rate warm-up).
    ``min_train_accuracy`` (rule ``"learned"``): nor do evaluations before the train-slice accuracy has reached
    that share — a student still at chance on its own training questions has not converged, it has stalled, and
    trains on (up to the cap, where ``stopped_by`` says ``"cap"``).

    ``evaluate`` comes from the caller (e.g. :func:`helpers.decode.dev_accuracy`), so training does not
    depend on decoding."""

    def __init__(self, evaluate: Callable[[Any], Any], every: int, patience: int, threshold: float,
                 rule: str = "heldout", min_steps: int = 0, min_train_accuracy: float = 0.0):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kw):
                if state.global_step % outer.every == 0:
                    outer._evaluate(model, state.global_step, control)

            def on_train_end(self, args, state, control, model=None, **kw):
                outer._restore(model)

        self.callback = _CB()
        self.evaluate, self.every = evaluate, every
        self.patience, self.threshold = patience, threshold
        if rule not in ("heldout", "learned"):
            raise ValueError(f"unknown stop rule {rule!r}; valid: 'heldout', 'learned'")
        self.rule, self.min_steps = rule, int(min_steps)
        self.min_train_accuracy = float(min_train_accuracy)
        self.history: list[dict[str, float]] = []
        self.best_step, self.best_state, self.bad = 0, None, 0
        self.best_key: tuple[float, float] = (-1.0, -1.0)     # (held-out accuracy, train-slice accuracy) kept
        self.progress_acc, self.progress_train = -1.0, -1.0
        self.stopped_by = "cap"

    def _evaluate(self, model, step, control):
        was_training = model.training
        t0 = time.perf_counter()
        got = self.evaluate(model)
        seconds = round(time.perf_counter() - t0, 2)
        model.train(was_training)
        extra = dict(got) if isinstance(got, dict) else {"accuracy": got}
        acc = float(extra.pop("accuracy"))
        # eval_seconds: what the evaluation cost (decodes and probes), so a student's training time splits into
        # optimizer steps and the rule's evaluations
        self.history.append({"step": step, "dev_accuracy": acc, **extra, "eval_seconds": seconds})
        log.info("step %d: held-out accuracy %.3f (best %.3f at step %d) %s", step, acc, self.best_acc,
                 self.best_step, extra or "")
        better, stop = self.observe(step, acc, extra.get("train_accuracy"))
        if better:
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if stop:
            control.should_training_stop = True

    def observe(self, step: int, acc: float, train_acc: float | None = None) -> tuple[bool, bool]:
        """The rule's decision on one evaluation, without a model: ``(better, stop)`` — whether these weights
        become the kept ones, and whether patience ran out (:func:`replay_rule` runs a recorded curve through it)."""
        if self.rule == "learned" and train_acc is None:
            raise ValueError("stop rule 'learned' needs the train-slice accuracy at every evaluation (budget probe)")
        first = self.best_step == 0 and self.best_key == (-1.0, -1.0)
        if self.rule == "heldout":      # as before: progress and the kept weights both by held-out accuracy
            better = acc >= self.best_acc + self.threshold or first
            progress = better
        else:
            key = (acc, float(train_acc))
            better = key >= self.best_key or first
            progress = (first or acc >= self.progress_acc + self.threshold
                        or float(train_acc) >= self.progress_train + self.threshold)
            if progress:
                self.progress_acc = max(self.progress_acc, acc)
                self.progress_train = max(self.progress_train, float(train_acc))
        if better:
            self.best_step = step
            self.best_key = (acc, float(train_acc) if train_acc is not None else -1.0)
        unfit = (self.rule == "learned" and train_acc is not None
                 and float(train_acc) < self.min_train_accuracy)
        if progress or step <= self.min_steps or unfit:
            self.bad = 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.stopped_by = "patience"
                return better, True
        return better, False

    @property
    def best_acc(self) -> float:
        """The held-out accuracy of the weights kept (-1 before the first evaluation)."""
        return self.best_key[0]

    def _restore(self, model):
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    # -- resuming: the rule's state beside a trainer checkpoint --------------------------------------------------
    _STATE_FIELDS = ("history", "best_step", "best_key", "bad", "progress_acc", "progress_train", "stopped_by")

    def state_dict(self, folder: Path) -> dict[str, Any]:
        """The rule's state as JSON (its learning curve, patience count, progress marks), writing the kept best
        weights to ``folder/best-<step>.safetensors`` once per new best (atomic: a temporary name renamed)."""
        d: dict[str, Any] = {k: getattr(self, k) for k in self._STATE_FIELDS}
        d["best_key"] = list(self.best_key)
        d["best_file"] = None
        if self.best_state is not None:
            name = f"best-{self.best_step}.safetensors"
            if not (folder / name).exists():
                from safetensors.torch import save_file
                tmp = folder / f".{name}.tmp-{os.getpid()}"
                save_file({k: v.contiguous() for k, v in self.best_state.items()}, str(tmp))
                os.replace(tmp, folder / name)
            d["best_file"] = name
        return d

    def load_state_dict(self, d: dict[str, Any], folder: Path) -> None:
        """Restore what :meth:`state_dict` wrote (the best weights from ``folder``)."""
        for k in self._STATE_FIELDS:
            setattr(self, k, d[k])
        self.best_key = tuple(d["best_key"])
        self.best_state = None
        if d.get("best_file"):
            from safetensors.torch import load_file
            self.best_state = load_file(str(folder / d["best_file"]))


class _Checkpoints:
    """Checkpoints to resume a killed run from, under ``folder`` (``students/<key>.resume/``): transformers
    saves weights, optimizer, scheduler, RNG and data position as ``checkpoint-<step>/`` (``save_steps``,
    newest only); at the same steps, just before, this callback writes ``cotlab_resume-<step>.json`` — the
    stopping rule's state (its best weights in a file beside) and the seconds trained so far. A checkpoint counts
    only with its JSON, so a run killed between the two resumes from the one before (kept until the new one is
    complete)."""

    def __init__(self, folder: Path, every: int, stopper: "DevAccuracyStopper | None", seconds_before: float = 0.0):
        from transformers import TrainerCallback
        self.folder, self.every, self.stopper = folder, int(every), stopper
        self.seconds_before, self.t0 = float(seconds_before), time.perf_counter()
        outer = self

        class _CB(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step % outer.every == 0 and state.is_world_process_zero:
                    outer._write(state.global_step)

            def on_save(self, args, state, control, **kw):
                if state.is_world_process_zero:
                    outer._prune(state.global_step)

        self.callback = _CB()

    def seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.t0

    def _write(self, step: int) -> None:
        d = {"step": step, "train_seconds": round(self.seconds(), 2),
             "stopper": self.stopper.state_dict(self.folder) if self.stopper else None}
        tmp = self.folder / f".cotlab_resume-{step}.json.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(d))
        os.replace(tmp, self.folder / f"cotlab_resume-{step}.json")

    def _prune(self, step: int) -> None:
        """After ``checkpoint-<step>`` is complete: drop the older resume files and best weights it no longer needs."""
        path = self.folder / f"cotlab_resume-{step}.json"
        if not path.exists():
            return
        keep = {path.name, (json.loads(path.read_text()).get("stopper") or {}).get("best_file")}
        for f in [*self.folder.glob("cotlab_resume-*.json"), *self.folder.glob("best-*.safetensors")]:
            if f.name not in keep:
                f.unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint under a run's resume folder — ``(checkpoint-<step>/, its resume JSON)`` —
    or None (no folder, or nothing complete in it)."""
    if not folder.is_dir():
        return None
    steps = sorted((int(p.name.rsplit("-", 1)[1]) for p in folder.glob("checkpoint-*")
                    if p.name.rsplit("-", 1)[1].isdigit()), reverse=True)
    for step in steps:
        ck, meta = folder / f"checkpoint-{step}", folder / f"cotlab_resume-{step}.json"
        if (ck / "trainer_state.json").exists() and meta.exists():
            return ck, json.loads(meta.read_text())
    return None


def replay_rule(curve: Sequence[dict[str, Any]], *, patience: int, threshold: float, rule: str = "learned",
                min_steps: int = 0, min_train_accuracy: float = 0.0, accuracy: str = "dev_accuracy",
                train: str = "train_accuracy") -> dict[str, Any]:
    """Where a stopping rule would have stopped on a recorded learning curve (a student's ``dev_curve``):
    ``{"stop_step", "best_step", "stopped_by", "best": the kept evaluation}`` — to compare rules (patience,
    threshold, or another signal: pass ``accuracy=`` the column to maximise, e.g. the negated held-out answer
    loss) on curves already paid for. The curve must reach at least as far as the rule would have trained."""
    st = DevAccuracyStopper.__new__(DevAccuracyStopper)     # the decision logic only: no trainer callback
    st.patience, st.threshold, st.rule, st.min_steps = patience, threshold, rule, int(min_steps)
    st.min_train_accuracy = float(min_train_accuracy)
    if rule not in ("heldout", "learned"):
        raise ValueError(f"unknown stop rule {rule!r}; valid: 'heldout', 'learned'")
    st.best_step, st.bad, st.best_key = 0, 0, (-1.0, -1.0)
    st.progress_acc, st.progress_train, st.stopped_by = -1.0, -1.0, "cap"
    best = None
    for point in curve:
        better, stop = st.observe(point["step"], float(point[accuracy]),
                                  None if point.get(train) is None else float(point[train]))
        if better:
            best = point
        if stop:
            return {"stop_step": point["step"], "best_step": st.best_step, "stopped_by": "patience", "best": best}
    return {"stop_step": curve[-1]["step"] if curve else 0, "best_step": st.best_step, "stopped_by": "cap",
            "best": best}


def _padding_stats(trainer: Any, if_padded: bool = False) -> dict[str, int]:
    """Real vs padded tokens over one pass of the trainer's (length-grouped) dataloader order (equal
    when batches are padding-free, unless ``if_padded``: what padded batches would hold)."""
    lengths = [len(x) for x in trainer.train_dataset["input_ids"]]
    if getattr(trainer.data_collator, "padding_free", False) and not if_padded:
        return {"real_tokens_per_epoch": sum(lengths), "padded_tokens_per_epoch": sum(lengths)}
    sampler = trainer._get_train_sampler()
    order = list(iter(sampler)) if sampler is not None else list(range(len(lengths)))
    bs = trainer.args.per_device_train_batch_size
    real = padded = 0
    for i in range(0, len(order), bs):
        batch = [lengths[j] for j in order[i:i + bs]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return {"real_tokens_per_epoch": real, "padded_tokens_per_epoch": padded}


def build_trainer(tok: Any, model: Any, pairs: Sequence[Pair], cfg: TrainConfig, output_dir: str | Path, *,
                  bf16: bool = False, progress: bool = False, cpu_fast_paths: bool = True,
                  checkpoint_every: int = 0) -> Any:
    """The TRL ``SFTTrainer`` for ``pairs`` (prompt-completion records, completion-only loss,
    length-grouped batches). Raises if TRL dropped a pair (a fully masked completion).

    On CPU (``cpu_fast_paths``, default): batches are padding-free where the model allows it
    (:func:`padding_free_supported`: the batch's sequences concatenated into one row with per-sequence
    ``position_ids``, TRL's padding-free collator, attention within each sequence only:
    :mod:`helpers.cpu_training`); the LM head scores only the loss positions
    (:func:`use_compact_lm_head`); bf16 attention is eager (:func:`training_attn_implementation`).
    The same sequences make each step and each carries the same loss as in a padded batch.
    ``cpu_fast_paths=False`` keeps TRL's padded batches, TRL's head and the model's own attention
    kernel (the benchmark's baseline). ``checkpoint_every``: save a resumable checkpoint (the newest only) under
    ``output_dir`` every that many steps; 0: none."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    fast = cpu_fast_paths and not torch.cuda.is_available()   # TRL's head is already compact where Triton runs
    padding_free = fast and padding_free_supported(model, cfg.max_seq_len)
    collator = None
    if padding_free:
        register_per_sequence_attention()
        collator = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=True)
    ds = Dataset.from_list([{"prompt": p.prompt, "completion": p.completion} for p in pairs])
    procs = world_size()
    if cfg.batch_size % procs:
        raise ValueError(f"batch size {cfg.batch_size} does not split over {procs} processes "
                         f"(accelerate launch --num_processes): use a multiple of {procs}")
    args = SFTConfig(
        output_dir=str(output_dir), learning_rate=cfg.lr, num_train_epochs=cfg.epochs,
        # the config's batch is the global one: under data parallelism every process draws the same batch (the
        # one a single process would draw) and takes its share of it (split_batches) — the same student's steps
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        accelerator_config={"split_batches": procs > 1},
        gradient_accumulation_steps=cfg.grad_accum, lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, seed=cfg.seed, data_seed=cfg.seed,
        bf16=bf16, fp16=False, use_cpu=not torch.cuda.is_available(),
        max_length=cfg.max_seq_len, completion_only_loss=True, packing=False,
        train_sampling_strategy="group_by_length", activation_checkpointing=False,
        logging_steps=1, logging_first_step=True, eval_strategy="no", report_to=[],
        save_strategy="steps" if checkpoint_every else "no", save_steps=checkpoint_every or 500, save_total_limit=1,
        # padding-free rows hold no padding (and pad == EOS for some tokenizers): count every token
        include_num_input_tokens_seen="all" if padding_free else "non_padding", disable_tqdm=not progress,
        dataloader_num_workers=0, remove_unused_columns=True)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                         peft_config=peft_config, data_collator=collator)
    if len(trainer.train_dataset) != len(pairs):
        raise RuntimeError(f"the trainer kept {len(trainer.train_dataset)} of {len(pairs)} pairs "
                           "(a completion was fully masked); this is a bug in check_pairs")
    if fast:
        base = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
        use_compact_lm_head(base)
        train_with_attention(trainer, VARLEN_ATTENTION if padding_free else training_attn_implementation(model, bf16))
    return trainer


def cached_student(student: str, pairs: Sequence[Pair], cfg: TrainConfig) -> Student | None:
    """The cached student of (``student``, ``pairs``, ``cfg``) with its weights, or None."""
    key = student_key(student, pairs, cfg)
    final = students_dir() / key
    if (final / STUDENT_META).exists() and has_weights(final):
        return Student(final, key, json.loads((final / STUDENT_META).read_text()), reused=True)
    return None


def same_student_under_rule(student: str, pairs: Sequence[Pair], cfg: TrainConfig) -> Student | None:
    """The cached student that ``cfg`` would train, found under the same config *without* its
    ``min_train_accuracy`` requirement: training is the same trajectory whatever the stopping rule (the
    learning-rate schedule spans the cap, evaluations fall on the same steps), so when the new rule, replayed on
    that student's recorded learning curve (:func:`replay_rule`), stops by patience at the same step and keeps the
    same step's weights, it is the very student ``cfg`` trains. None otherwise (the requirement would have
    trained it on: it stopped at chance on its own training questions), or if no such student is cached."""
    if not (cfg.eval_every and cfg.min_train_accuracy and cfg.stop_rule == "learned"):
        return None
    old = cached_student(student, pairs, cfg.with_budget(min_train_accuracy=0.0))
    if old is None or old.meta.get("stopped_by") != "patience" or not old.meta.get("dev_curve"):
        return None
    again = replay_rule(old.meta["dev_curve"], patience=cfg.patience, threshold=cfg.threshold, rule=cfg.stop_rule,
                        min_steps=cfg.min_steps, min_train_accuracy=cfg.min_train_accuracy)
    if (again["stopped_by"], again["stop_step"], again["best_step"]) != (
            "patience", old.meta.get("global_steps"), old.meta.get("best_step")):
        return None
    old.meta["same_under_rule"] = {"min_train_accuracy": cfg.min_train_accuracy, "stop_step": again["stop_step"],
                                   "best_step": again["best_step"]}
    return old


def train_student(student: str, pairs: Sequence[Pair], cfg: TrainConfig, *, model_and_tokenizer: Any = None,
                  dev_eval: Callable[[Any, Any], float] | None = None, cache: bool = True, force: bool = False,
                  info: dict[str, Any] | None = None, progress: bool = False,
                  token_counts: Sequence[tuple[int, int]] | None = None) -> Student:
    """Fine-tune ``student`` (registry name, local dir or hub id) on ``pairs``; return the cached student.

    ``model_and_tokenizer``: an already loaded ``(tokenizer, model)`` of ``student`` to train *in place*
    (pass a copy); otherwise it is loaded with :func:`helpers.models.load_model`. ``dev_eval(model,
    tokenizer) -> accuracy`` enables early stopping when ``cfg.eval_every > 0``, e.g.
    ``helpers.decode.dev_accuracy(dev[:cfg.n_dev_eval], max_new_tokens=cfg.eval_max_new_tokens)``.
    ``info`` (task, corpus, condition, …) is stored in the metadata. With ``cache=False`` nothing is
    looked up (the result is still saved). ``token_counts``: the pairs' :func:`pair_token_counts` if the
    caller has them. Temporary folders left by killed runs are removed first."""
    remove_stale_tmp(students_dir())
    key = student_key(student, pairs, cfg)
    final = students_dir() / key
    if cache and not force and (final / STUDENT_META).exists():
        found = cached_student(student, pairs, cfg)
        if found is not None:
            log.info("reusing cached student %s", final)
            return found
        log.info("student %s: weights pruned from the cache (`cache prune --what weights`); retraining — "
                 "its decodes are still cached", final)
    elif cache and not force:
        same = same_student_under_rule(student, pairs, cfg)
        if same is not None:
            log.info("reusing cached student %s: the stopping rule's requirement %s, replayed on its learning curve, "
                     "stops it at the same step", same.path, same.meta["same_under_rule"])
            return same

    from transformers import set_seed

    set_seed(cfg.seed)
    if model_and_tokenizer is None:
        from .models import load_model
        tok, model = load_model(student)
    else:
        tok, model = model_and_tokenizer
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    added_filler = _ensure_filler(tok, model, pairs)
    stats = check_pairs(tok, pairs, cfg.max_seq_len, counts=token_counts)

    use_bf16 = bf16_supported() if cfg.bf16 is None else cfg.bf16
    with _training_lock(final):
        if cache and not force:         # trained by another process while this one waited for the lock
            found = cached_student(student, pairs, cfg)
            if found is not None:
                log.info("reusing cached student %s (trained by another process meanwhile)", final)
                return found
        tmp = final.with_name(f"{key}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            return _train_into(tok, model, pairs, cfg, student, key, tmp, final, use_bf16, added_filler, stats,
                               dev_eval, info, progress)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)      # only left behind by a failed run (success renames it)


def _training_lock(final: Path) -> Any:
    """One process trains a key at a time (``<key>.lock``, ``filelock``); none under data parallelism, where every
    process of the one run trains it together."""
    import contextlib
    if world_size() > 1:
        return contextlib.nullcontext()
    from filelock import FileLock
    return FileLock(str(final) + ".lock")


def _train_into(tok: Any, model: Any, pairs: Sequence[Pair], cfg: TrainConfig, student: str, key: str, tmp: Path,
                final: Path, use_bf16: bool, added_filler: str | None, stats: dict[str, int],
                dev_eval: Callable[[Any, Any], float] | None, info: dict[str, Any] | None,
                progress: bool) -> Student:
    evaluating = bool(cfg.eval_every and dev_eval is not None)
    resume_dir = final.with_name(final.name + RESUME_SUFFIX) if resume_enabled() else None
    every = cfg.eval_every if evaluating else CHECKPOINT_EVERY
    if resume_dir is not None:
        resume_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(tok, model, pairs, cfg, resume_dir or tmp / "trainer", bf16=use_bf16, progress=progress,
                            checkpoint_every=every if resume_dir is not None else 0)
    stopper = None
    if evaluating:
        stopper = DevAccuracyStopper(lambda m: dev_eval(m, tok), cfg.eval_every, cfg.patience, cfg.threshold,
                                     rule=cfg.stop_rule, min_steps=cfg.min_steps,
                                     min_train_accuracy=cfg.min_train_accuracy)
        trainer.add_callback(stopper.callback)
    pad_stats = _padding_stats(trainer)

    found = latest_checkpoint(resume_dir) if resume_dir is not None else None
    seconds_before = 0.0
    if found is not None:
        ck, state = found
        if stopper is not None and state.get("stopper"):
            stopper.load_state_dict(state["stopper"], resume_dir)
        seconds_before = float(state.get("train_seconds") or 0.0)
        log.info("resuming %s from %s (%.0fs trained before)", final.name, ck, seconds_before)
    checkpoints = None
    if resume_dir is not None:
        checkpoints = _Checkpoints(resume_dir, every, stopper, seconds_before)
        trainer.add_callback(checkpoints.callback)       # after the stopper's: its state includes this evaluation

    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(found[0]) if found is not None else None)
    train_seconds = seconds_before + time.perf_counter() - t0
    resumed_from = int(found[0].name.rsplit("-", 1)[1]) if found is not None else None

    model = trainer.model
    if cfg.lora:
        model = model.merge_and_unload()
    model.eval()
    tok.padding_side = "left"
    if world_size() > 1:              # data-parallel (accelerate launch): one process writes the student
        from accelerate import PartialState
        state = PartialState()
        if not state.is_main_process:
            state.wait_for_everyone()
            return Student(final, key, json.loads((final / STUDENT_META).read_text()))
    try:
        saved = _save_student(tok, model, trainer, result, cfg, student, key, tmp, final, use_bf16, added_filler,
                              stats, pad_stats, stopper, info, pairs, train_seconds, resumed_from)
        if resume_dir is not None:
            shutil.rmtree(resume_dir, ignore_errors=True)     # the student is saved: its checkpoints are done with
        return saved
    finally:
        if world_size() > 1:
            from accelerate import PartialState
            PartialState().wait_for_everyone()


def world_size() -> int:
    """Processes training one student together (``accelerate launch --num_processes N``: ``$WORLD_SIZE``)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def _save_student(tok: Any, model: Any, trainer: Any, result: Any, cfg: TrainConfig, student: str, key: str,
                  tmp: Path, final: Path, use_bf16: bool, added_filler: str | None, stats: dict[str, int],
                  pad_stats: dict[str, int], stopper: Any, info: dict[str, Any] | None, pairs: Sequence[Pair],
                  train_seconds: float, resumed_from: int | None = None) -> Student:
    import torch
    if hasattr(model, "module"):      # unwrapped from DistributedDataParallel
        model = model.module
    from .config import student_storage
    stored = student_storage()
    if stored == "bf16":              # the cache holds bf16 weights; every later stage loads them from disk
        model = model.to(torch.bfloat16)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(tmp / "trainer", ignore_errors=True)
    tokens_seen = int(trainer.state.num_input_tokens_seen or 0)
    losses = [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]
    from .models import model_id
    meta = {
        "key": key, "student": student, "student_id": model_id(student), "train_config": asdict(cfg),
        "bf16": use_bf16, "added_filler_token": added_filler is not None, "filler_init_from": added_filler,
        "info": info or {},
        "pairs_hash": pairs_key(pairs), "conditions": sorted({p.condition for p in pairs}),
        "n_examples": len({p.example_id for p in pairs}), **stats, **pad_stats,
        "global_steps": trainer.state.global_step, "epochs_done": trainer.state.epoch,
        "train_seconds": round(train_seconds, 2), "non_padding_tokens_seen": tokens_seen,
        # the step of the checkpoint a killed run was resumed from (None: trained in one go)
        "resumed_from_step": resumed_from,
        "tokens_per_s": round(tokens_seen / train_seconds, 1) if train_seconds else None,
        "train_loss": result.training_loss, "loss_curve": losses,
        "dev_curve": stopper.history if stopper else [],
        "best_step": stopper.best_step if stopper else None,
        "best_dev_accuracy": stopper.best_acc if stopper else None,
        # converged under the rule: stopped by patience on the held-out slice, not by the step cap
        "stopped_by": stopper.stopped_by if stopper else None,
        "converged": (stopper.stopped_by == "patience") if stopper else None,
        "torch_threads": torch.get_num_threads(),
        "processes": world_size(),
        "precision": _precision_record(cfg, use_bf16),
        "stored_dtype": stored,
        "padding_free": bool(getattr(trainer.data_collator, "padding_free", False)),
        "attn_implementation": training_attn_implementation(model, use_bf16)
        + (" per sequence" if getattr(trainer.data_collator, "padding_free", False) else ""),
    }
    (tmp / STUDENT_META).write_text(json.dumps(meta, indent=2, default=str))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    log.info("trained student %s in %.0fs (%d steps)", final, train_seconds, trainer.state.global_step)
    return Student(final, key, meta)


def _precision_record(cfg: TrainConfig, use_bf16: bool) -> dict[str, Any]:
    """What the run trained in and why: the config's ``bf16`` or the machine's automatic choice."""
    from .precision import choose_precision
    auto = choose_precision()
    rec = {"train": "bf16 autocast" if use_bf16 else "fp32", "source": "auto" if cfg.bf16 is None else "config",
           "auto_choice": auto.get("choice"), "reason": auto.get("reason"), "cpu": auto.get("cpu"),
           "flags": auto.get("flags"), "timings": auto.get("timings")}
    return {k: v for k, v in rec.items() if v is not None}


def export_student(student: Student, out: str | Path) -> Path:
    """Put a copy of the cached student at ``out`` (hard links where possible: no extra disk)."""
    out = Path(out)
    if out.resolve() == student.path.resolve():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)

    def _link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(student.path, tmp, copy_function=_link)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def loss_tokens(tokenizer: Any, pair: Pair, max_seq_len: int = 320) -> list[tuple[str, bool]]:
    """The tokens of one training sequence as the trainer sees it (prompt + completion + EOS, cut at
    ``max_seq_len``), each with whether it carries loss: with the completion-only loss only the
    completion and the EOS do (``tests/test_train.py`` checks this against a real collated batch)."""
    n_prompt, _ = _completion_lengths(tokenizer, [pair])[0]
    ids = tokenizer(pair.prompt + pair.completion + (tokenizer.eos_token or ""), add_special_tokens=True)["input_ids"]
    ids = ids[:max_seq_len]
    return [(tokenizer.decode([t]), i >= n_prompt) for i, t in enumerate(ids)]
