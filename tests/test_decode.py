"""Decoding: greedy and self-consistency on the real SmolLM2 student, vote rules, stopping."""
from __future__ import annotations

import pytest

from helpers.decode import Prediction, _AnswerStop, _cut_at_eos, decode, majority_vote
from helpers.prompts import extract_answer
from helpers.tasks import load_task


@pytest.fixture(scope="module")
def dev3():
    return load_task("quarel", "dev", limit=3)


@pytest.fixture(scope="module")
def answering(smollm, tmp_path_factory):
    """SmolLM2 after a few label-only steps, so that it answers (the base model mostly emits EOS at once)."""
    import copy

    from helpers.targets import pairs_from_examples
    from helpers.train import Budget, TrainConfig, build_trainer
    tok, model = copy.deepcopy(smollm)
    tok.padding_side = "right"
    pairs = pairs_from_examples(load_task("quarel", "train", limit=4), "label_only")
    cfg = TrainConfig(Budget(steps=4, lr=1e-3, batch_size=4, warmup_ratio=0.0), max_seq_len=160, bf16=False)
    build_trainer(tok, model, pairs, cfg, tmp_path_factory.mktemp("tr")).train()
    model.eval()
    tok.padding_side = "left"
    return tok, model


def test_majority_vote_rules():
    assert majority_vote(["B", "A", "B", None]) == ("B", {"B": 2, "A": 1})
    assert majority_vote(["A", "B", None, "B", "A"])[0] == "A"      # tie -> label sampled first
    assert majority_vote([None, "B", "A"])[0] == "B"
    assert majority_vote([None, None]) == (None, {})


def test_cut_at_eos_and_padding():
    assert _cut_at_eos([5, 6, 2, 7], {2}, 0) == [5, 6]
    assert _cut_at_eos([5, 6, 0, 0], {2}, 0) == [5, 6]


def test_greedy_keeps_order_full_text_and_is_deterministic(answering, dev3):
    tok, model = answering
    a = decode(model, tok, dev3, method="greedy", max_new_tokens=10, batch_size=2)
    b = decode(model, tok, dev3, method="greedy", max_new_tokens=10, batch_size=2)
    assert [p.id for p in a] == [ex.id for ex in dev3]
    assert [p.texts for p in a] == [p.texts for p in b]
    for p, ex in zip(a, dev3):
        assert len(p.texts) == 1 and 0 < p.n_generated_tokens <= 10
        assert p.text.startswith(" So the answer is") and p.pred in ("A", "B")
        assert p.pred == extract_answer(ex, p.text) and p.gold == ex.answer
    assert tok.padding_side == "left"


def test_self_consistency_votes_over_k_samples(answering, dev3):
    tok, model = answering
    preds = decode(model, tok, dev3, method="sc", k=3, temperature=0.7, max_new_tokens=8, batch_size=6, seed=1)
    again = decode(model, tok, dev3, method="sc", k=3, temperature=0.7, max_new_tokens=8, batch_size=6, seed=1)
    assert [p.texts for p in preds] == [p.texts for p in again]              # seeded
    for p, ex in zip(preds, dev3):
        assert len(p.texts) == 3
        labels = [extract_answer(ex, t) for t in p.texts]
        assert (p.pred, p.votes) == majority_vote(labels) and sum(p.votes.values()) >= 1
    with pytest.raises(ValueError):
        decode(model, tok, dev3, method="beam")


def test_stop_at_answer_ends_generation_after_the_answer(answering, dev3):
    tok, model = answering
    long = decode(model, tok, dev3, max_new_tokens=24)
    short = decode(model, tok, dev3, max_new_tokens=24, stop_at_answer=True)
    assert [p.pred for p in short] == [p.pred for p in long]
    assert all(p.text.rstrip().endswith(").") for p in short)


def test_answer_stop_criterion(smollm, dev3):
    import torch
    tok, _ = smollm
    ex = dev3[0]
    prompt = tok("Q: x\nA:")["input_ids"]
    rows = [prompt + tok(" It rolls. So the answer is (b).")["input_ids"],
            prompt + tok(" It rolls. So the answer is")["input_ids"]]
    width = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    stop = _AnswerStop(tok, [ex], len(prompt), k=2)
    assert stop(ids, None).tolist() == [True, False]


def test_prediction_roundtrip():
    p = Prediction("x", "A", "A", ["So the answer is (a)."], {"A": 1}, 7)
    d = p.to_dict()
    assert d["correct"] is True
    assert Prediction(**{k: v for k, v in d.items() if k != "correct"}) == p
    assert not Prediction("y", "A", None, [""]).correct


def test_decode_precision_bf16_copy_fp32_as_is_and_trained_models_as_given(smollm, answering, dev3, monkeypatch):
    """bf16 decoding runs on a bf16 copy of a plain fp32 model (tied weights stay tied, the caller's
    model is untouched); fp32 uses the model itself; a model whose forward the trainer patched is used
    as given; "auto" follows the machine's choice."""
    import torch

    from helpers import decode as D
    tok, model = smollm
    copy, prec = D.inference_model(model, "bf16")
    assert prec == "bf16" and copy is not model
    assert {p.dtype for p in copy.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert copy.get_output_embeddings().weight is copy.get_input_embeddings().weight        # still tied
    assert D.inference_model(model, "bf16")[0] is copy                   # cast once per model ...
    w = model.get_output_embeddings().weight
    with torch.no_grad():
        w.add_(0.0)                                                      # ... until a weight changes in place
    assert D.inference_model(model, "bf16")[0] is not copy
    assert D.inference_model(model, "fp32") == (model, "fp32")
    assert D.decode_precision(answering[1], "bf16") == "as given"
    monkeypatch.setattr("helpers.precision.use_bf16", lambda: False)
    assert D.decode_precision(model) == "fp32"
    monkeypatch.setattr("helpers.precision.use_bf16", lambda: True)
    assert D.decode_precision(model) == "bf16" and D.decode_precision(copy, "fp32") == "bf16"
    with pytest.raises(ValueError, match="precision"):
        D.decode_precision(model, "int8")
    preds, timing = D.timed_decode(model, tok, dev3[:1], method="greedy", max_new_tokens=4, precision="bf16")
    assert timing["precision"] == "bf16" and len(preds) == 1
