"""Local transformers teacher (real SmolLM2-135M), the durable sample cache, kill-and-resume of `sample`."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.corpus import load_corpus
from helpers.prompts import build_prompt, extract_answer
from helpers.sample_cache import SampleCache, cache_path_for
from helpers.tasks import DataError, load_task
from helpers.teacher import LocalTeacher, cut_completion
from helpers.corpus import sample_corpus

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def teacher(smollm):
    tok, model = smollm
    return LocalTeacher("smollm2-135m", tokenizer=tok, model_obj=model, batch_size=2)


def test_cut_completion():
    text = " Ice is smooth. So the answer is (b). Q: next"
    assert cut_completion(text) == (" Ice is smooth. So the answer is (b).", 37)
    assert cut_completion(" a b\n\nQ: c")[0] == " a b"
    assert cut_completion(" no end in sight")[0] == " no end in sight"


def test_local_teacher_samples_logprobs_cache_and_determinism(teacher, data_dir, tmp_path):
    """N CoTs for two QuaRel questions in one batched call (prompts of different lengths → left padding):
    labels parsed, log-probs finite and equal to a forward-pass recomputation, cache reused, same key →
    same samples."""
    exs = load_task("quarel", "train", limit=2)
    kw = dict(n=2, temperature=1.0, max_new_tokens=12, shots=1, seed=0, progress=False)
    c1 = sample_corpus(teacher, exs, cache=tmp_path / "a", **kw)
    assert [len(e.samples) for e in c1.entries] == [2, 2]
    cache = SampleCache(cache_path_for(teacher.teacher_id, tmp_path / "a"), teacher.teacher_id)
    assert len(cache) == 4
    tok, model = teacher.tok, teacher.model
    prompts = [build_prompt(ex, shots=1) for ex in exs]
    assert len(set(len(tok(p)["input_ids"]) for p in prompts)) == 2
    from helpers.teacher import SampleParams
    from helpers.corpus import request_key
    for ex, prompt, entry in zip(exs, prompts, c1.entries):
        p_ids = tok(prompt)["input_ids"]
        key = request_key(teacher.teacher_id, prompt, SampleParams(2, 1.0, 12))
        for s in entry.samples:
            assert s.label in (None, *ex.options)
            assert s.rationale in s.raw and s.label == extract_answer(ex, s.raw)
            rec = cache.get(key, s.k)
            ids = rec["token_ids"]
            assert s.n_tokens == len(ids) and 1 <= s.n_tokens <= 12
            assert math.isfinite(s.logprob) and s.logprob < 0
            with torch.inference_mode():
                logits = model(torch.tensor([p_ids + ids])).logits[0, len(p_ids) - 1:-1].float()
            ref = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids)[:, None]).sum().item()
            assert s.logprob == pytest.approx(ref, abs=1e-2 + 1e-3 * abs(ref))
        assert cache.get(key, 0)["tokens_in"] == len(p_ids) and cache.get(key, 1)["tokens_in"] == 0
    assert c1.meta["usage"]["tokens_out"] == sum(s.n_tokens for e in c1.entries for s in e.samples)
    again = sample_corpus(teacher, exs, cache=cache, **kw)            # served from the cache
    assert len(cache) == 4 and [e.samples for e in again.entries] == [e.samples for e in c1.entries]
    fresh = sample_corpus(teacher, exs, cache=tmp_path / "b", **kw)   # same key, new cache: same samples
    assert [e.samples for e in fresh.entries] == [e.samples for e in c1.entries]


def test_cache_repairs_truncated_last_line_and_rejects_corruption(tmp_path):
    p = tmp_path / "t.jsonl"
    c = SampleCache(p, "teacher-x")
    for k in range(3):
        assert c.put("key1", k, {"text": f"t{k}", "n_tokens": 2, "tokens_in": 5 if k == 0 else 0})
    assert not c.put("key1", 1, {"text": "dup"})                      # never a duplicate line
    good = p.read_bytes()
    p.write_bytes(good + b'{"key": "key1", "k": 3, "te')               # a write cut by a kill
    with pytest.warns(UserWarning, match="truncated"):
        c2 = SampleCache(p, "teacher-x")
    assert c2.repaired > 0 and len(c2) == 3 and p.read_bytes() == good
    assert c2.put("key1", 3, {"text": "t3"}) and len(SampleCache(p, "teacher-x")) == 4
    assert c2.usage() == {"samples": 4, "tokens_in": 5, "tokens_out": 6}
    lines = p.read_bytes().split(b"\n")
    lines[2] = b"{broken"
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as ei:
        SampleCache(p, "teacher-x")
    assert ei.value.line == 3
    SampleCache(tmp_path / "t2.jsonl", "a").put("k", 0, {"text": ""})
    with pytest.raises(DataError, match="teacher"):                  # a cache belongs to one teacher
        SampleCache(tmp_path / "t2.jsonl", "b")


def test_cache_shared_by_two_runs_never_duplicates(tmp_path):
    p = tmp_path / "shared.jsonl"
    a, b = SampleCache(p, "t"), SampleCache(p, "t")                  # two runs on one cache file
    assert a.put("q", 0, {"text": "from a"})
    assert not b.put("q", 0, {"text": "from b"}) and b.get("q", 0)["text"] == "from a"
    assert b.put("q", 1, {"text": "from b"})
    with open(p, "ab") as fh:                                         # a third writer killed mid-line
        fh.write(b'{"key": "q", "k": 9, "te')
    assert not a.put("q", 1, {"text": "again"}) and a.put("q", 2, {"text": "from a"})
    rows = [json.loads(line) for line in p.read_text().splitlines()[1:]]
    assert [(r["k"], r["text"]) for r in rows] == [(0, "from a"), (1, "from b"), (2, "from a")]


def test_kill_and_resume_sample_command(teacher, data_dir, tmp_path):
    cache_dir, out = tmp_path / "cache", tmp_path / "corpus.jsonl"
    cmd = [sys.executable, "-m", "helpers", "sample", "--task", "quarel", "--split", "train", "--limit", "2",
           "--model", "smollm2-135m", "--n", "2", "--max-new-tokens", "10", "--shots", "1",
           "--batch-size", "1", "--cache-dir", str(cache_dir), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cache_file = cache_path_for(teacher.teacher_id, cache_dir)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 400
    try:
        while time.time() < deadline and proc.poll() is None:
            if cache_file.exists() and len(cache_file.read_bytes().splitlines()) >= 3:  # header + 2 samples
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not out.exists()
    before = cache_file.read_bytes().splitlines(keepends=True)
    n_before = len(before) - 1
    assert 2 <= n_before < 4
    with open(cache_file, "ab") as fh:                        # and a half-written line, as a kill can leave
        fh.write(b'{"key": "x", "k": 0, "text": "half')
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "truncated" in done.stderr
    after = cache_file.read_bytes().splitlines(keepends=True)
    assert after[:len(before)] == before                      # nothing finished was redone or lost
    recs = [json.loads(line) for line in after[1:]]
    assert len(recs) == 4 and len({(r["key"], r["k"]) for r in recs}) == 4
    corpus = load_corpus(out)
    assert [len(e.samples) for e in corpus.entries] == [2, 2]
    # the same command again: no new calls, the same corpus
    exs = load_task("quarel", "train", limit=2)
    again = sample_corpus(teacher, exs, n=2, temperature=1.0, max_new_tokens=10, shots=1,
                          cache=cache_dir, progress=False)
    assert len(cache_file.read_bytes().splitlines()) == 5
    assert [e.samples for e in again.entries] == [e.samples for e in corpus.entries]


def test_missing_llama_cpp_is_one_clear_error(monkeypatch):
    """The llama.cpp teacher is an optional extra: without it, one line says how to get it."""
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    from helpers.teacher import GGUFTeacher, TeacherError
    with pytest.raises(TeacherError, match="needs llama-cpp-python.*make gguf"):
        GGUFTeacher("smollm2-135m")
