"""Precision choice: from the CPU flags, confirmed by a cached timed check (never by "autocast works")."""
from __future__ import annotations

import json

import pytest

from helpers import precision


@pytest.fixture
def cpu_machine(tmp_path, monkeypatch):
    """A CPU-only machine with a fresh cache; no override; no memo from earlier tests."""
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("COTLAB_PRECISION", raising=False)
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "_MEMO", {})
    return tmp_path / "cache"


def _flags(monkeypatch, *flags, model="Test CPU"):
    monkeypatch.setattr(precision, "cpu_flags", lambda: (model, frozenset(flags)))


def _timings(monkeypatch, speedup, calls):
    def fake():
        calls.append(1)
        return {"fp32_s": 1.0, "bf16_s": 1.0 / speedup, "bf16_speedup": speedup}
    monkeypatch.setattr(precision, "timed_check", fake)


def test_without_native_bf16_the_choice_is_fp32_and_nothing_is_timed(cpu_machine, monkeypatch):
    _flags(monkeypatch, "avx", "avx2", "fma", "avx512f")             # AVX2/AVX-512 but no bf16 instructions
    monkeypatch.setattr(precision, "timed_check", lambda: pytest.fail("must not time without bf16 flags"))
    rec = precision.choose_precision()
    assert rec["choice"] == "fp32" and rec["timings"] is None and "avx512_bf16" in rec["reason"]
    assert rec["flags"] == {"avx2": True, "avx512f": True, "avx512_bf16": False, "amx_bf16": False,
                            "amx_tile": False}
    assert not (cpu_machine / precision.CACHE_FILE).exists()


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_with_native_bf16_the_timed_check_decides_and_is_cached(cpu_machine, monkeypatch, flag):
    calls: list[int] = []
    _flags(monkeypatch, "avx2", flag)
    _timings(monkeypatch, 1.6, calls)
    rec = precision.choose_precision()
    assert rec["choice"] == "bf16" and rec["timings"]["bf16_speedup"] == 1.6 and len(calls) == 1
    table = json.loads((cpu_machine / precision.CACHE_FILE).read_text())
    assert [v["choice"] for v in table.values()] == ["bf16"] and table[rec["key"]]["cpu"] == "Test CPU"
    monkeypatch.setattr(precision, "_MEMO", {})                  # a new process: read from the cache file
    again = precision.choose_precision()
    assert again["choice"] == "bf16" and again["cached"] and len(calls) == 1
    _flags(monkeypatch, "avx2", flag, model="Another CPU")           # another machine: timed again
    precision.choose_precision()
    assert len(calls) == 2


def test_native_bf16_that_is_not_faster_gives_fp32(cpu_machine, monkeypatch):
    calls: list[int] = []
    _flags(monkeypatch, "avx512_bf16")
    _timings(monkeypatch, 1.02, calls)
    rec = precision.choose_precision()
    assert rec["choice"] == "fp32" and len(calls) == 1 and "1.02" in rec["reason"]


def test_override_and_train_follows_the_choice(cpu_machine, monkeypatch):
    from helpers.train import bf16_supported
    _flags(monkeypatch, "avx2")
    assert precision.choose_precision()["choice"] == "fp32" and not bf16_supported()
    monkeypatch.setenv("COTLAB_PRECISION", "bf16")
    assert precision.choose_precision()["reason"] == "COTLAB_PRECISION" and bf16_supported()
    monkeypatch.setenv("COTLAB_PRECISION", "fp16")
    with pytest.raises(ValueError, match="fp32 or bf16"):
        precision.choose_precision()


def test_this_machines_flags_are_read():
    """The flags come from this machine's /proc/cpuinfo (Linux), and relevant_flags says which of the
    precision-relevant ones it has — checked against the file itself, not against the list it is built from."""
    import platform
    model, flags = precision.cpu_flags()
    assert model
    rel = precision.relevant_flags(flags)
    if platform.system() == "Linux":
        text = open("/proc/cpuinfo").read()
        listed = set(next(line for line in text.splitlines() if line.startswith("flags")).split(":", 1)[1].split())
        assert {f for f, on in rel.items() if on} == listed & set(precision.RELEVANT_FLAGS)
        assert rel.get("avx2") == ("avx2" in listed)
    assert precision.relevant_flags(frozenset({"avx2", "sse4_2"})) == {f: f == "avx2" for f in precision.RELEVANT_FLAGS}
