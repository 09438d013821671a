"""Decoding a student: greedy, and self-consistency (k sampled CoTs + majority vote).

SCoTD §2 decodes either the most likely chain-of-thought (approximated greedily) or marginalizes
over sampled chains-of-thought with a majority vote ("self-consistency", SCoTD §3.2: k=30, T=0.7).
Both run batched, left-padded ``model.generate`` calls; self-consistency draws its ``k`` samples per
prompt with ``num_return_sequences=k``. Prompts are sorted by length before batching (less padding)
and results are returned in input order. Generation stops at EOS or ``max_new_tokens`` — or, with
``stop_at_answer=True``, as soon as the text commits to an answer (for answer-first targets such as
``cot_after``, whose rationale after the label is not needed at test time: Wadhwa et al. RQ1).

Every prediction keeps the full generated text(s). Sampling settings are explicit (``top_k=0``,
``top_p=1``, no repetition penalty), so a checkpoint's own generation defaults never leak in.

Precision: bf16 weights where :func:`helpers.precision.choose_precision` picks bf16 (a CPU with native
bf16 that the timed check found faster, or a bf16 GPU), fp32 otherwise (:func:`decode_precision`);
``timed_decode`` reports which, and cached student decodes are keyed by it.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from .prompts import extract_answer, format_input
from .tasks import Example


@dataclass
class Prediction:
    """One example's decode. ``texts`` holds every generated completion (1 for greedy, k for SC)."""
    id: str
    gold: str | None
    pred: str | None                  # an option of the example, or None = no answer
    texts: list[str]
    votes: dict[str, int] = field(default_factory=dict)   # SC: label -> count (no-answer samples left out)
    n_generated_tokens: int = 0

    @property
    def correct(self) -> bool:
        return self.pred is not None and self.pred == self.gold

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["correct"] = self.correct
        return d


def majority_vote(labels: Sequence[str | None]) -> tuple[str | None, dict[str, int]]:
    """Most frequent non-None label; a tie goes to the tied label sampled first. Returns (label, votes)."""
    votes = Counter(lab for lab in labels if lab is not None)
    if not votes:
        return None, {}
    best = max(votes.values())
    winner = next(lab for lab in labels if lab is not None and votes[lab] == best)
    return winner, dict(votes)


class _AnswerStop:
    """Stopping criterion: a row is done once its generated text contains a parseable answer."""

    def __init__(self, tokenizer: Any, examples: list[Example], prompt_len: int, k: int):
        self.tok, self.examples, self.prompt_len, self.k = tokenizer, examples, prompt_len, k

    def __call__(self, input_ids, scores, **kw):
        import torch
        done = []
        for row in range(input_ids.shape[0]):
            ex = self.examples[row // self.k]
            text = self.tok.decode(input_ids[row, self.prompt_len:], skip_special_tokens=True)
            # done once an answer parses and its sentence is closed ("(b)." / "positive.")
            done.append(extract_answer(ex, text) is not None and text.rstrip().endswith((".", ")")))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _cut_at_eos(ids: list[int], eos_ids: set[int], pad_id: int | None) -> list[int]:
    out = []
    for t in ids:
        if t in eos_ids:
            break
        out.append(t)
    while out and pad_id is not None and out[-1] == pad_id:
        out.pop()
    return out


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = set()
    gc_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(gc_eos, int):
        ids.add(gc_eos)
    elif gc_eos:
        ids.update(gc_eos)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def decode_precision(model: Any, precision: str = "auto") -> str:
    """The precision :func:`generate` decodes ``model`` in: ``"bf16"``, ``"fp32"``, ``"fp16"`` or ``"as
    given"``. ``precision``: ``"auto"`` (the machine's choice, :func:`helpers.precision.choose_precision`),
    ``"bf16"`` or ``"fp32"``. A plain fp32 model is decoded from a bf16 copy of its weights when bf16 is
    wanted (on CPU, bf16 weights decoded SmolLM2-135M ~1.5x faster than fp32, bf16 autocast only ~1.2x:
    autocast re-casts the weights every step). A model already in bf16/fp16 is used as it is, and so is
    one whose forward is patched (a model being trained: it runs under the trainer's own autocast), a
    PEFT model or a device-mapped one ("as given")."""
    import torch
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    dtype = next(model.parameters()).dtype
    if dtype != torch.float32:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))
    if "forward" in vars(model) or hasattr(model, "get_base_model") or getattr(model, "hf_device_map", None):
        return "as given"
    if precision == "auto":
        from .precision import use_bf16
        precision = "bf16" if use_bf16() else "fp32"
    return precision


def inference_model(model: Any, precision: str = "auto") -> tuple[Any, str]:
    """``(model to decode with, its precision)``: ``model`` itself, or its bf16 copy (:func:`decode_precision`)."""
    import torch
    prec = decode_precision(model, precision)
    if prec == "bf16" and next(model.parameters()).dtype == torch.float32:
        return _bf16_copy(model), prec
    return model, prec


_BF16_COPIES: Any = None         # WeakKeyDictionary: fp32 model -> (weights' versions, its bf16 copy)


def _bf16_copy(model: Any) -> Any:
    """A copy of ``model`` with bf16 parameters (tied weights stay tied; buffers such as RoPE frequencies
    stay fp32); the fp32 weights are never copied. Kept (weakly, per model) until a weight of ``model``
    changes in place, so repeated decodes of one model cast it once."""
    import copy
    import weakref

    import torch
    global _BF16_COPIES
    if _BF16_COPIES is None:
        _BF16_COPIES = weakref.WeakKeyDictionary()
    versions = tuple((id(p), p._version) for p in model.parameters())
    hit = _BF16_COPIES.get(model)
    if hit is not None and hit[0] == versions:
        return hit[1]
    memo: dict[int, Any] = {}
    for p in model.parameters():
        if id(p) not in memo and p.is_floating_point():
            memo[id(p)] = torch.nn.Parameter(p.detach().to(torch.bfloat16), requires_grad=False)
    clone = copy.deepcopy(model, memo)
    _BF16_COPIES[model] = (versions, clone)
    return clone


def generate(model: Any, tokenizer: Any, examples: Sequence[Example], *, k: int = 1, do_sample: bool = False,
             temperature: float = 0.7, max_new_tokens: int = 96, batch_size: int = 16, seed: int = 0,
             stop_at_answer: bool = False, min_new_tokens: int = 0, precision: str = "auto",
             progress: bool = False) -> list[tuple[list[str], int]]:
    """Generate ``k`` completions per example (prompt = ``format_input``). Returns, per example in
    input order, ``(texts, n_generated_tokens)``. ``batch_size`` counts sequences per ``generate`` call,
    so ``max(1, batch_size // k)`` prompts go in each call. ``min_new_tokens`` (benchmarks) forbids EOS
    before that many tokens. ``precision``: see :func:`inference_model`."""
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > 1 and not do_sample:
        raise ValueError("k > 1 identical greedy decodes make no sense: set do_sample=True")
    examples = list(examples)
    prompts = [format_input(ex) for ex in examples]
    order = sorted(range(len(prompts)), key=lambda i: -len(tokenizer(prompts[i])["input_ids"]))
    per_call = max(1, batch_size // k)
    eos_ids = _eos_ids(model, tokenizer)
    gen_cfg = GenerationConfig(
        max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens or None, do_sample=do_sample,
        num_return_sequences=k,
        temperature=temperature if do_sample else None, top_k=0 if do_sample else None,
        top_p=1.0 if do_sample else None, repetition_penalty=1.0,
        eos_token_id=sorted(eos_ids), pad_token_id=tokenizer.pad_token_id)
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    outer, (model, _) = model, inference_model(model, precision)
    results: list[tuple[list[str], int] | None] = [None] * len(examples)
    batches = [order[i:i + per_call] for i in range(0, len(order), per_call)]
    iterator = batches
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(batches, desc=f"decode ({'sc' if do_sample else 'greedy'})", unit="batch")
    try:
        for b, idx in enumerate(iterator):
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True)
            enc = {key: v.to(model.device) for key, v in enc.items()}
            plen = enc["input_ids"].shape[1]
            kw = {}
            if stop_at_answer:
                kw["stopping_criteria"] = StoppingCriteriaList(
                    [_AnswerStop(tokenizer, [examples[i] for i in idx], plen, k)])
            torch.manual_seed(seed * 100003 + b)
            with torch.inference_mode():
                out = model.generate(**enc, generation_config=gen_cfg, **kw)
            gen = out[:, plen:].tolist()
            for j, i in enumerate(idx):
                texts, n_tok = [], 0
                for row in gen[j * k:(j + 1) * k]:
                    ids = _cut_at_eos(row, eos_ids, tokenizer.pad_token_id)
                    n_tok += len(ids)
                    texts.append(tokenizer.decode(ids, skip_special_tokens=False))
                results[i] = (texts, n_tok)
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            outer.train()
    return results  # type: ignore[return-value]


def decode(model: Any, tokenizer: Any, examples: Sequence[Example], *, method: str = "greedy", k: int = 10,
           temperature: float = 0.7, max_new_tokens: int = 96, batch_size: int = 16, seed: int = 0,
           stop_at_answer: bool = False, min_new_tokens: int = 0, precision: str = "auto",
           progress: bool = False) -> list[Prediction]:
    """Decode every example: ``method="greedy"`` (one greedy completion) or ``"sc"`` (self-consistency:
    ``k`` samples at ``temperature``, majority vote over the extracted answers). ``precision``: ``"auto"``
    (bf16 where this machine computes it faster, :func:`decode_precision`), ``"bf16"`` or ``"fp32"``."""
    if method not in ("greedy", "sc"):
        raise ValueError(f"method must be 'greedy' or 'sc', got {method!r}")
    sc = method == "sc"
    gens = generate(model, tokenizer, examples, k=k if sc else 1, do_sample=sc, temperature=temperature,
                    max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                    stop_at_answer=stop_at_answer, min_new_tokens=min_new_tokens, precision=precision,
                    progress=progress)
    preds = []
    for ex, (texts, n_tok) in zip(examples, gens):
        labels = [extract_answer(ex, t) for t in texts]
        if sc:
            pred, votes = majority_vote(labels)
        else:
            pred, votes = labels[0], ({labels[0]: 1} if labels[0] else {})
        preds.append(Prediction(ex.id, ex.answer, pred, texts, votes, n_tok))
    return preds


def timed_decode(*args: Any, **kw: Any) -> tuple[list[Prediction], dict[str, Any]]:
    """:func:`decode` plus its wall time, generated-token throughput and the precision it decoded in."""
    model = args[0] if args else kw["model"]
    prec = decode_precision(model, kw.get("precision", "auto"))
    t0 = time.perf_counter()
    preds = decode(*args, **kw)
    dt = time.perf_counter() - t0
    n_tok = sum(p.n_generated_tokens for p in preds)
    return preds, {"seconds": dt, "generated_tokens": n_tok, "tokens_per_s": n_tok / dt if dt else 0.0,
                   "precision": prec}


def dev_accuracy(examples: Sequence[Example], *, max_new_tokens: int = 64,
                 batch_size: int = 16, stop_at_answer: bool = False) -> Callable[[Any, Any], float]:
    """``evaluate(model, tokenizer) -> accuracy`` of a greedy decode of ``examples``: the dev evaluation
    early stopping calls (``helpers.train.train_student(..., dev_eval=dev_accuracy(dev[:cfg.n_dev_eval],
    max_new_tokens=cfg.eval_max_new_tokens))``)."""
    examples = list(examples)
    if not examples:
        raise ValueError("dev_accuracy needs at least one example")

    def evaluate(model: Any, tokenizer: Any) -> float:
        preds = decode(model, tokenizer, examples, method="greedy", max_new_tokens=max_new_tokens,
                       batch_size=batch_size, stop_at_answer=stop_at_answer)
        return sum(p.correct for p in preds) / len(preds)

    return evaluate


DECODE_CACHE_VERSION = 1


def decode_student(student: Any, examples: Sequence[Example], *, method: str = "greedy", k: int = 1,
                   temperature: float | None = None, max_new_tokens: int = 96, seed: int = 0,
                   batch_size: int = 16, stop_at_answer: bool | None = None,
                   progress: bool = False) -> list[Prediction]:
    """:func:`decode` with a trained student (:class:`helpers.train.Student`), cached under
    ``$COTLAB_CACHE/decodes/`` by (student key, example ids, decoding parameters): a finished decode is
    never recomputed. ``stop_at_answer`` (default: for self-consistency only) ends each sample once it has
    an answer — the vote needs nothing after it, nor does an answer-first student (CoT after the label)."""
    import json

    from . import config
    from .provenance import stable_hash, write_json
    sc = method == "sc"
    params = {"method": method, "k": k if sc else 1, "temperature": temperature if sc else None,
              "max_new_tokens": max_new_tokens, "seed": seed, "batch_size": batch_size}
    stop = sc if stop_at_answer is None else stop_at_answer
    if stop:
        params["stop_at_answer"] = True
    from .precision import use_bf16
    if use_bf16():                  # bf16 decodes can differ from fp32 ones: cached apart (fp32 keys unchanged)
        params["precision"] = "bf16"
    if (getattr(student, "meta", None) or {}).get("stored_dtype") == "bf16":   # bf16-stored weights: cached apart
        params["weights"] = "bf16"
    ident = {"student": student.key, "ids": [ex.id for ex in examples], **params, "v": DECODE_CACHE_VERSION}
    if any(ex.meta.get("max_words") is not None for ex in examples):   # shortened inputs: same ids, other texts
        ident["inputs"] = stable_hash([format_input(ex) for ex in examples])
    key = stable_hash(ident, n=24)
    path = config.cache_dir() / "decodes" / f"{key}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return [Prediction(**{f: v for f, v in d.items() if f != "correct"}) for d in data["predictions"]]
    import time

    import torch
    t0 = time.perf_counter()
    tok, model = student.load(dtype=torch.bfloat16) if params.get("precision") == "bf16" else student.load()
    preds = decode(model, tok, examples, method=method, k=k, temperature=temperature or 0.7,
                   max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed, stop_at_answer=stop,
                   progress=progress)
    del model
    write_json(path, {"student": student.key, "params": params, "seconds": round(time.perf_counter() - t0, 2),
                      "generated_tokens": int(sum(p.n_generated_tokens for p in preds)),
                      "predictions": [p.to_dict() for p in preds]})
    return preds
