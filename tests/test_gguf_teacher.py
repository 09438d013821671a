"""The llama.cpp teacher (``gguf:<model>``): SmolLM2-135M's GGUF as it ships (Q4_1), run by llama-cpp-python.

What it must share with the transformers teacher: the prompt's tokens, the stop rules, the answer-sentence cut, and
per-token log-probs that are the model's own (raw logits) — checked against a teacher-forced forward pass of the
dequantized checkpoint on the same tokens. Quantized matmuls are not fp32 ones, so the tolerance is a measured one
(the two agree to a few hundredths of a nat per token), not equality."""
import math

import pytest
import torch

from helpers.prompts import build_prompt, extract_answer
from helpers.tasks import load_task
from helpers.teacher import GGUFTeacher, SampleParams, cut_completion, teacher_from_name

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the gguf extra: make gguf) is not installed")


@pytest.fixture(scope="module")
def gguf_teacher(smollm):
    tok, _ = smollm
    t = GGUFTeacher("smollm2-135m", n_threads=1, tokenizer=tok)
    yield t
    t.close()


@pytest.fixture(scope="module")
def prompts(data_dir):
    exs = load_task("quarel", "train", limit=2)
    return exs, [build_prompt(ex, shots=1) for ex in exs]


def test_samples_are_seeded_stopped_and_scored_like_the_local_teacher(gguf_teacher, smollm, prompts):
    tok, model = smollm
    exs, ps = prompts
    a = gguf_teacher.sample_batch(ps, 3, 1.0, 40, seed=7)
    b = gguf_teacher.sample_batch(ps, 3, 1.0, 40, seed=7)
    assert [[c.token_ids for c in row] for row in a] == [[c.token_ids for c in row] for row in b]
    assert len({tuple(c.token_ids) for row in a for c in row}) > 1          # samples differ from each other
    diffs = []
    for ex, p, row in zip(exs, ps, a):
        p_ids = tok(p)["input_ids"]
        assert row[0].tokens_in == len(p_ids) and all(c.tokens_in == 0 for c in row[1:])
        for c in row:
            assert 1 <= c.n_tokens == len(c.token_ids) <= 40 and c.finish_reason in ("stop", "length")
            full = tok.decode(c.token_ids, skip_special_tokens=True)
            assert c.text == cut_completion(full)[0]
            if c.finish_reason == "length":
                assert c.n_tokens == 40
            assert math.isfinite(c.logprob) and c.logprob == pytest.approx(sum(c.token_logprobs))
            with torch.inference_mode():
                logits = model(torch.tensor([p_ids + c.token_ids])).logits[0, len(p_ids) - 1:-1].float()
            ref = torch.log_softmax(logits, -1).gather(1, torch.tensor(c.token_ids)[:, None]).squeeze(1)
            diffs += (torch.tensor(c.token_logprobs) - ref).abs().tolist()
            assert c.label is None and extract_answer(ex, c.text) in (None, *ex.options)
    diffs = torch.tensor(diffs)
    assert diffs.median() < 0.05 and diffs.mean() < 0.15, (diffs.median(), diffs.mean(), diffs.max())


def test_greedy_matches_the_dequantized_model_and_fills_n(gguf_teacher, smollm, prompts):
    """Greedy: one decode copied n times (as LocalTeacher), and mostly the dequantized model's own argmax path."""
    tok, model = smollm
    _, ps = prompts
    rows = gguf_teacher.sample_batch(ps, 2, 0.0, 24, seed=0)
    agree = total = 0
    for p, row in zip(ps, rows):
        assert row[0].token_ids == row[1].token_ids and row[1].tokens_in == 0
        ids = tok(p, return_tensors="pt")
        with torch.inference_mode():
            ref = model.generate(**ids, do_sample=False, max_new_tokens=len(row[0].token_ids),
                                 pad_token_id=tok.pad_token_id)[0, ids["input_ids"].shape[1]:].tolist()
        n = min(len(ref), len(row[0].token_ids))
        first_diff = next((i for i in range(n) if ref[i] != row[0].token_ids[i]), n)
        agree, total = agree + first_diff, total + n
    assert agree / total >= 0.5, f"greedy paths agree on {agree}/{total} leading tokens"


def test_generate_yields_requested_indices_and_teacher_from_name(gguf_teacher, prompts):
    from helpers.teacher import Request
    exs, ps = prompts
    reqs = [Request(ex, p, f"k{i}", [1, 4]) for i, (ex, p) in enumerate(zip(exs, ps))]
    out = list(gguf_teacher.generate(reqs, SampleParams(n=2, temperature=1.0, max_new_tokens=8), seed=1))
    assert [(r.key, k) for r, k, _ in out] == [("k0", 1), ("k0", 4), ("k1", 1), ("k1", 4)]
    assert gguf_teacher.teacher_id.startswith("gguf:smollm2-135m@")
    assert gguf_teacher.describe()["backend"].startswith("llama.cpp")
    t = teacher_from_name("gguf:smollm2-135m")
    try:
        assert isinstance(t, GGUFTeacher) and t.teacher_id == gguf_teacher.teacher_id
    finally:
        t.close()


def test_kept_prompt_prefix_changes_no_sample_and_groups_fill_n(gguf_teacher, smollm, prompts):
    """The exemplars' KV cells are kept from one prompt to the next (evaluated in chunks aligned to position 0, so a
    prompt's cells do not depend on what came before): the same call after another prompt samples the same tokens.
    With ``n_seq`` below ``n`` the samples are decoded in groups and still number ``n``, seeded per sample."""
    tok = smollm[0]
    _, ps = prompts
    first = gguf_teacher.sample_batch([ps[0]], 3, 1.0, 16, seed=3)[0]
    gguf_teacher.sample_batch([ps[1]], 1, 1.0, 4, seed=0)          # shares the exemplars, differs after them
    assert 0 < len(gguf_teacher._held) < len(tok(ps[1])["input_ids"])
    again = gguf_teacher.sample_batch([ps[0]], 3, 1.0, 16, seed=3)[0]
    assert [c.token_ids for c in again] == [c.token_ids for c in first]
    assert [c.logprob for c in again] == [c.logprob for c in first]
    grouped = GGUFTeacher("smollm2-135m", n_threads=1, n_seq=2, tokenizer=tok)
    try:
        rows = [grouped.sample_batch([ps[0]], 5, 1.0, 12, seed=3)[0] for _ in range(2)]
    finally:
        grouped.close()
    assert len(rows[0]) == 5 and [c.token_ids for c in rows[0]] == [c.token_ids for c in rows[1]]
    assert len({tuple(c.token_ids) for c in rows[0]}) > 1
