"""Decoding throughput of a student: greedy and self-consistency (k=10), generated tokens/s, fp32 vs bf16.

QuaRel dev prompts; every sequence generates exactly ``BENCH_NEW_TOKENS`` tokens (EOS suppressed
until then) so the numbers measure generation speed, not how early a model stops. Greedy runs
``BENCH_N`` prompts in one batch; SC runs k=10 samples per prompt via ``num_return_sequences``
(``batch_size`` 40 sequences = 4 prompts per ``generate`` call). Each is measured in fp32 and, where
the machine has native bf16 (:mod:`helpers.precision`), in bf16 (:func:`helpers.decode.decode`'s
``precision``: a bf16 copy of the weights), rounds interleaved; ``chosen`` marks the precision
``precision="auto"`` decodes in here. ``greedy_agreement_bf16`` is the share of prompts whose greedy
bf16 text equals the fp32 one.

Env: ``BENCH_STUDENT`` (smollm2-135m or a trained student dir), ``BENCH_N`` (16), ``BENCH_NEW_TOKENS`` (48),
``BENCH_THREADS`` (torch threads; default torch's), ``BENCH_ROUNDS`` (2).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))

from helpers.bench import emit_line  # noqa: E402
from helpers.decode import decode_precision, timed_decode  # noqa: E402
from helpers.models import load_model  # noqa: E402
from helpers.precision import BF16_FLAGS, choose_precision, cpu_flags  # noqa: E402
from helpers.tasks import load_task  # noqa: E402

STUDENT = os.environ.get("BENCH_STUDENT", "smollm2-135m")
N = int(os.environ.get("BENCH_N", 16))
NEW = int(os.environ.get("BENCH_NEW_TOKENS", 48))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))


def emit(metric: str, value: float, unit: str, **extra) -> None:
    emit_line("decoding", metric, value, unit, student=STUDENT, torch_threads=torch.get_num_threads(),
              load_avg_1m=round(os.getloadavg()[0], 2), **extra)


def main() -> None:
    tok, model = load_model(STUDENT)
    dev = load_task("quarel", "dev", limit=N)
    n_sc = max(4, N // 2)
    native = torch.cuda.is_available() and torch.cuda.is_bf16_supported() or \
        any(f in cpu_flags()[1] for f in BF16_FLAGS)
    chosen = decode_precision(model)
    precisions = ["fp32"] + (["bf16"] if native or chosen == "bf16" else [])
    for prec in precisions:                                                       # warm-up
        timed_decode(model, tok, dev[:2], method="greedy", max_new_tokens=4, precision=prec)
    runs: dict[tuple[str, str], list[dict]] = {}
    texts: dict[str, list[str]] = {}
    for _ in range(ROUNDS):
        for prec in precisions:
            preds, t = timed_decode(model, tok, dev, method="greedy", max_new_tokens=NEW, min_new_tokens=NEW,
                                    batch_size=N, precision=prec)
            runs.setdefault(("greedy", prec), []).append(t)
            texts[prec] = [p.text for p in preds]
            _, t = timed_decode(model, tok, dev[:n_sc], method="sc", k=10, temperature=0.7, max_new_tokens=NEW,
                                min_new_tokens=NEW, batch_size=40, seed=0, precision=prec)
            runs.setdefault(("sc10", prec), []).append(t)
    for (mode, prec), ts in runs.items():
        toks, secs = sum(t["generated_tokens"] for t in ts), sum(t["seconds"] for t in ts)
        extra = dict(precision=prec, chosen=prec == chosen, new_tokens=NEW, rounds=len(ts),
                     best_tokens_per_s=round(max(t["tokens_per_s"] for t in ts), 2))
        if mode == "greedy":
            emit(f"greedy_tokens_per_s:{prec}", toks / secs, "tokens/s", prompts=N, batch=N, **extra)
            emit(f"greedy_questions_per_s:{prec}", N * len(ts) / secs, "questions/s", prompts=N, precision=prec)
        else:
            emit(f"sc10_tokens_per_s:{prec}", toks / secs, "tokens/s", prompts=n_sc, k=10, batch=40, **extra)
            emit(f"sc10_questions_per_s:{prec}", n_sc * len(ts) / secs, "questions/s", prompts=n_sc, k=10,
                 precision=prec)
    if "bf16" in texts:
        same = sum(a == b for a, b in zip(texts["fp32"], texts["bf16"]))
        emit("greedy_agreement_bf16", same / len(texts["fp32"]), "share of prompts", prompts=N, new_tokens=NEW,
             choice=choose_precision()["choice"])


if __name__ == "__main__":
    main()
