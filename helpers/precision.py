"""Which precision this machine computes fastest in: fp32, or bf16 (autocast for training, bf16 weights
for inference).

"bf16 autocast works" is not "bf16 is fast": a CPU without native bf16 instructions emulates it, and
bf16 autocast training ran 28x *slower* than fp32 on an AVX2-only AMD EPYC. So the choice is made from
what the CPU does:

* **CUDA**: bf16 when ``torch.cuda.is_bf16_supported()``, else fp32.
* **CPU without** ``avx512_bf16`` **or** ``amx_bf16`` (``/proc/cpuinfo`` flags): fp32, no timing.
* **CPU with one of them**: a bf16 candidate, confirmed by a one-time timed check — forward+backward of
  a tiny transformer-like workload (two pre-norm blocks: attention + SiLU MLP) in fp32 vs bf16
  autocast, interleaved, best of several rounds. bf16 is chosen only when it is at least
  ``MIN_SPEEDUP`` times faster. The result is cached per machine in ``$COTLAB_CACHE/precision.json``,
  keyed by CPU model name + CPU flags + torch version, so the check runs once per machine.

``COTLAB_PRECISION=fp32|bf16`` overrides the choice (recorded as such). :func:`choose_precision`
returns the decision with its reason, the relevant CPU flags and the timings; training records it in
the student metadata and ``make bench`` in ``results/bench.json``.
"""
from __future__ import annotations

import functools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from . import config

CACHE_FILE = "precision.json"
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
MIN_SPEEDUP = 1.1             # bf16 must be ≥10 % faster than fp32 in the timed check
CHECK_VERSION = 1             # bump when the timed workload changes (invalidates cached decisions)
_MEMO: dict[str, dict[str, Any]] = {}     # machine key -> decision, so a process times at most once


@functools.lru_cache(maxsize=1)
def _read_cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = "", frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:      # x86 / arm64
            flags = frozenset(value.split())
        if model and flags:
            break
    return model or platform.processor() or platform.machine(), flags


def cpu_flags() -> tuple[str, frozenset[str]]:
    """``(CPU model name, CPU flags)`` from ``/proc/cpuinfo`` (no flags where it does not exist)."""
    return _read_cpuinfo()


def relevant_flags(flags: frozenset[str] | set[str]) -> dict[str, bool]:
    return {f: f in flags for f in RELEVANT_FLAGS}


def _tiny_workload(dtype_bf16: bool, rounds: int) -> float:
    """Best-of-``rounds`` seconds of one forward+backward of two small pre-norm transformer blocks."""
    import torch

    g = torch.Generator().manual_seed(0)
    d, ff, heads, batch, seq = 384, 1024, 6, 4, 64
    ws = []
    for _ in range(2):
        ws.append([(torch.randn(o, i, generator=g) / i ** 0.5).requires_grad_()
                   for o, i in ((3 * d, d), (d, d), (ff, d), (d, ff))])
    x0 = torch.randn(batch, seq, d, generator=g)
    best = float("inf")
    for r in range(rounds + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype_bf16):
            x = x0
            for wqkv, wo, wup, wdown in ws:
                h = torch.nn.functional.rms_norm(x, (d,))
                q, k, v = torch.nn.functional.linear(h, wqkv).view(batch, seq, 3, heads, d // heads).unbind(2)
                a = torch.softmax((q.transpose(1, 2) @ k.transpose(1, 2).transpose(-1, -2)) / (d // heads) ** 0.5, -1)
                a = (a @ v.transpose(1, 2)).transpose(1, 2).reshape(batch, seq, d)
                x = x + torch.nn.functional.linear(a, wo)
                h = torch.nn.functional.rms_norm(x, (d,))
                x = x + torch.nn.functional.linear(torch.nn.functional.silu(torch.nn.functional.linear(h, wup)), wdown)
            loss = x.float().pow(2).mean()
        loss.backward()
        for layer in ws:
            for w in layer:
                w.grad = None
        if r:                                       # round 0 warms up (allocations, kernel selection)
            best = min(best, time.perf_counter() - t)
    return best


def timed_check(rounds: int = 5) -> dict[str, float]:
    """fp32 vs bf16-autocast seconds of the tiny workload, rounds interleaved so load hits both."""
    fp32 = bf16 = float("inf")
    for _ in range(rounds):
        fp32 = min(fp32, _tiny_workload(False, 1))
        bf16 = min(bf16, _tiny_workload(True, 1))
    return {"fp32_s": round(fp32, 5), "bf16_s": round(bf16, 5), "bf16_speedup": round(fp32 / bf16, 3)}


def _cache_path() -> Path:
    return config.cache_dir() / CACHE_FILE


def _machine_key(model: str, flags: frozenset[str]) -> str:
    import torch

    from .provenance import stable_hash
    return stable_hash({"cpu": model, "flags": sorted(flags), "torch": torch.__version__, "v": CHECK_VERSION})


def choose_precision(*, cache: bool = True, refresh: bool = False) -> dict[str, Any]:
    """The precision to train and decode in on this machine: ``{"choice": "fp32"|"bf16", "reason",
    "device", "cpu", "flags", "timings", "torch", ...}``. ``cache=False`` neither reads nor writes
    ``$COTLAB_CACHE/precision.json``; ``refresh=True`` re-runs the timed check and overwrites it."""
    import torch

    forced = os.environ.get("COTLAB_PRECISION", "").strip().lower()
    if forced:
        if forced not in ("fp32", "bf16"):
            raise ValueError(f"COTLAB_PRECISION must be fp32 or bf16, got {forced!r}")
        return {"choice": forced, "reason": "COTLAB_PRECISION", "device": "cuda" if torch.cuda.is_available() else "cpu",
                "torch": torch.__version__}
    if torch.cuda.is_available():
        ok = torch.cuda.is_bf16_supported()
        return {"choice": "bf16" if ok else "fp32", "device": "cuda", "gpu": torch.cuda.get_device_name(0),
                "reason": "CUDA device supports bf16" if ok else "CUDA device without bf16",
                "torch": torch.__version__}
    model, flags = cpu_flags()
    base = {"device": "cpu", "cpu": model, "flags": relevant_flags(flags), "torch": torch.__version__}
    if not any(f in flags for f in BF16_FLAGS):
        return {"choice": "fp32", **base, "timings": None,
                "reason": "CPU lacks avx512_bf16/amx_bf16: bf16 would be emulated (slower than fp32)"}
    key = _machine_key(model, flags)
    if cache and not refresh and key in _MEMO:
        return dict(_MEMO[key])
    path = _cache_path()
    table: dict[str, Any] = {}
    if cache and path.exists():
        try:
            table = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            table = {}
        if not refresh and isinstance(table.get(key), dict) and "choice" in table[key]:
            _MEMO[key] = {**table[key], "cached": True}
            return dict(_MEMO[key])
    timings = timed_check()
    timings["threads"] = torch.get_num_threads()
    faster = timings["bf16_speedup"] >= MIN_SPEEDUP
    rec = {"choice": "bf16" if faster else "fp32", **base, "timings": timings, "key": key,
           "reason": (f"CPU has native bf16; the timed check ran bf16 at {timings['bf16_speedup']}x the "
                      f"speed of fp32 (bf16 is chosen from {MIN_SPEEDUP}x)"),
           "checked": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if cache:
        table[key] = rec
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(table, indent=2, sort_keys=True))
        os.replace(tmp, path)
        _MEMO[key] = {**rec, "cached": True}
    return {**rec, "cached": False}


def use_bf16() -> bool:
    """Whether :func:`choose_precision` picks bf16 here."""
    return choose_precision()["choice"] == "bf16"


def inference_dtype():
    """The dtype to load a model in for inference only (decoding, a local teacher): bf16 where chosen."""
    import torch
    return torch.bfloat16 if use_bf16() else torch.float32
