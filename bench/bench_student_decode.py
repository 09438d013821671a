"""A trained student's real decode workload: the batch shape, and what storing its weights in bf16 changes.

The course's greedy dev decode — the full evaluation split of the student's task, completions ending at
EOS as in the suite (no forced length) — of one trained student, in fp32:

* ``greedy_tokens_per_s:batch=<b>`` for each batch size of ``BENCH_BATCHES`` (16 is the protocol's
  ``decode_batch_size`` today), with ``ratio_to_batch16`` and ``answer_agreement`` / ``text_agreement``
  with the batch-16 decode (left padding can change the numerics);
* ``storage_bf16:answer_agreement`` / ``text_agreement`` — the same decode (batch 16, fp32 compute) with the
  weights rounded to bf16, as ``COTLAB_STUDENT_STORAGE=bf16`` caches them; ``accuracy:fp32`` and
  ``accuracy:bf16_weights``; ``weights_mb`` of each.

Other engines on the same questions, each against the batch-16 ``generate`` decode of the same run
(``engine:<name>:tokens_per_s`` with ``ratio_to_generate``, ``answer_agreement``, ``text_agreement``, ``accuracy``):

* ``int8_dynamic`` — ``torch.ao`` dynamic int8 quantization of every linear layer but the LM head, per
  output channel (fbgemm kernels; the only lower precision that runs natively on a CPU without bf16);
* ``continuous_batching`` — transformers' ``generate_batch`` (paged KV cache, finished rows replaced by
  waiting ones instead of being carried to the longest row's end);
* ``llama.cpp:<type>`` (``f32``, ``f16``, ``q8_0``) — the student exported to GGUF
  (:func:`helpers.models.export_gguf`, cached under ``$COTLAB_CACHE/bench``) and decoded by llama.cpp through
  llama-cpp-python (the ``gguf`` extra), every question in its own sequence, one ``llama_decode`` per step for
  all unfinished ones; ``BENCH_KV_UNIFIED=1`` puts them in one unified KV cache instead of one stream each.

Env: ``BENCH_STUDENT`` (a trained student's cache folder; default: the newest cached student with weights that
was trained on a Greedy-CoT target of the coin flip), ``BENCH_BATCHES`` ("16,32,64"), ``BENCH_N`` (all),
``BENCH_THREADS``, ``BENCH_ENGINES`` ("int8_dynamic,continuous_batching"; "" for none; e.g. "llama.cpp:q8_0").
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))

from helpers import config  # noqa: E402
from helpers.bench import emit_line  # noqa: E402
from helpers.decode import decode  # noqa: E402
from helpers.models import load_model  # noqa: E402
from helpers.prompts import extract_answer  # noqa: E402
from helpers.tasks import load_task  # noqa: E402
from helpers.train import STUDENT_META, has_weights  # noqa: E402

BATCHES = [int(b) for b in os.environ.get("BENCH_BATCHES", "16,32,64").split(",")]
N = int(os.environ["BENCH_N"]) if os.environ.get("BENCH_N") else None
ENGINES = [e for e in os.environ.get("BENCH_ENGINES", "int8_dynamic,continuous_batching").split(",") if e]


def int8_dynamic(model):
    """``model`` with every linear layer but the LM head quantized to int8 per output channel (dynamic
    activations): fbgemm's AVX2 kernels."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    spec = {name: per_channel_dynamic_qconfig for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and name != "lm_head"}
    return quantize_dynamic(model, spec, dtype=torch.qint8)


def continuous_batching(model, tok, dev, max_new):
    """Greedy texts of ``dev`` from transformers' continuous batching (``generate_batch``), cut at EOS as
    :func:`helpers.decode.generate` cuts them."""
    from transformers import GenerationConfig

    from helpers.decode import _cut_at_eos, _eos_ids
    from helpers.prompts import format_input
    eos = _eos_ids(model, tok)
    cfg = GenerationConfig(max_new_tokens=max_new, do_sample=False, eos_token_id=sorted(eos),
                           pad_token_id=tok.pad_token_id)
    with torch.inference_mode():
        out = model.generate_batch([tok(format_input(ex))["input_ids"] for ex in dev], generation_config=cfg,
                                   warmup=False)
    ids = [_cut_at_eos(out[f"req_{i}"].generated_tokens, eos, tok.pad_token_id) for i in range(len(dev))]
    return [(tok.decode(t, skip_special_tokens=False), len(t)) for t in ids]


def llama_cpp_greedy(path, tok, dev, max_new, qtype, threads, eos_ids):
    """Greedy texts of ``dev`` from llama.cpp (llama-cpp-python's C API) running the student exported to GGUF
    (:func:`helpers.models.export_gguf`, ``qtype``): every question in its own sequence of one unified KV cache,
    the prompts evaluated together, then one token of every unfinished sequence per ``llama_decode`` — the batch
    shape of the protocol's decode. Token ids come from the student's own tokenizer (same prompts as
    :func:`helpers.decode.generate`); argmax over the raw logits; cut at EOS and decoded as it cuts and decodes.
    Returns ``([(text, n_tokens)], export_seconds)``."""
    import llama_cpp as L
    import numpy as np

    from helpers.models import export_gguf
    from helpers.teacher import llama_decode_rows, llama_init
    from helpers.prompts import format_input
    meta = json.loads((path / STUDENT_META).read_text())
    out = config.cache_dir() / "bench" / f"{path.name}.{qtype}.gguf"
    t0 = time.perf_counter()
    if not out.exists():
        export_gguf(path, meta["student"], out, qtype)
    export_s = time.perf_counter() - t0
    llama_init(L)
    model = L.llama_model_load_from_file(str(out).encode(), L.llama_model_default_params())
    prompts = [tok(format_input(ex))["input_ids"] for ex in dev]
    n = len(prompts)
    cp = L.llama_context_default_params()
    cp.n_ctx = n * (max(len(p) for p in prompts) + max_new + 8)
    cp.n_batch = cp.n_ubatch = 1024
    cp.n_seq_max = n
    cp.n_threads = cp.n_threads_batch = threads
    # one KV stream per sequence: in a unified cache every row attends (masked) over all sequences' cells
    cp.kv_unified = os.environ.get("BENCH_KV_UNIFIED", "0") == "1"
    ctx = L.llama_init_from_model(model, cp)
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(1024, 0, 1)
    eos = set(eos_ids)

    def run(rows):                                   # (token, pos, seq, logits?) → logits of the flagged rows
        outs = []
        for i in range(0, len(rows), 1024):
            part = rows[i:i + 1024]
            if llama_decode_rows(L, ctx, batch, part) != 0:
                raise RuntimeError("llama_decode failed")
            k = sum(1 for r in part if r[3])
            if k:
                outs.append(np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(k, n_vocab)).argmax(1))
        return np.concatenate(outs) if outs else np.zeros(0, dtype=int)

    gen: list[list[int]] = [[] for _ in range(n)]
    nxt = run([(t, q, s, q == len(p) - 1) for s, p in enumerate(prompts) for q, t in enumerate(p)])
    live = list(range(n))
    for step in range(max_new):
        still = []
        for s, t in zip(live, nxt):
            t = int(t)
            if t in eos:
                continue
            gen[s].append(t)
            if len(gen[s]) < max_new:
                still.append(s)
        live = still
        if not live:
            break
        nxt = run([(gen[s][-1], len(prompts[s]) + len(gen[s]) - 1, s, True) for s in live])
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return [(tok.decode(g, skip_special_tokens=False), len(g)) for g in gen], export_s


def find_student() -> Path:
    if os.environ.get("BENCH_STUDENT"):
        return Path(os.environ["BENCH_STUDENT"])
    found = []
    for d in (config.cache_dir() / "students").iterdir():
        meta = d / STUDENT_META
        if d.is_dir() and meta.exists() and has_weights(d):
            m = json.loads(meta.read_text())
            info = m.get("info", {})
            if info.get("task") == "coinflip" and info.get("condition") == "greedy_cot":
                found.append((meta.stat().st_mtime, d))
    if not found:
        raise SystemExit("no cached Greedy-CoT coin-flip student with weights: set BENCH_STUDENT to a student folder "
                         "(`python -m helpers cache list --students`) or run `make sweep GRID=coinflip-confirm`")
    return max(found)[1]


def main() -> None:
    path = find_student()
    meta = json.loads((path / STUDENT_META).read_text())
    task = meta.get("info", {}).get("task", "coinflip")
    dev = load_task(task, "dev")[:N] if N else load_task(task, "dev")
    max_new = max(96, int(meta.get("max_completion_tokens") or 0))
    tok, model = load_model(str(path))
    common = dict(student=path.name, task=task, questions=len(dev), torch_threads=torch.get_num_threads(),
                  load_avg_1m=round(os.getloadavg()[0], 2))

    def run(m, batch):
        t0 = time.perf_counter()
        preds = decode(m, tok, dev, method="greedy", max_new_tokens=max_new, batch_size=batch, precision="fp32")
        secs = time.perf_counter() - t0
        return preds, secs, sum(p.n_generated_tokens for p in preds)

    decode(model, tok, dev[:2], method="greedy", max_new_tokens=4, precision="fp32")     # warm-up
    base = None
    for b in BATCHES:
        preds, secs, toks = run(model, b)
        if base is None:
            base = (preds, toks / secs, b)
        same_ans = sum(p.pred == q.pred for p, q in zip(preds, base[0])) / len(dev)
        same_txt = sum(p.text == q.text for p, q in zip(preds, base[0])) / len(dev)
        emit_line("student_decode", f"greedy_tokens_per_s:batch={b}", toks / secs, "tokens/s", batch=b,
                  seconds=round(secs, 1), generated_tokens=toks, ratio_to_batch16=round(toks / secs / base[1], 3),
                  reference_batch=base[2], answer_agreement=same_ans, text_agreement=same_txt,
                  accuracy=sum(p.correct for p in preds) / len(dev), **common)
    ref = base[0]
    ref_rate = base[1] if base[2] == 16 else None     # the engines are compared with the batch-16 generate decode
    for engine in ENGINES:
        t0 = time.perf_counter()
        if engine == "int8_dynamic":
            quant = int8_dynamic(load_model(str(path))[1])
            t0 = time.perf_counter()
            preds, secs, toks = run(quant, 16)
            del quant
            outs = [(p.text, p.pred) for p in preds]
        elif engine == "continuous_batching":
            got = continuous_batching(model, tok, dev, max_new)
            secs = time.perf_counter() - t0
            toks = sum(n for _, n in got)
            outs = [(t, extract_answer(ex, t)) for (t, _), ex in zip(got, dev)]
        elif engine.startswith("llama.cpp:"):
            from helpers.decode import _eos_ids
            got, export_s = llama_cpp_greedy(path, tok, dev, max_new, engine.split(":", 1)[1], torch.get_num_threads(),
                                             _eos_ids(model, tok))
            secs = time.perf_counter() - t0 - export_s
            toks = sum(n for _, n in got)
            outs = [(t, extract_answer(ex, t)) for (t, _), ex in zip(got, dev)]
        else:
            raise SystemExit(f"BENCH_ENGINES: unknown engine {engine!r}; valid: int8_dynamic, continuous_batching, "
                             "llama.cpp:f32, llama.cpp:f16, llama.cpp:q8_0")
        emit_line("student_decode", f"engine:{engine}:tokens_per_s", toks / secs, "tokens/s", seconds=round(secs, 1),
                  generated_tokens=toks, reference="generate, batch 16, fp32",
                  ratio_to_generate=round(toks / secs / ref_rate, 3) if ref_rate else None,
                  answer_agreement=sum(o[1] == q.pred for o, q in zip(outs, ref)) / len(dev),
                  text_agreement=sum(o[0] == q.text for o, q in zip(outs, ref)) / len(dev),
                  accuracy=sum(o[1] == ex.answer for o, ex in zip(outs, dev)) / len(dev), **common)
    rounded = load_model(str(path))[1]
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    preds, secs, toks = run(rounded, base[2])
    n_params = sum(p.numel() for p in model.parameters())
    for metric, value, unit in (
            ("storage_bf16:answer_agreement", sum(p.pred == q.pred for p, q in zip(preds, ref)) / len(dev), "share"),
            ("storage_bf16:text_agreement", sum(p.text == q.text for p, q in zip(preds, ref)) / len(dev), "share"),
            ("accuracy:fp32", sum(p.correct for p in ref) / len(dev), "share"),
            ("accuracy:bf16_weights", sum(p.correct for p in preds) / len(dev), "share"),
            ("weights_mb:fp32", n_params * 4 / 1e6, "MB"), ("weights_mb:bf16", n_params * 2 / 1e6, "MB")):
        emit_line("student_decode", metric, value, unit, batch=base[2], **common)


if __name__ == "__main__":
    main()
