"""Teacher sampling throughput of the local backend: batch 1 vs batched ``num_return_sequences``.

For each model, N CoTs are sampled for the same few-shot QuaRel prompt in three ways through
:meth:`helpers.teacher.LocalTeacher.sample_batch` (the code path ``python -m helpers sample`` uses,
log-probs and stop criteria included):

* ``batch1``         — N calls with ``num_return_sequences=1`` (the first question only);
* ``batched``        — one call with ``num_return_sequences=N`` (the prompt encoded N times, as
  ``generate`` does);
* ``batched_shared`` — one call for N samples with the prompt encoded once and its KV cache repeated
  N times (``LocalTeacher(share_prefill=True)``, the default);
* ``gguf``           — the same N samples from the model's GGUF as it ships (quantized), run by llama.cpp
  (:class:`helpers.teacher.GGUFTeacher`, teacher ``gguf:<model>``; the prompt evaluated once, samples one after
  another, ``BENCH_THREADS`` threads) — only where llama-cpp-python is installed (``make gguf``).

The batched modes and ``gguf`` sample N CoTs for each of ``--questions`` QuaRel training questions in one call
(the same few-shot exemplars before each question: the corpus workload), ``batch1`` for the first one.

The teacher's weights are in the machine's precision (:func:`helpers.precision.inference_dtype`:
bf16 where the CPU has native bf16 and the timed check found it faster); ``batched_shared`` is also
measured in the other precision (fp32, or bf16 where native but not chosen), in the same rounds.
Every record names its ``dtype`` (``chosen``: the default one).

Each round runs the modes back to back (``--repeats`` rounds). Reported: generated tokens /
wall-clock second over all rounds (and the best round), prompt prefill included, one JSON line
per (model, mode) on stdout as ``python -m helpers bench`` expects. Samples stop
early at the end of the answer sentence, so token counts differ between modes; tokens/s is
the comparable number.

    python bench/bench_sampling.py [--models smollm2-135m qwen2.5-0.5b] [--n 4] [--max-new-tokens 32] [--repeats 2]

Env: ``BENCH_THREADS`` (torch threads; default torch's).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_MODELS = ("smollm2-135m", "qwen2.5-0.5b")


def bench_model(name: str, n: int = 8, max_new_tokens: int = 48, shots: int = 3, seed: int = 0,
                repeats: int = 2, questions: int = 1) -> dict:
    import torch

    from helpers.prompts import build_prompt
    from helpers.tasks import load_task
    from helpers.teacher import LocalTeacher

    from helpers.precision import BF16_FLAGS, cpu_flags

    t0 = time.perf_counter()
    teacher = LocalTeacher(name)                  # weights in the machine's precision (helpers.precision)
    load_s = time.perf_counter() - t0
    dtype = teacher.describe()["dtype"]
    # the other precision, default mode only: fp32 where bf16 was chosen, bf16 where the CPU has it natively
    native = torch.cuda.is_available() and torch.cuda.is_bf16_supported() or \
        any(f in cpu_flags()[1] for f in BF16_FLAGS)
    other_dtype = torch.float32 if dtype == "bfloat16" else (torch.bfloat16 if native else None)
    other = LocalTeacher(name, dtype=other_dtype) if other_dtype is not None else None
    prompts = [build_prompt(ex, shots=shots) for ex in load_task("quarel", "train", limit=questions)]
    prompt = prompts[0]
    prompt_tokens = len(teacher.tok(prompt)["input_ids"])
    for t in (teacher, other):
        if t is not None:
            t.sample_batch([prompt], 1, 1.0, 4, seed)                       # warm-up
    out: dict = {"model": name, "n": n, "questions": questions, "max_new_tokens": max_new_tokens,
                 "prompt_tokens": prompt_tokens,
                 "load_s": round(load_s, 2), "torch_threads": torch.get_num_threads(), "repeats": repeats,
                 "dtype": dtype}
    gguf = None
    try:
        from helpers.teacher import GGUFTeacher
        gguf = GGUFTeacher(name, n_threads=torch.get_num_threads(), tokenizer=teacher.tok)
        gguf.sample_batch(["Q: warm-up"], 1, 1.0, 4, seed)                      # warm-up (shares no prefix)
        out["gguf_backend"] = gguf.describe()["backend"]
    except Exception as e:                        # not installed (TeacherError) or failed: say so, measure the rest
        out["gguf_skipped"] = f"{type(e).__name__}: {e}"
    modes = ("batch1", "batched", "batched_shared") + (("other_precision",) if other is not None else ()) \
        + (("gguf",) if gguf is not None else ())
    runs: dict[str, list[tuple[int, float]]] = {m: [] for m in modes}
    for r in range(repeats):                     # modes interleaved, so a load change hits all of them
        for mode in modes:
            tch = other if mode == "other_precision" else gguf if mode == "gguf" else teacher
            if mode != "gguf":
                tch.share_prefill = mode in ("batched_shared", "other_precision")
            t = time.perf_counter()
            if mode == "batch1":
                comps = [tch.sample_batch([prompt], 1, 1.0, max_new_tokens, seed + 1000 * r + i)[0][0]
                         for i in range(n)]
            else:
                comps = [c for row in tch.sample_batch(prompts, n, 1.0, max_new_tokens, seed + 1000 * r) for c in row]
            runs[mode].append((sum(c.n_tokens or 0 for c in comps), time.perf_counter() - t))
    if other is not None:
        out["other_dtype"] = other.describe()["dtype"]
    for mode in modes:
        best = max(runs[mode], key=lambda x: x[0] / x[1])
        toks, secs = sum(x[0] for x in runs[mode]), sum(x[1] for x in runs[mode])
        out[mode] = {"generated_tokens": toks, "seconds": round(secs, 2), "tokens_per_s": round(toks / secs, 2),
                     "best_tokens_per_s": round(best[0] / best[1], 2)}
    out["speedup"] = round(out["batched"]["tokens_per_s"] / out["batch1"]["tokens_per_s"], 2)
    out["speedup_shared"] = round(out["batched_shared"]["tokens_per_s"] / out["batch1"]["tokens_per_s"], 2)
    if gguf is not None:                          # against the default engine (shared prefill), same rounds
        out["speedup_gguf"] = round(out["gguf"]["tokens_per_s"] / out["batched_shared"]["tokens_per_s"], 2)
        gguf.close()
    return out


def run(models=DEFAULT_MODELS, n: int = 4, max_new_tokens: int = 32, out: str | Path | None = None,
        repeats: int = 2, questions: int = 1) -> dict:
    res = {"bench": "sampling", "python": platform.python_version(), "machine": platform.machine(),
           "results": [bench_model(m, n=n, max_new_tokens=max_new_tokens, repeats=repeats, questions=questions)
                       for m in models]}
    if out:
        from helpers.provenance import write_json
        write_json(out, res)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=list(DEFAULT_MODELS))
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2, help="rounds, modes interleaved within each")
    ap.add_argument("--questions", type=int, default=1, help="questions per batched call (same exemplars)")
    ap.add_argument("--out", default=None, help="write the results JSON here")
    a = ap.parse_args(argv)
    import os

    import torch
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    res = run(a.models, a.n, a.max_new_tokens, a.out, a.repeats, a.questions)
    for r in res["results"]:                     # one JSON line per measurement (helpers.bench protocol)
        for mode in ("batch1", "batched", "batched_shared", "other_precision", "gguf"):
            if mode not in r:
                continue
            m = r[mode]
            dtype = r["other_dtype"] if mode == "other_precision" else "gguf" if mode == "gguf" else r["dtype"]
            name = "batched_shared" if mode == "other_precision" else mode
            print(json.dumps({"bench": "sampling", "metric": f"tokens_per_s:{r['model']}:{name}:{dtype}",
                              "value": m["tokens_per_s"], "unit": "tokens/s", "model": r["model"], "mode": name,
                              "dtype": dtype, "chosen": mode != "other_precision",
                              "n": r["n"], "questions": r["questions"], "max_new_tokens": r["max_new_tokens"],
                              "prompt_tokens": r["prompt_tokens"], "generated_tokens": m["generated_tokens"],
                              "seconds": m["seconds"], "best_tokens_per_s": m["best_tokens_per_s"],
                              "repeats": r["repeats"], "torch_threads": r["torch_threads"],
                              "load_avg_1m": round(os.getloadavg()[0], 2),
                              **({"x_transformers": r["speedup_gguf"], "backend": r["gguf_backend"]}
                                 if mode == "gguf" else {})}), flush=True)
    for r in res["results"]:
        print(f"{r['model']:>14}: batch 1 {r['batch1']['tokens_per_s']:7.1f} tok/s | batched n={r['n']} "
              f"{r['batched']['tokens_per_s']:7.1f} tok/s (x{r['speedup']}) | shared prefill "
              f"{r['batched_shared']['tokens_per_s']:7.1f} tok/s (x{r['speedup_shared']})  "
              f"(prompt {r['prompt_tokens']} tok)"
              + (f" | llama.cpp GGUF {r['gguf']['tokens_per_s']:7.1f} tok/s (x{r['speedup_gguf']} shared prefill)"
                 if "gguf" in r else f" | llama.cpp: {r.get('gguf_skipped')}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
