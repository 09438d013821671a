"""The model registry: real offline weights, integrity checks, deterministic generation."""
import hashlib
import json

import pytest
import torch

from helpers import models
from helpers.models import ModelError


def test_registry_lists_the_offline_models():
    for name in ("smollm2-135m", "qwen2.5-0.5b", "gemma-3-270m", "qwen2.5-1.5b", "minilm", "glove-50d"):
        spec = models.get_spec(name)
        assert spec.hub_id and spec.packages and len(spec.packages) == len(spec.files)
        assert spec.sha256 and len(spec.sha256) == 64
    assert models.get_spec("qwen2.5-1.5b").optional
    with pytest.raises(ModelError, match="unknown model"):
        models.get_spec("gpt-5")


def test_smollm_loads_offline_and_generates_deterministic_greedy_text(smollm):
    tok, model = smollm
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert not hasattr(model.config, "quantization_config")  # a plain checkpoint, not a GGUF wrapper
    assert tok.pad_token is not None and tok.padding_side == "left"
    prompt = "Q: What do plants need to grow?\nA:"
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        a = model.generate(**ids, max_new_tokens=16, do_sample=False)
        b = model.generate(**ids, max_new_tokens=16, do_sample=False)
    assert torch.equal(a, b)
    text = tok.decode(a[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    # A real instruct model answers on topic (the dequantized Q4_1 SmolLM2 says "light, water, ...").
    assert any(w in text.lower() for w in ("water", "light", "sun", "nutrient", "soil")), text
    # and its loss on fluent English is far below a random model's (ln(vocab) ≈ 10.8)
    enc = tok("The cat sat on the mat. It was a sunny day and the children played outside.", return_tensors="pt")
    with torch.no_grad():
        loss = model(**enc, labels=enc["input_ids"]).loss.item()
    assert loss < 4.5


def test_converted_checkpoint_records_its_source(smollm):
    meta = json.loads((models.converted_dir("smollm2-135m") / "cotlab_model.json").read_text())
    assert meta["source_gguf_sha256"] == models.get_spec("smollm2-135m").sha256
    assert models.model_id("smollm2-135m").startswith("smollm2-135m@b179c952")


def test_joined_gguf_sha_mismatch_is_refused(tmp_path, monkeypatch):
    # Two real parts of a chunked model with a wrong pinned hash: the join must refuse and clean up.
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    spec = models.get_spec("gemma-3-270m")
    bad = models.ModelSpec(**{**spec.__dict__, "name": "gemma-bad", "sha256": "0" * 64})
    monkeypatch.setitem(models.REGISTRY, "gemma-bad", bad)
    with pytest.raises(ModelError, match="SHA-256 of the joined GGUF"):
        models.gguf_path("gemma-bad")
    assert not list((tmp_path / "gguf").glob("gemma-bad.gguf*"))


def test_joined_gguf_matches_pinned_sha(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    path = models.gguf_path("gemma-3-270m")
    h = hashlib.sha256(path.read_bytes()).hexdigest()
    assert h == models.get_spec("gemma-3-270m").sha256
    assert path.read_bytes()[:4] == b"GGUF"


def test_single_file_sha_mismatch_is_refused(monkeypatch):
    spec = models.get_spec("smollm2-135m")
    monkeypatch.setitem(models.REGISTRY, "smollm2-135m", models.ModelSpec(**{**spec.__dict__, "sha256": "f" * 64}))
    with pytest.raises(ModelError, match="SHA-256 mismatch"):
        models.gguf_path("smollm2-135m")


def test_missing_package_gives_install_hint(monkeypatch):
    spec = models.get_spec("smollm2-135m")
    monkeypatch.setitem(models.REGISTRY, "ghost", models.ModelSpec(
        **{**spec.__dict__, "name": "ghost", "packages": ("no-such-weights-pkg",)}))
    with pytest.raises(ModelError, match="no-such-weights-pkg"):
        models.gguf_path("ghost")


def test_unresolvable_name_is_a_clear_error():
    with pytest.raises(ModelError, match="cannot resolve"):
        models.resolve("not-a-model")


def test_embedder_and_word_vectors_load_offline():
    emb = models.load_embedder("minilm")
    v = emb.encode(["It is easier to roll on a smooth floor.", "Rolling on carpet is harder.", "Bananas are yellow."],
                   normalize_embeddings=True)
    assert v.shape == (3, 384)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
    kv = models.load_word_vectors("glove-50d")
    assert len(kv) == 400000 and kv.vector_size == 50
    assert "harder" in [w for w, _ in kv.most_similar("easier", topn=10)]


def test_a_tokenizer_alone_never_dequantizes_the_model(smollm, tmp_path, monkeypatch, data_dir):
    """A registry model not converted yet (a fresh cache): its tokenizer is read from the GGUF and kept alone (what
    the llama.cpp teacher needs), no weights are written, and it tokenizes exactly as the converted checkpoint's."""
    from helpers.prompts import build_prompt
    from helpers.tasks import load_task
    converted_tok, _ = smollm
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    tok = models.load_tokenizer("smollm2-135m")
    assert (tmp_path / "tokenizers" / "smollm2-135m" / "cotlab_tokenizer.json").exists()
    assert not (tmp_path / "models" / "smollm2-135m").exists()
    assert tok.pad_token is not None and tok.padding_side == "left"
    texts = [build_prompt(ex, shots=2) + " So the answer is (a).<|im_end|>" for ex in load_task("quarel", "train", limit=3)]
    assert [tok(t)["input_ids"] for t in texts] == [converted_tok(t)["input_ids"] for t in texts]
    assert (tok.eos_token_id, tok.pad_token_id) == (converted_tok.eos_token_id, converted_tok.pad_token_id)


def test_a_student_exported_to_gguf_loads_back_weight_for_weight(smollm, tmp_path):
    """``export_gguf``: the checkpoint written into the base model's GGUF template (names, rotary layout of q/k)
    and read back by transformers' own GGUF loader gives every weight back exactly (f32) or to Q8_0's precision;
    a wrong type or a vocabulary the template lacks is refused."""
    from transformers import AutoModelForCausalLM

    src = models.converted_dir("smollm2-135m")
    _, model = smollm
    ref = {k: v.float() for k, v in model.state_dict().items()}
    for qtype, tol in (("f32", 0.0), ("q8_0", 0.01)):
        out = models.export_gguf(src, "smollm2-135m", tmp_path / f"s.{qtype}.gguf", qtype)
        back = AutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file=out.name, dtype=torch.float32)
        got = back.state_dict()
        assert set(ref) <= set(got)
        for k, w in ref.items():
            err = (got[k] - w).abs().max().item()
            assert err <= tol * w.abs().max().item(), (qtype, k, err)
        out.unlink()
    with pytest.raises(ValueError, match="valid:"):
        models.export_gguf(src, "smollm2-135m", tmp_path / "x.gguf", "q4_k")
