"""Student training throughput: the real trainer vs the raw forward+backward of the same model.

SCoTD pairs of QuaRel questions with the GPT-3 MaRio rationales go through
:func:`helpers.train.build_trainer` (the trainer ``train_student`` uses: length-grouped batches,
completion-only loss, AdamW, grad clipping, a log line per step), once per precision: fp32, and bf16
autocast where the CPU has native bf16 (``avx512_bf16``/``amx_bf16``) or the GPU supports it.

After every trainer step a callback runs, on a separate copy of the model, one *raw* forward+backward
step of each reference below, so trainer and references share the machine's load (2 shared cores
here); the callback's time is taken out of the trainer's. Same model, precision, attention kernel
and tokens per step: each raw step has ``batch`` rows of the just-finished trainer step's mean
non-padding length (``seq_len`` = the mean over the measured steps), no padding:

* ``raw_fwd_bwd_tokens_per_s:<prec>`` — ``model(input_ids, labels=input_ids)``: the model's standard
  causal-LM forward+backward, logits and loss at every position, no optimizer;
* ``raw_fwd_bwd_completion_loss_tokens_per_s:<prec>`` — the same batch with the loss on the last
  ``completion_len`` positions of each row only (the step's loss tokens per row), projected through
  the LM head at those positions only: the least work the trainer's completion-only loss needs;
* ``train_tokens_per_s:<prec>`` — non-padding tokens/s through the trainer (steps after the first);
* ``trainer_efficiency:<prec>`` — trainer ÷ raw standard forward+backward;
  ``trainer_efficiency_same_loss:<prec>`` — trainer ÷ raw completion-loss forward+backward (what is
  left is padding, the optimizer, clipping and the trainer's bookkeeping);
* ``train_step_seconds:<prec>`` — a trainer step split into forward (``compute_loss``), backward,
  optimizer step and the rest;
* ``padding_efficiency_if_padded`` — real / padded tokens over one epoch of the trainer's
  length-grouped batches were they padded (on CPU they are padding-free: ``padding_free=True``);
* ``precision_choice`` — :func:`helpers.precision.choose_precision` (value: the timed check's bf16
  speed-up, 0 when no check ran) with the CPU model and flags.

Env: ``BENCH_STUDENT`` (smollm2-135m), ``BENCH_STEPS`` (6), ``BENCH_BATCH`` (8), ``BENCH_THREADS``
(torch threads; default torch's), ``BENCH_BASELINE=1`` also measures the trainer without the CPU fast
paths (TRL's chunked LM head, the model's own attention kernel): ``train_tokens_per_s:<prec>:baseline``.
"""
from __future__ import annotations

import contextlib
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))

from helpers.bench import emit_line  # noqa: E402
from helpers.models import load_model  # noqa: E402
from helpers.precision import BF16_FLAGS, choose_precision, cpu_flags  # noqa: E402
from helpers.rationales import load_rationales  # noqa: E402
from helpers.targets import build_pairs  # noqa: E402
from helpers.tasks import load_task  # noqa: E402
from helpers.cpu_training import training_attn_implementation  # noqa: E402
from helpers.train import Budget, TrainConfig, _padding_stats, build_trainer  # noqa: E402

STUDENT = os.environ.get("BENCH_STUDENT", "smollm2-135m")
STEPS = int(os.environ.get("BENCH_STEPS", 6))
BATCH = int(os.environ.get("BENCH_BATCH", 8))
BASELINE = os.environ.get("BENCH_BASELINE", "") not in ("", "0")


def emit(metric: str, value: float, unit: str, **extra) -> None:
    emit_line("training", metric, value, unit, student=STUDENT, batch=BATCH,
              torch_threads=torch.get_num_threads(), load_avg_1m=round(os.getloadavg()[0], 2), **extra)


def scotd_pairs(n_questions: int):
    exs = load_task("quarel", "train", limit=n_questions)
    recs = load_rationales("mario_gpt3", "quarel", "train", examples=load_task("quarel", "train"))
    pairs = []
    for ex in exs:
        kept = [r for r in recs[ex.id] if r.correct]
        pairs += build_pairs("scotd", ex, [r.rationale for r in kept])
    return pairs


class RawSteps:
    """Raw forward+backward steps of a model copy on dense ``(BATCH, seq_len)`` batches of random tokens."""

    def __init__(self, model, bf16: bool, attn: str):
        self.model = model
        self.model.set_attn_implementation(attn)
        self.model.train()
        self.bf16 = bf16
        self.gen = torch.Generator().manual_seed(0)
        self.tokens = 0
        self.times: dict[str, float] = {"standard": 0.0, "completion_loss": 0.0}

    def step(self, seq_len: int, completion_len: int, record: bool) -> float:
        """One step of each reference; returns the seconds spent."""
        x = torch.randint(100, 10_000, (BATCH, seq_len), generator=self.gen)
        labels = x.clone()
        labels[:, :seq_len - completion_len] = -100
        m = self.model

        def standard():
            return m(input_ids=x, labels=x).loss

        def completion_loss():
            hidden = m.base_model(input_ids=x).last_hidden_state[:, :-1]
            lab = labels[:, 1:]
            mask = lab != -100
            return torch.nn.functional.cross_entropy(m.get_output_embeddings()(hidden[mask]).float(), lab[mask])

        t_all = time.perf_counter()
        for name, fn in (("standard", standard), ("completion_loss", completion_loss)):
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                loss = fn()
            loss.backward()
            m.zero_grad(set_to_none=True)
            if record:
                self.times[name] += time.perf_counter() - t
        if record:
            self.tokens += x.numel()
        return time.perf_counter() - t_all

    def tokens_per_s(self, name: str) -> float:
        return self.tokens / self.times[name]


def _timed(acc: dict, name: str, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            acc[name] = acc.get(name, 0.0) + time.perf_counter() - t
    return wrapper


def run_precision(tok0, model0, pairs, bf16: bool, fast: bool = True) -> dict:
    """Train ``STEPS + 1`` steps (the first is warm-up); after each, one raw step of each reference
    with the step's own shape: ``BATCH`` rows of its mean non-padding length, its mean number of loss
    tokens per row."""
    from transformers import TrainerCallback

    tok, model = copy.deepcopy(tok0), copy.deepcopy(model0)
    tok.padding_side = "right"
    cfg = TrainConfig(Budget(steps=STEPS + 1, lr=1e-5, batch_size=BATCH, warmup_ratio=0.0), max_seq_len=256, bf16=bf16)
    marks: list[tuple[float, int]] = []          # (time, tokens seen) at the end of each trainer step
    raw_dt: list[float] = []                     # seconds of the raw steps run after each mark
    shapes: list[tuple[int, int, int]] = []      # per step: non-padding tokens, padded tokens, loss tokens
    phases: dict[str, float] = {}
    out: dict = {}
    attn = training_attn_implementation(model0, bf16) if fast else model0.config._attn_implementation
    raw = RawSteps(copy.deepcopy(model0), bf16, attn)
    with tempfile.TemporaryDirectory() as d:
        trainer = build_trainer(tok, model, pairs, cfg, d, bf16=bf16, cpu_fast_paths=fast)
        out["pad"] = _padding_stats(trainer, if_padded=True)
        out["padding_free"] = bool(getattr(trainer.data_collator, "padding_free", False))

        class Clock(TrainerCallback):
            def on_train_begin(self, args, state, control, optimizer=None, **kw):
                if optimizer is not None:
                    optimizer.step = _timed(phases, "optimizer", optimizer.step)

            def on_step_end(self, args, state, control, **kw):
                marks.append((time.perf_counter(), state.num_input_tokens_seen))
                if state.global_step == 1:
                    phases.clear()                   # step 1 = warm-up
                real, _, n_loss = shapes[-1]
                raw_dt.append(raw.step(max(2, round(real / BATCH)), max(1, round(n_loss / BATCH)),
                                       record=state.global_step > 1))

        compute_loss = _timed(phases, "forward", trainer.compute_loss)

        def compute_loss_and_shape(model, inputs, *a, **k):
            ids = inputs["input_ids"]                # padding-free batches: one row, no padding
            real = int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else ids.numel()
            shapes.append((real, ids.numel(), int((inputs["labels"][:, 1:] != -100).sum())))
            return compute_loss(model, inputs, *a, **k)

        trainer.add_callback(Clock())
        trainer.compute_loss = compute_loss_and_shape
        trainer.accelerator.backward = _timed(phases, "backward", trainer.accelerator.backward)
        with contextlib.redirect_stdout(sys.stderr):     # the trainer prints its log dicts; stdout is for records
            trainer.train()
    (t0, n0), (t1, n1) = marks[0], marks[-1]
    steps = len(marks) - 1
    trainer_s = (t1 - t0) - sum(raw_dt[:-1])            # the raw steps ran between the marks
    measured = shapes[1:]
    out.update(tokens_per_s=(n1 - n0) / trainer_s, step_s=trainer_s / steps, steps=steps,
               seq_len=round(sum(s[0] for s in measured) / len(measured) / BATCH, 1),
               completion_len=round(sum(s[2] for s in measured) / len(measured) / BATCH, 1),
               padding_in_steps=round(sum(s[0] for s in measured) / sum(s[1] for s in measured), 3),
               phases={k: v / steps for k, v in phases.items()},
               raw=raw.tokens_per_s("standard"), raw_completion=raw.tokens_per_s("completion_loss"))
    return out


def main() -> None:
    choice = choose_precision()
    model_name, flags = cpu_flags()
    present = " ".join(f for f, on in (choice.get("flags") or {}).items() if on) or "-"
    emit("precision_choice", (choice.get("timings") or {}).get("bf16_speedup", 0.0), "x (bf16 vs fp32, tiny check)",
         choice=choice["choice"], reason=choice.get("reason"), cpu=choice.get("cpu") or model_name, flags=present)
    tok0, model0 = load_model(STUDENT)
    pairs = scotd_pairs(24)
    bf16_native = torch.cuda.is_available() and torch.cuda.is_bf16_supported() or any(f in flags for f in BF16_FLAGS)
    precisions = ["fp32"] + (["bf16"] if bf16_native or choice["choice"] == "bf16" else [])
    speeds = {}
    for prec in precisions:
        bf16 = prec == "bf16"
        r = run_precision(tok0, model0, pairs, bf16)
        speeds[prec] = r["tokens_per_s"]
        attn = training_attn_implementation(model0, bf16)
        common = dict(seq_len=r["seq_len"], completion_len=r["completion_len"], attn=attn, chosen=choice["choice"] == prec)
        emit(f"train_tokens_per_s:{prec}", r["tokens_per_s"], "tokens/s", steps=r["steps"], pairs=len(pairs),
             real_over_padded=r["padding_in_steps"], padding_free=r["padding_free"], **common)
        emit(f"raw_fwd_bwd_tokens_per_s:{prec}", r["raw"], "tokens/s", **common)
        emit(f"raw_fwd_bwd_completion_loss_tokens_per_s:{prec}", r["raw_completion"], "tokens/s", **common)
        emit(f"trainer_efficiency:{prec}", r["tokens_per_s"] / r["raw"], "ratio", **common)
        emit(f"trainer_efficiency_same_loss:{prec}", r["tokens_per_s"] / r["raw_completion"], "ratio", **common)
        ph = r["phases"]
        emit(f"train_step_seconds:{prec}", r["step_s"], "s/step", forward_s=round(ph.get("forward", 0), 3),
             backward_s=round(ph.get("backward", 0), 3), optimizer_s=round(ph.get("optimizer", 0), 3),
             other_s=round(r["step_s"] - sum(ph.values()), 3))
        if prec == "fp32":
            pad = r["pad"]
            emit("padding_efficiency_if_padded", pad["real_tokens_per_epoch"] / pad["padded_tokens_per_epoch"],
                 "ratio", padding_free=r["padding_free"], **pad)
        if BASELINE:
            b = run_precision(tok0, model0, pairs, bf16, fast=False)
            emit(f"train_tokens_per_s:{prec}:baseline", b["tokens_per_s"], "tokens/s", steps=b["steps"],
                 attn=model0.config._attn_implementation, lm_head="trl_chunked")
            emit(f"trainer_efficiency:{prec}:baseline", b["tokens_per_s"] / b["raw"], "ratio",
                 raw_tokens_per_s=round(b["raw"], 2))
    if "bf16" in speeds:
        emit("bf16_speedup:train", speeds["bf16"] / speeds["fp32"], "x (trainer tokens/s, bf16 / fp32)")


if __name__ == "__main__":
    main()
