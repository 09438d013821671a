"""Teachers behind one interface, and the resumable sampling loop that builds a corpus (SCoTD §2).

Three teachers:

* :class:`LocalTeacher` — any registry model / local directory / hub id through transformers:
  batched ``generate(do_sample=True, num_return_sequences=N)``, seeded, with per-token
  log-probabilities of every sampled CoT under the model (raw logits, i.e. temperature 1).
* :class:`HTTPTeacher` — an OpenAI-compatible ``/v1/completions`` endpoint (vLLM, llama.cpp
  ``llama-server``, Ollama, OpenAI, or ``python -m helpers.serve``): ``n``, ``temperature``,
  ``max_tokens``, ``logprobs``, concurrent requests, timeouts, retries with exponential backoff on
  429 (honouring ``Retry-After``), 5xx, timeouts, dropped connections and malformed JSON. A server
  that ignores ``n`` is detected and served by one request per sample (``teacher.ignores_n``).
  The API key is read from ``$COTLAB_API_KEY`` or ``$OPENAI_API_KEY`` and only ever put in a request
  header — never in a cache, corpus, log line or repr.
* :class:`ReplayTeacher` — a released corpus (``<data>/rationales/<name>/``, or a SCoTD ``*_30x.json``
  file) served through the same interface, so every downstream step runs on real large-teacher CoTs.

:func:`sample_corpus` asks a teacher only for the samples missing from the durable
:class:`~helpers.sample_cache.SampleCache`, writing each one the moment it returns; rerunning after a
kill redoes no finished call.
"""
from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .config import UserError
from .provenance import stable_hash
from .tasks import DataError, Example, load_task

#: Generation stops at a blank line or the next few-shot question; the completion is further cut
#: after the answer sentence ("So the answer is (b).").
STOP: tuple[str, ...] = ("\n\n", "\nQ:")
_ANSWER_END = re.compile(r"answer is[^\n]*?[.!?](?=\s|$)", re.IGNORECASE)


class TeacherError(UserError, RuntimeError):
    """A teacher could not produce samples (an unreachable endpoint, HTTP errors after retries); the cache
    keeps what was done."""


@dataclass
class Completion:
    """One sampled completion as returned by a teacher."""
    text: str                               # completion, cut at the stop / after the answer sentence
    logprob: float | None = None            # sum of log-probs of the generated tokens
    n_tokens: int | None = None             # generated tokens
    tokens_in: int = 0                      # prompt tokens billed to this sample (first of a request)
    token_ids: list[int] | None = None      # generated token ids (local teacher)
    token_logprobs: list[float] | None = None  # per generated token (local teacher; not cached)
    finish_reason: str | None = None        # "stop" | "length"
    label: str | None = None                # replay only: the released label (already normalized)
    rationale: str | None = None            # replay only: the released rationale
    raw: str | None = None                  # replay only: the released raw text


@dataclass(frozen=True)
class SampleParams:
    n: int = 4
    temperature: float = 1.0
    max_new_tokens: int = 96
    stop: tuple[str, ...] = STOP

    def key(self) -> dict[str, Any]:
        return {"temperature": float(self.temperature), "max_new_tokens": int(self.max_new_tokens),
                "stop": list(self.stop)}


@dataclass
class Request:
    """The samples ``ks`` wanted for one question (``key`` hashes teacher, prompt and parameters)."""
    example: Example
    prompt: str
    key: str
    ks: list[int]


def cut_completion(text: str, stop: Iterable[str] = STOP) -> tuple[str, int]:
    """Cut ``text`` at the first stop string, then just after the answer sentence.

    Returns ``(kept_text, cut_position)`` where ``cut_position`` indexes ``text``.
    """
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if 0 <= i < cut:
            cut = i
    m = _ANSWER_END.search(text[:cut])
    if m:
        cut = m.end()
    return text[:cut], cut


def _ended(text: str, stop: tuple[str, ...]) -> bool:
    """Whether generation can stop: ``text`` holds a stop string or a completed answer sentence."""
    return cut_completion(text, stop)[1] < len(text) or bool(_ANSWER_END.search(text))


def _greedy_copies(first: "Completion", n: int) -> list["Completion"]:
    """A greedy decode stands for all ``n`` samples: itself, then copies that bill no prompt tokens."""
    return [first] + [Completion(**{**asdict(first), "tokens_in": 0}) for _ in range(n - 1)]


def _int_seed(*parts: Any) -> int:
    return int(stable_hash(list(parts)), 16) % (2 ** 31 - 1)


class Teacher:
    """Base class: ``generate`` yields ``(request, k, completion)`` as samples become available."""
    teacher_id: str = "teacher"
    cacheable: bool = True
    supports_prompts: bool = True   # False for replay (it ignores the prompt)

    def generate(self, requests: list[Request], params: SampleParams,
                 seed: int) -> Iterator[tuple[Request, int, Completion]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id}

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------ local

class _StopCriteria:
    """Per-row stopping: EOS, a stop string, or a completed answer sentence; records where each row ended."""

    def __init__(self, tokenizer, prompt_len: int, stop: tuple[str, ...], eos_ids: set[int]):
        self.tok, self.prompt_len, self.stop, self.eos_ids = tokenizer, prompt_len, stop, eos_ids
        self.done_at = None

    def __call__(self, input_ids, scores, **kwargs):
        import torch
        gen = input_ids[:, self.prompt_len:]
        rows, length = gen.shape
        if self.done_at is None:
            self.done_at = torch.full((rows,), -1, dtype=torch.long)
        todo = (self.done_at < 0).nonzero().flatten().tolist()
        if todo:
            texts = self.tok.batch_decode(gen[todo], skip_special_tokens=True)
            for r, t in zip(todo, texts):
                if int(gen[r, -1]) in self.eos_ids or _ended(t, self.stop):
                    self.done_at[r] = length
        return (self.done_at >= 0).to(input_ids.device)


class LocalTeacher(Teacher):
    """A transformers causal LM sampled on this machine.

    ``batch_size`` prompts go through one ``generate`` call that samples the number of samples still
    missing for them (``num_return_sequences`` semantics). With ``share_prefill`` (default) each prompt
    is encoded once and its KV cache repeated for the N samples, instead of encoding N copies — the
    few-shot prompt dominates the cost on CPU. Each call is seeded from (seed, request keys, sample
    indices), so the same call yields the same samples. ``logprob`` is the sum over generated tokens of
    ``log softmax(raw logits)`` — the model's own likelihood, independent of the sampling temperature.
    ``dtype`` (default: :func:`helpers.precision.inference_dtype`, bf16 where this machine computes bf16
    faster, else fp32) is the weights' dtype; a passed ``model_obj`` is used as it is.
    """

    def __init__(self, model: str = "smollm2-135m", *, tokenizer=None, model_obj=None, batch_size: int = 4,
                 dtype=None, share_prefill: bool = True):
        from .models import load_model, model_id
        if model_obj is None:
            if dtype is None:
                from .precision import inference_dtype
                dtype = inference_dtype()
            tokenizer, model_obj = load_model(model, dtype=dtype)
        self.tok, self.model = tokenizer, model_obj
        self.tok.padding_side = "left"
        self.name = model
        self.teacher_id = f"local:{model_id(model)}"
        self.batch_size = max(1, int(batch_size))
        self.share_prefill = share_prefill
        eos = self.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else ([eos] if eos is not None else [])
        self.eos_ids = set(eos) | ({self.tok.eos_token_id} if self.tok.eos_token_id is not None else set())

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id, "backend": "transformers", "model": self.name,
                "batch_size": self.batch_size, "share_prefill": self.share_prefill,
                "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch.")}

    def sample_batch(self, prompts: list[str], n: int, temperature: float, max_new_tokens: int,
                     seed: int, stop: tuple[str, ...] = STOP) -> list[list[Completion]]:
        """Sample ``n`` completions for each prompt in one ``generate`` call."""
        import torch
        from transformers import StoppingCriteriaList

        enc = self.tok(prompts, return_tensors="pt", padding=True).to(self.model.device)
        prompt_len = enc["input_ids"].shape[1]
        n_in = enc["attention_mask"].sum(dim=1).tolist()
        crit = _StopCriteria(self.tok, prompt_len, stop, self.eos_ids)
        greedy = temperature <= 0
        gen_kw: dict[str, Any] = dict(
            max_new_tokens=max_new_tokens, do_sample=not greedy, num_return_sequences=1 if greedy else n,
            return_dict_in_generate=True, output_logits=True, stopping_criteria=StoppingCriteriaList([crit]),
            pad_token_id=self.tok.pad_token_id)
        if not greedy:
            gen_kw.update(temperature=float(temperature), top_k=0, top_p=1.0, min_p=None,
                          repetition_penalty=1.0)
        else:
            gen_kw.update(temperature=None, top_k=None, top_p=None)
        torch.manual_seed(seed)
        with torch.inference_mode():
            per_prompt = gen_kw["num_return_sequences"]
            if self.share_prefill and prompt_len > 1:
                out = self._generate_shared(enc, per_prompt, gen_kw)
            else:
                out = self.model.generate(**enc, **gen_kw)
        seqs = out.sequences[:, prompt_len:]
        rows, steps = seqs.shape
        ends = crit.done_at if crit.done_at is not None else torch.full((rows,), -1)
        lengths = [int(e) if e >= 0 else steps for e in ends.tolist()]
        # log-probs of the chosen tokens under the raw (unprocessed) logits: (rows, steps)
        tok_lp = torch.stack([torch.log_softmax(lg.float(), dim=-1).gather(1, seqs[:, t:t + 1]).squeeze(1)
                              for t, lg in enumerate(out.logits)], dim=1).double()
        del out
        per = 1 if greedy else n
        results: list[list[Completion]] = []
        for i in range(len(prompts)):
            comps = []
            for j in range(per):
                r = i * per + j
                ids = seqs[r, :lengths[r]].tolist()
                full = self.tok.decode(ids, skip_special_tokens=True)
                text, cut = cut_completion(full, stop)
                finish = "stop" if ends[r] >= 0 else "length"
                lps = tok_lp[r, :lengths[r]].tolist()
                comps.append(Completion(text=text, logprob=float(sum(lps)), n_tokens=len(ids),
                                        tokens_in=int(n_in[i]) if j == 0 else 0, token_ids=ids,
                                        token_logprobs=lps, finish_reason=finish))
            if greedy:
                comps = _greedy_copies(comps[0], n)
            results.append(comps)
        return results

    def _generate_shared(self, enc, n: int, gen_kw: dict[str, Any]):
        """``generate`` with the prompt encoded once: the KV cache of all but the last prompt token is
        computed for the B prompts, repeated ``n`` times, and generation continues from there."""
        from transformers import DynamicCache
        ids, mask = enc["input_ids"], enc["attention_mask"]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        self.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1],
                   past_key_values=cache, use_cache=True)
        if n > 1:
            cache.batch_repeat_interleave(n)
        kw = dict(gen_kw, num_return_sequences=1)
        return self.model.generate(input_ids=ids.repeat_interleave(n, 0),
                                   attention_mask=mask.repeat_interleave(n, 0), past_key_values=cache, **kw)

    def generate(self, requests, params, seed):
        groups: dict[int, list[Request]] = {}
        for r in requests:
            groups.setdefault(len(r.ks), []).append(r)
        for n, reqs in sorted(groups.items()):
            for b in range(0, len(reqs), self.batch_size):
                batch = reqs[b:b + self.batch_size]
                s = _int_seed(seed, [(r.key, r.ks) for r in batch])
                outs = self.sample_batch([r.prompt for r in batch], n, params.temperature,
                                         params.max_new_tokens, s, params.stop)
                for r, comps in zip(batch, outs):
                    for k, c in zip(r.ks, comps):
                        yield r, k, c


#: llama.cpp's log callback, kept alive for the process (a ctypes callback must outlive its registration)
_LLAMA_LOG = None


def llama_init(L: Any) -> None:
    """Silence llama.cpp (it logs every load to stderr) and initialise its backend, once per process."""
    global _LLAMA_LOG
    if _LLAMA_LOG is None:
        _LLAMA_LOG = L.llama_log_callback(lambda level, text, data: None)
        L.llama_log_set(_LLAMA_LOG, None)
        L.llama_backend_init()


def llama_decode_rows(L: Any, ctx: Any, batch: Any, rows: Sequence[tuple[int, int, int, bool]]) -> int:
    """One ``llama_decode`` of ``(token, position, sequence, wants logits)`` rows through ``batch``; returns
    llama.cpp's code (0: done; 1: no room in the KV cache)."""
    batch.n_tokens = len(rows)
    for i, (t, pos, seq, lg) in enumerate(rows):
        batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = t, pos, 1, lg
        batch.seq_id[i][0] = seq
    return L.llama_decode(ctx, batch)


class GGUFTeacher(Teacher):
    """A registry model's GGUF file sampled by llama.cpp (``llama-cpp-python``'s C API) as it ships: quantized
    weights, not the dequantized fp32 checkpoint :class:`LocalTeacher` runs. Named ``gguf:<model>``.

    The project's tokenizer (the same vocabulary, read from the same GGUF) encodes the prompt and decodes the
    completions, so prompts, stop rules and the answer-sentence cut are :class:`LocalTeacher`'s. Per question the
    prompt (all but its last token) is evaluated once; its KV cells are shared (a unified cache) by up to
    ``n_seq`` samples decoded together, one token each per step, and the part the next prompt shares with it (the
    few-shot exemplars) is kept for that prompt. Sampling is plain ancestral sampling at
    ``temperature`` (no top-k / top-p / min-p / penalties) from numpy's generator seeded by (seed, prompt index,
    sample index). llama.cpp's arithmetic depends on how tokens are batched (the prompt is therefore evaluated in
    chunks aligned to position 0), so a sample also depends on the samples decoded beside it: the same call gives
    the same samples, a call with another ``n`` or ``n_seq`` other (equally valid) ones. ``logprob`` is the sum
    over generated tokens of ``log softmax(raw logits)`` — the model's own likelihood, as :class:`LocalTeacher`
    records it. The arithmetic
    is llama.cpp's (quantized matmuls), so its samples are cached under their own teacher id (``gguf:…``).
    """

    PREFILL_CHUNK = 64                                # prompt tokens per llama_decode, aligned to position 0

    def __init__(self, model: str = "qwen2.5-0.5b", *, n_threads: int | None = None, n_seq: int = 8,
                 n_ctx: int = 4096, tokenizer=None):
        try:
            import llama_cpp as L
        except ImportError as e:
            raise TeacherError(f"teacher 'gguf:{model}' needs llama-cpp-python, an optional extra built from source "
                               "(cmake and a C++ compiler; ~15–30 min on 2 cores): make gguf "
                               f"(or pip install -e '.[gguf]'); import failed: {e}") from None
        import numpy as np

        from .models import gguf_path, load_tokenizer, model_id
        self._L, self._np = L, np
        self.name = model
        self.teacher_id = f"gguf:{model_id(model)}"
        self.tok = tokenizer if tokenizer is not None else load_tokenizer(model)
        if n_threads is None:
            import torch
            n_threads = torch.get_num_threads()
        self.n_threads, self.n_seq, self.n_ctx = int(n_threads), max(1, int(n_seq)), int(n_ctx)
        self.version = L.__version__
        llama_init(L)
        path = gguf_path(model)
        self._model = L.llama_model_load_from_file(str(path).encode(), L.llama_model_default_params())
        if not self._model:
            raise TeacherError(f"llama.cpp could not load {path} (teacher gguf:{model})")
        cp = L.llama_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_ubatch = self.n_ctx, 512, 512
        cp.n_seq_max = self.n_seq + 1                 # sequence 0 holds the prompt, 1..n_seq the samples
        cp.n_threads = cp.n_threads_batch = self.n_threads
        cp.kv_unified = True                          # the prompt's cells are shared, not copied, by the samples
        self._ctx = L.llama_init_from_model(self._model, cp)
        if not self._ctx:
            raise TeacherError(f"llama.cpp could not create a context for {path} (n_ctx {self.n_ctx})")
        self._mem = L.llama_get_memory(self._ctx)
        self._batch = L.llama_batch_init(512, 0, 1)
        self._held: list[int] = []                    # the prompt tokens whose KV cells sequence 0 holds
        vocab = L.llama_model_get_vocab(self._model)
        self.n_vocab = L.llama_vocab_n_tokens(vocab)
        self.eos_ids = {int(L.llama_vocab_eos(vocab)), int(L.llama_vocab_eot(vocab))} - {-1}
        if self.tok.eos_token_id is not None:
            self.eos_ids.add(int(self.tok.eos_token_id))
        self.batch_size = 1

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id, "backend": f"llama.cpp (llama-cpp-python {self.version})",
                "model": self.name, "n_threads": self.n_threads, "n_seq": self.n_seq}

    def _decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence, wants logits)`` rows."""
        rc = llama_decode_rows(self._L, self._ctx, self._batch, rows)
        if rc != 0:
            raise TeacherError(f"llama.cpp decode failed (code {rc}; 1 = no room in the KV cache of {self.n_ctx} "
                               "tokens: a smaller n_seq or a larger n_ctx)")

    def _logits(self, i: int):
        L, np = self._L, self._np
        return np.ctypeslib.as_array(L.llama_get_logits_ith(self._ctx, i), shape=(self.n_vocab,)).astype(np.float64)

    def _sample_group(self, pids: list[int], rngs: list, temperature: float, max_new_tokens: int,
                      stop: tuple[str, ...]) -> list[tuple[list[int], list[float], str]]:
        """Decode ``len(rngs)`` samples together from the prompt already held by sequence 0."""
        L, np = self._L, self._np
        k, start = len(rngs), len(pids) - 1
        for s in range(1, k + 1):
            L.llama_memory_seq_rm(self._mem, s, -1, -1)
            L.llama_memory_seq_cp(self._mem, 0, s, -1, -1)
        ids: list[list[int]] = [[] for _ in range(k)]
        lps: list[list[float]] = [[] for _ in range(k)]
        finish: list[str | None] = [None] * k
        last = [pids[-1]] * k
        for step in range(max_new_tokens):
            live = [r for r in range(k) if finish[r] is None]
            if not live:
                break
            self._decode([(last[r], start + step, r + 1, True) for r in live])
            for i, r in enumerate(live):
                z = self._logits(i)
                m = z.max()
                lse = m + np.log(np.exp(z - m).sum())
                if temperature <= 0:
                    t = int(z.argmax())
                else:
                    c = np.cumsum(np.exp((z - m) / temperature))
                    t = min(int(np.searchsorted(c, rngs[r].random() * c[-1], side="right")), self.n_vocab - 1)
                ids[r].append(t)
                lps[r].append(float(z[t] - lse))
                last[r] = t
                if t in self.eos_ids:
                    finish[r] = "stop"
                else:
                    text = self.tok.decode(ids[r], skip_special_tokens=True)
                    if _ended(text, stop):
                        finish[r] = "stop"
        for s in range(1, k + 1):
            L.llama_memory_seq_rm(self._mem, s, -1, -1)
        return [(ids[r], lps[r], finish[r] or "length") for r in range(k)]

    def sample_batch(self, prompts: list[str], n: int, temperature: float, max_new_tokens: int,
                     seed: int, stop: tuple[str, ...] = STOP) -> list[list[Completion]]:
        """``n`` completions for each prompt (the contract of :meth:`LocalTeacher.sample_batch`)."""
        L, np = self._L, self._np
        results: list[list[Completion]] = []
        for i, prompt in enumerate(prompts):
            pids = self.tok(prompt)["input_ids"]
            room = (self.n_ctx - len(pids)) // max(1, max_new_tokens)
            if room < 1:
                raise TeacherError(f"prompt of {len(pids)} tokens + {max_new_tokens} new tokens exceeds the llama.cpp "
                                   f"context of {self.n_ctx} tokens (GGUFTeacher(n_ctx=…))")
            # the prompt's KV cells in sequence 0: what the previous prompt shares with this one (the few-shot
            # exemplars) is kept, the rest evaluated. llama.cpp's numbers depend on how tokens are batched, so the
            # prompt is always evaluated in the same aligned chunks: a prompt's cells are the same whatever came before
            head = pids[:-1]
            keep = next((q for q, (a, b) in enumerate(zip(self._held, head)) if a != b), min(len(self._held), len(head)))
            keep -= keep % self.PREFILL_CHUNK
            L.llama_memory_seq_rm(self._mem, 0, keep, -1)
            self._held = self._held[:keep]
            for b in range(keep, len(head), self.PREFILL_CHUNK):
                chunk = head[b:b + self.PREFILL_CHUNK]
                self._decode([(t, b + q, 0, False) for q, t in enumerate(chunk)])
                self._held = self._held + chunk
            per = 1 if temperature <= 0 else n
            out: list[tuple[list[int], list[float], str]] = []
            group = max(1, min(self.n_seq, room))
            for g in range(0, per, group):
                rngs = [np.random.default_rng([int(seed), i, j]) for j in range(g, min(per, g + group))]
                out += self._sample_group(pids, rngs, temperature, max_new_tokens, stop)
            comps = []
            for j, (ids, lps, fin) in enumerate(out):
                text, _ = cut_completion(self.tok.decode(ids, skip_special_tokens=True), stop)
                comps.append(Completion(text=text, logprob=float(sum(lps)), n_tokens=len(ids),
                                        tokens_in=len(pids) if j == 0 else 0, token_ids=ids, token_logprobs=lps,
                                        finish_reason=fin))
            if per == 1 and n > 1:
                comps = _greedy_copies(comps[0], n)
            results.append(comps)
        return results

    def generate(self, requests, params, seed):
        for r in requests:
            s = _int_seed(seed, [(r.key, r.ks)])
            comps = self.sample_batch([r.prompt], len(r.ks), params.temperature, params.max_new_tokens, s,
                                      params.stop)[0]
            for k, c in zip(r.ks, comps):
                yield r, k, c

    def close(self) -> None:
        L = getattr(self, "_L", None)
        if L is None:
            return
        if getattr(self, "_batch", None) is not None:
            L.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            L.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            L.llama_model_free(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def completion_logprobs(model: Any, tokenizer: Any, prompts: list[str], completions: list[str], *,
                        batch_size: int = 8) -> list[tuple[float, int]]:
    """``(sum of log-probs, number of tokens)`` of each completion given its prompt under a causal LM:
    ``log p(completion | prompt)`` teacher-forced, from the raw logits (temperature 1), as
    :class:`LocalTeacher` records for the CoTs it samples — here for CoTs someone else wrote (a replayed
    corpus carries no log-probs; SCoTD §4's likelihood filter needs them).

    Prompt and completion are tokenized apart (the prompt with the tokenizer's special tokens, the
    completion without) and concatenated, so the scored tokens are exactly the completion's own.
    Batches are right-padded; padding never changes a score."""
    import torch
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    out: list[tuple[float, int]] = []
    for i in range(0, len(prompts), max(1, batch_size)):
        seqs, starts = [], []
        for p, c in zip(prompts[i:i + batch_size], completions[i:i + batch_size]):
            p_ids = tokenizer(p, add_special_tokens=True)["input_ids"]
            c_ids = tokenizer(c, add_special_tokens=False)["input_ids"]
            if not p_ids:
                raise ValueError("an empty prompt (and no BOS token): the first completion token has no context")
            if not c_ids:
                raise ValueError(f"empty completion after prompt {p[-60:]!r}")
            seqs.append(p_ids + c_ids)
            starts.append(len(p_ids))
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        att = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            att[r, :len(s)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(model.device), attention_mask=att.to(model.device)).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            tok_lp = logp.gather(2, ids[:, 1:, None].to(logp.device)).squeeze(2).double().cpu()
        for r, (s, st) in enumerate(zip(seqs, starts)):
            out.append((float(tok_lp[r, st - 1:len(s) - 1].sum()), len(s) - st))
    return out


# ------------------------------------------------------------------------------------------- HTTP

class _Retryable(Exception):
    def __init__(self, kind: str, wait: float | None = None):
        super().__init__(kind)
        self.kind, self.wait = kind, wait


def _api_key() -> str | None:
    return os.environ.get("COTLAB_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


class HTTPTeacher(Teacher):
    """An OpenAI-compatible completions endpoint (``POST {base}/completions``).

    ``endpoint`` is the base URL (``http://127.0.0.1:8000/v1``; ``/v1`` is appended when missing).
    ``model`` defaults to the first id of ``GET {base}/models``. Each request asks for the missing
    samples of one question (``n``), with a ``seed`` derived from (seed, key, first k) so a retried
    request asks for the same samples. Retries: up to ``max_retries`` per request, waiting
    ``min(max_backoff, backoff * 2**attempt)`` (jittered) or the server's ``Retry-After``.
    ``stats`` counts requests, retries by kind, and whether the server ignored ``n``.
    """

    def __init__(self, endpoint: str, model: str | None = None, *, concurrency: int = 4,
                 timeout: float = 120.0, max_retries: int = 8, backoff: float = 1.0, max_backoff: float = 30.0,
                 logprobs: bool = True, send_seed: bool = True):
        import requests
        from urllib.parse import urlparse
        u = urlparse(endpoint)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise TeacherError(f"teacher endpoint {endpoint!r} is not an http(s) URL: write it with its scheme, "
                               "e.g. http://localhost:8000/v1")
        base = endpoint.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"
        self.base = base
        self.concurrency = max(1, int(concurrency))
        self.timeout, self.max_retries = float(timeout), int(max_retries)
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        self.logprobs, self.send_seed = logprobs, send_seed
        self._session = requests.Session()
        self._lock = threading.Lock()
        self.ignores_n = False
        self.reached = False                # the server has answered at least once
        self.stats: dict[str, Any] = {"requests": 0, "retries": {}, "ignores_n": False}
        self.model = model or self._default_model()
        self.teacher_id = f"http:{self.model}"

    def __repr__(self) -> str:  # never shows the key
        return f"HTTPTeacher(base={self.base!r}, model={self.model!r})"

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id, "backend": "openai-completions", "endpoint": self.base,
                "model": self.model, "concurrency": self.concurrency, "ignores_n": self.ignores_n,
                "requests": self.stats["requests"], "retries": dict(self.stats["retries"])}

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        key = _api_key()
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    def _count(self, kind: str) -> None:
        with self._lock:
            self.stats["retries"][kind] = self.stats["retries"].get(kind, 0) + 1

    def _call(self, method: str, path: str, body: dict | None, rng: random.Random) -> dict:
        """One HTTP call with retries; returns the decoded JSON object."""
        import requests
        last = "unknown"
        for attempt in range(self.max_retries + 1):
            try:
                with self._lock:
                    self.stats["requests"] += 1
                try:
                    resp = self._session.request(method, self.base + path, json=body, headers=self._headers(),
                                                 timeout=self.timeout)
                except requests.Timeout:
                    raise _Retryable("timeout") from None
                except requests.ConnectionError:
                    raise _Retryable("connection") from None
                self.reached = True
                if resp.status_code == 429:
                    ra = resp.headers.get("Retry-After")
                    try:
                        wait = float(ra) if ra is not None else None
                    except ValueError:
                        wait = None
                    raise _Retryable("429", wait)
                if resp.status_code >= 500:
                    raise _Retryable(f"{resp.status_code}")
                if resp.status_code >= 400:
                    raise TeacherError(f"{method} {self.base}{path}: HTTP {resp.status_code}: {resp.text[:300]}")
                try:
                    obj = resp.json()
                except ValueError:
                    raise _Retryable("malformed_json") from None
                if not isinstance(obj, dict):
                    raise _Retryable("malformed_json")
                return obj
            except _Retryable as e:
                last = e.kind
                self._count(e.kind)
                if attempt == self.max_retries:
                    break
                wait = e.wait if e.wait is not None else self.backoff * (2 ** attempt) * (0.5 + rng.random())
                time.sleep(min(self.max_backoff, max(0.0, wait)))
        if last == "connection" and not self.reached:
            n = self.max_retries + 1
            raise TeacherError(f"cannot reach {self.base}: connection failed ({n} attempt{'s' * (n > 1)}); "
                               "is the server running, and is the endpoint URL right?")
        raise TeacherError(f"{method} {self.base}{path}: gave up after {self.max_retries + 1} attempts "
                           f"(last error: {last}); finished samples are in the cache, rerun to resume")

    def _default_model(self) -> str:
        obj = self._call("GET", "/models", None, random.Random(0))
        try:
            return str(obj["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise TeacherError(f"{self.base}/models returned no model id; pass --model") from None

    def _parse_choices(self, obj: dict, stop: tuple[str, ...]) -> list[Completion]:
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _Retryable("malformed_json")
        usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
        out = []
        for i, ch in enumerate(sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)):
            if not isinstance(ch, dict) or not isinstance(ch.get("text"), str):
                raise _Retryable("malformed_json")
            text, cut = cut_completion(ch["text"], stop)
            lp = n_tok = None
            vals: list[float] = []
            lps = ch.get("logprobs")
            if isinstance(lps, dict) and isinstance(lps.get("token_logprobs"), list):
                toks = lps.get("tokens") or []
                vals = lps["token_logprobs"]
                keep = len(vals)
                if toks and len(toks) == len(vals) and cut < len(ch["text"]):
                    acc = 0
                    for j, t in enumerate(toks):
                        if acc >= cut:
                            keep = j
                            break
                        acc += len(t)
                try:
                    vals = [float(v) for v in vals[:keep] if v is not None]
                except (TypeError, ValueError):
                    raise _Retryable("malformed_json") from None
                lp, n_tok = float(sum(vals)), keep
            elif len(choices) == 1 and isinstance(usage.get("completion_tokens"), int):
                n_tok = usage["completion_tokens"]
            out.append(Completion(text=text, logprob=lp, n_tokens=n_tok,
                                  token_logprobs=vals if lp is not None else None,
                                  tokens_in=int(usage.get("prompt_tokens") or 0) if i == 0 else 0,
                                  finish_reason=ch.get("finish_reason")))
        return out

    def _complete(self, prompt: str, n: int, params: SampleParams, seed: int) -> list[Completion]:
        rng = random.Random(seed)
        body: dict[str, Any] = {"model": self.model, "prompt": prompt, "n": n,
                                "temperature": params.temperature, "max_tokens": params.max_new_tokens,
                                "stop": list(params.stop)}
        if self.logprobs:
            body["logprobs"] = 1
        if self.send_seed:
            body["seed"] = seed
        for attempt in range(self.max_retries + 1):
            obj = self._call("POST", "/completions", body, rng)
            try:
                return self._parse_choices(obj, params.stop)
            except _Retryable as e:
                self._count(e.kind)
                time.sleep(min(self.max_backoff, self.backoff * (2 ** attempt) * (0.5 + rng.random())))
        raise TeacherError(f"{self.base}/completions: malformed responses after {self.max_retries + 1} attempts")

    def _request_samples(self, req: Request, params: SampleParams, seed: int) -> list[tuple[int, Completion]]:
        s = _int_seed(seed, req.key, req.ks[0])
        if not self.ignores_n:
            comps = self._complete(req.prompt, len(req.ks), params, s)
            if len(comps) >= len(req.ks):
                return list(zip(req.ks, comps))
            if len(req.ks) > 1 and len(comps) == 1:
                with self._lock:
                    if not self.ignores_n:
                        warnings.warn(f"{self.base}: the server ignored n={len(req.ks)} and returned one "
                                      "choice; falling back to one request per sample", stacklevel=2)
                    self.ignores_n = self.stats["ignores_n"] = True
            got = list(zip(req.ks, comps))
        else:
            got = []
        for k in req.ks[len(got):]:
            c = self._complete(req.prompt, 1, params, _int_seed(seed, req.key, k))
            got.append((k, c[0]))
        return got

    def generate(self, requests, params, seed):
        """Requests run ``concurrency`` at a time; each question's samples are yielded as its request
        returns. If one request fails for good, requests not yet started are cancelled, those in flight
        are still collected (and cached by the caller), then the error is raised."""
        err: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futs = {pool.submit(self._request_samples, r, params, seed): r for r in requests}
            for fut in as_completed(futs):
                if fut.cancelled():
                    continue
                try:
                    got = fut.result()
                except Exception as e:  # noqa: BLE001 - re-raised below, after draining
                    if err is None:
                        err = e
                        for f in futs:
                            f.cancel()
                    continue
                r = futs[fut]
                for k, c in got:
                    yield r, k, c
        if err is not None:
            raise err

    def close(self) -> None:
        self._session.close()


# ----------------------------------------------------------------------------------------- replay

class ReplayTeacher(Teacher):
    """Serve a released corpus: ``<data>/rationales/<name>/`` (via :func:`helpers.rationales.load_rationales`)
    or a SCoTD ``*_30x.json`` data-pool file. Sample ``k`` of a question is the ``k``-th released
    rationale; questions have as many samples as were released (``n`` caps them). Prompts and
    decoding parameters are ignored (the release fixed them); samples carry no log-probs.
    """
    cacheable = False
    supports_prompts = False

    def __init__(self, source: str, task: str, split: str, examples: list[Example] | None = None):
        self.source, self.task, self.split = source, task, split
        p = Path(source)
        if p.suffix == ".json" and p.exists():
            self.records = _load_scotd_json(p, task, split)
            self.teacher_id = f"replay:scotd:{p.name}"
        else:
            from .rationales import get_corpus, load_rationales
            name = get_corpus(source).name
            recs = load_rationales(name, task, split, examples=examples)
            self.records = {i: [Completion(text=r.raw, label=r.label, rationale=r.rationale, raw=r.raw)
                                for r in rs] for i, rs in recs.items()}
            self.teacher_id = f"replay:{name}"

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id, "backend": "replay", "source": str(self.source)}

    def available(self, ex_id: str) -> int:
        return len(self.records.get(ex_id, ()))

    def generate(self, requests, params, seed):
        for r in requests:
            recs = self.records.get(r.example.id, [])
            for k in r.ks:
                if k < len(recs):
                    yield r, k, recs[k]


class ScriptedTeacher:
    """A teacher that writes coin-flip CoTs by script (see :func:`helpers.synthetic.scripted_cot`), ``step_error`` per step.

    Same interface as :class:`helpers.teacher.Teacher` (``generate`` yields ``(request, k, completion)``):
    sample ``k`` of a question is drawn from a generator seeded by (seed, question id, k), so samples
    are reproducible and independent of batching. Not cached (it is free)."""
    cacheable = False
    supports_prompts = False

    def __init__(self, step_error: float = 0.1, task: str = "coinflip"):
        from .synthetic import SCRIPTS
        if not 0 <= step_error < 1:
            raise ValueError(f"step_error must be in [0, 1), got {step_error}")
        if task not in SCRIPTS:
            raise ValueError(f"no scripted teacher for task {task!r}; scripted tasks: {sorted(SCRIPTS)}")
        self.step_error, self.task = step_error, task
        self.teacher_id = f"scripted:{task}:err{step_error:g}"
        self.name = self.teacher_id

    def describe(self) -> dict[str, Any]:
        return {"teacher": self.teacher_id, "backend": "scripted", "step_error": self.step_error}

    def close(self) -> None:
        pass

    def generate(self, requests, params, seed) -> Iterator[tuple[Any, int, Any]]:
        from .prompts import format_answer
        from .synthetic import SCRIPTS, FirstChoice
        for r in requests:
            if r.example.task != self.task:
                raise ValueError(f"{self.teacher_id} writes {self.task} CoTs, not {r.example.task} "
                                 f"({r.example.id}): name the teacher with task={r.example.task!r}")
            scripted_cot = SCRIPTS[self.task]
            for k in r.ks:
                rng = random.Random(f"{seed}:{r.example.id}:{k}")
                if params.temperature == 0:      # "greedy": the most likely script, no slips
                    rationale, label, lp, _ = scripted_cot(r.example, FirstChoice(), 0.0)
                else:
                    rationale, label, lp, _ = scripted_cot(r.example, rng, self.step_error)
                text = f" {rationale} {format_answer(r.example, label)}"
                yield r, k, Completion(text=text, logprob=lp, n_tokens=len(text.split()), label=label,
                                       rationale=rationale, raw=text)


def prompt_budget(teacher: Any, task: str, max_new_tokens: int | None = None, *, fallback: str = "smollm2-135m") -> int:
    """New tokens for a prompted teacher's completions: ``max_new_tokens`` when given, else sized from the task's
    prompt set in the teacher's own tokens (:func:`helpers.prompts.exemplar_budget`) — a local teacher's
    tokenizer, or ``fallback``'s for a teacher whose tokenizer is not here (an endpoint)."""
    if max_new_tokens is not None:
        return int(max_new_tokens)
    from .models import load_tokenizer
    from .prompts import exemplar_budget
    tok = getattr(teacher, "tok", None) or load_tokenizer(fallback)
    return exemplar_budget(task, tok)


def teacher_from_name(name: str, *, task: str | None = None, split: str = "train",
                      examples: list[Example] | None = None, batch_size: int = 4) -> Teacher:
    """The teacher a profile names: ``scripted:<step error>`` (:class:`ScriptedTeacher`, coin flip),
    ``replay:<release>`` (:class:`ReplayTeacher` for ``task``/``split``), ``endpoint``
    (:class:`HTTPTeacher` at ``$COTLAB_TEACHER_URL``, model ``$COTLAB_TEACHER_MODEL``), ``gguf:<model>`` (a registry
    model's GGUF run by llama.cpp: :class:`GGUFTeacher`), or a model
    (registry name, local dir or hub id: :class:`LocalTeacher`)."""
    import os
    if name.startswith("scripted:"):
        try:
            err = float(name.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"teacher {name!r}: expected scripted:<step error>, e.g. scripted:0.1") from None
        if task is not None:
            from .synthetic import SCRIPTS
            if task not in SCRIPTS:
                raise ValueError(f"teacher {name!r}: no scripted teacher for task {task!r}; scripted tasks: "
                                 f"{sorted(SCRIPTS)}")
        return ScriptedTeacher(err, task or "coinflip")
    if name.startswith("replay:"):
        if task is None:
            raise ValueError(f"teacher {name!r} needs the task it replays")
        return ReplayTeacher(name.split(":", 1)[1], task, split, examples=examples)
    if name == "endpoint":
        url = os.environ.get("COTLAB_TEACHER_URL")
        if not url:
            raise ValueError("teacher 'endpoint' needs COTLAB_TEACHER_URL (an OpenAI-compatible base URL, e.g. "
                             "http://127.0.0.1:8000/v1) and optionally COTLAB_TEACHER_MODEL")
        return HTTPTeacher(url, model=os.environ.get("COTLAB_TEACHER_MODEL"))
    if name.startswith("gguf:"):
        return GGUFTeacher(name.split(":", 1)[1])
    return LocalTeacher(name, batch_size=batch_size)


def _load_scotd_json(path: Path, task: str, split: str) -> dict[str, list[Completion]]:
    """Read a SCoTD data-pool JSON (``{pool_id: [{"prompt","response","score","index","rationale"}, ...]}``,
    or the older ``{pool_id: {"prompts","responses","scores","indexes"}}``). ``index`` is read as the row
    of the task split in this data directory's file order; labels are parsed from ``response``.
    Caveat: SCoTD indexes HF ``datasets`` order, which the QuaRel train file here does not keep (it is
    MaRio's order, see data/README), so a real ``quarel_30x.json`` needs its indexes remapped first."""
    from .prompts import extract_answer, split_rationale
    try:
        pools = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(path, e.lineno, None, f"invalid JSON ({e.msg})") from None
    if not isinstance(pools, dict):
        raise DataError(path, None, None, "expected an object {pool_id: pool}")
    examples = load_task(task, split)
    out: dict[str, list[Completion]] = {}
    for pid, pool in pools.items():
        if isinstance(pool, dict):
            try:
                rows = [{"response": r, "index": i} for r, i in zip(pool["responses"], pool["indexes"])]
            except KeyError as e:
                raise DataError(path, None, f"{pid}.{e.args[0]}", "missing field") from None
        elif isinstance(pool, list):
            rows = pool
        else:
            raise DataError(path, None, pid, "a pool must be a list or an object")
        for j, row in enumerate(rows):
            if not isinstance(row, dict):
                raise DataError(path, None, f"{pid}[{j}]", "expected an object")
            idx, resp = row.get("index"), row.get("response")
            if not isinstance(idx, int) or not 0 <= idx < len(examples):
                raise DataError(path, None, f"{pid}[{j}].index", f"{idx!r} is not a row of {task}/{split} "
                                f"(0..{len(examples) - 1})")
            if not isinstance(resp, str):
                raise DataError(path, None, f"{pid}[{j}].response", "expected a string")
            ex = examples[idx]
            rat = row.get("rationale")
            if not isinstance(rat, str) or not rat.strip():
                rat = split_rationale(ex, resp)[0]
            out.setdefault(ex.id, []).append(
                Completion(text=resp, label=extract_answer(ex, resp), rationale=rat.strip(), raw=resp))
    return out
