"""Student training: completion-only masks, every target condition trains, cache, reload + decode."""
from __future__ import annotations

import copy
from dataclasses import replace
import json

import pytest

from helpers.targets import CONDITIONS, build_pairs, pairs_from_examples
from helpers.tasks import load_task
from helpers.train import STUDENT_META, Budget, TrainConfig, build_trainer, check_pairs, student_key, train_student

TINY = TrainConfig(Budget(steps=3, lr=5e-4, batch_size=2, warmup_ratio=0.0), max_seq_len=192, seed=0, bf16=False)


@pytest.fixture(scope="module")
def quarel_pairs_by_condition(smollm):
    """One QuaRel train question with its first two correct GPT-3 (MaRio) rationales, in every condition."""
    from helpers.rationales import load_rationales
    tok = smollm[0]
    exs = load_task("quarel", "train", limit=1)
    recs = load_rationales("mario_gpt3", "quarel", "train", examples=load_task("quarel", "train"))
    out = {}
    for cond in CONDITIONS:
        pairs = []
        for ex in exs:
            rs = [r for r in recs[ex.id] if r.correct][:2]
            pairs += build_pairs(cond, ex, [r.rationale for r in rs], k=4, p=0.5, tokenizer=tok,
                                 key_tokens=rs[0].rationale.split()[:6], seed=0)
        out[cond] = pairs
    return out


@pytest.fixture
def student_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _fresh(smollm):
    tok, model = smollm
    return copy.deepcopy(tok), copy.deepcopy(model)


def _sequences(batch):
    """``(input_ids, labels, attention_mask)`` per training sequence of a collated batch: its rows
    (padded), or the segments of its one packed row, split where ``position_ids`` restart at 0
    (padding-free, the CPU default)."""
    import torch
    if "attention_mask" in batch:
        return list(zip(batch["input_ids"], batch["labels"], batch["attention_mask"]))
    assert batch["input_ids"].shape[0] == 1 and "position_ids" in batch
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist() + [batch["input_ids"].shape[1]]
    cu = batch["cu_seq_lens_q"].tolist()
    assert cu == starts                                  # the attention's boundaries are the sequences'
    return [(batch["input_ids"][0, s:e], batch["labels"][0, s:e], torch.ones(e - s, dtype=torch.long))
            for s, e in zip(starts[:-1], starts[1:])]


def test_collated_labels_mask_the_prompt_and_keep_the_completion(smollm, tmp_path, quarel_pairs_by_condition):
    tok, model = _fresh(smollm)
    tok.padding_side = "right"
    pairs = quarel_pairs_by_condition["scotd"] + quarel_pairs_by_condition["label_only"]
    trainer = build_trainer(tok, model, pairs, TrainConfig(Budget(steps=-1, batch_size=len(pairs)), max_seq_len=192),
                            tmp_path / "tr")
    batch = next(iter(trainer.get_train_dataloader()))
    completions = {p.completion + tok.eos_token for p in pairs}
    prompts = {p.prompt for p in pairs}
    seen = set()
    for ids, labels, mask in _sequences(batch):
        kept = [int(t) for t, l in zip(ids, labels) if l != -100]
        assert kept, "a completion ended up fully masked"
        masked_real = [int(t) for t, l, m in zip(ids, labels, mask) if l == -100 and m == 1]
        comp = tok.decode(kept)
        assert comp in completions                      # exactly the completion + EOS carries loss
        assert tok.decode(masked_real) in prompts       # exactly the prompt is masked
        assert all(l == -100 for l, m in zip(labels, mask) if m == 0)   # no loss on padding
        seen.add(comp)
    assert seen == completions


def test_loss_tokens_shows_what_the_trainer_trains_on(smollm, tmp_path, quarel_pairs_by_condition):
    """The notebooks' loss-mask display (:func:`helpers.train.loss_tokens`) marks exactly the tokens that
    carry loss in a real collated batch."""
    from helpers.train import loss_tokens
    tok, model = _fresh(smollm)
    tok.padding_side = "right"
    pair = quarel_pairs_by_condition["greedy_cot"][0]
    trainer = build_trainer(tok, model, [pair], TrainConfig(Budget(steps=-1, batch_size=1), max_seq_len=192), tmp_path / "tr")
    ((ids, labels, _),) = _sequences(next(iter(trainer.get_train_dataloader())))
    shown = loss_tokens(tok, pair, 192)
    assert [t for t, _ in shown] == [tok.decode([int(i)]) for i in ids]
    assert [flag for _, flag in shown] == [int(l) != -100 for l in labels]


def test_packed_batch_gives_each_sequence_its_unpacked_loss(smollm, tmp_path, quarel_pairs_by_condition,
                                                           monkeypatch):
    """The trainer's CPU path — a padding-free (packed) batch, attention within each sequence, the compact
    LM head over the loss positions — gives every sequence the loss the unmodified model gives it alone,
    and the step's loss and gradients equal the model's own on the padded batch of the same sequences."""
    import torch

    from helpers import cpu_training as T
    from helpers.cpu_training import VARLEN_ATTENTION
    calls = []
    per_sequence = T._per_sequence_attention

    def counting(*a, **k):
        calls.append(k.get("cu_seq_lens_q") is not None)
        return per_sequence(*a, **k)
    monkeypatch.setattr(T, "_per_sequence_attention", counting)
    tok, model = _fresh(smollm)
    tok.padding_side = "right"
    pairs = quarel_pairs_by_condition["scotd"] + quarel_pairs_by_condition["label_only"]
    trainer = build_trainer(tok, model, pairs, TrainConfig(Budget(steps=-1, batch_size=len(pairs)), max_seq_len=192), tmp_path / "tr")
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1      # packed, no padding
    assert getattr(model.forward, "compact_lm_head", False)
    own = model.config._attn_implementation
    trainer.callback_handler.on_train_begin(trainer.args, trainer.state, trainer.control)
    assert model.config._attn_implementation == VARLEN_ATTENTION
    model.train()
    n_items = (batch["labels"][:, 1:] != -100).sum()
    loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=n_items)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if n.endswith(("layers.3.self_attn.q_proj.weight", "embed_tokens.weight"))}
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        out = model(**{k: v for k, v in batch.items() if k != "labels"}, labels=batch["labels"], fused_lm_head=True)
    assert calls and all(calls)                         # the per-sequence kernel ran, on packed input
    model.set_attn_implementation(own)                  # the unmodified model from here on
    seqs = _sequences(batch)
    with torch.no_grad():
        s = 0
        for ids, labels, _ in seqs:
            e = s + len(ids)
            lp, m = out.log_probs[0, s:e - 1], out.label_mask[0, s:e - 1]
            alone = model(input_ids=ids[None], labels=labels[None]).loss
            assert (-lp[m].mean()).item() == pytest.approx(alone.item(), rel=1e-4, abs=1e-5)
            s = e
    width = max(len(ids) for ids, _, _ in seqs)

    def pad(x, v):
        return torch.stack([torch.cat([r, r.new_full((width - len(r),), v)]) for r in x])

    ids_p = pad([x[0] for x in seqs], tok.pad_token_id)
    lab_p = pad([x[1] for x in seqs], -100)
    att_p = pad([x[2] for x in seqs], 0)
    ref = model(input_ids=ids_p, attention_mask=att_p, labels=lab_p).loss
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-4)
    for n, g in grads.items():
        assert torch.allclose(g, dict(model.named_parameters())[n].grad, rtol=1e-3, atol=1e-5), n
    model.zero_grad(set_to_none=True)


def test_check_pairs_refuses_a_completion_that_would_be_fully_masked(smollm):
    tok, _ = smollm
    ex = load_task("quarel", "train", limit=1)[0]
    pairs = build_pairs("label_only", ex)
    with pytest.raises(ValueError, match="leaves no completion token"):
        check_pairs(tok, pairs, max_seq_len=20)
    stats = check_pairs(tok, pairs, max_seq_len=256)
    assert stats["n_truncated"] == 0 and stats["completion_tokens"] >= 8
    # counts the caller already has (protocol.fit's pair_token_counts) give the same statistics untokenized
    from helpers.train import _completion_lengths
    assert check_pairs(tok, pairs, max_seq_len=256, counts=_completion_lengths(tok, pairs)) == stats
    with pytest.raises(ValueError, match="counts has 0 entries"):
        check_pairs(tok, pairs, max_seq_len=256, counts=[])


@pytest.mark.parametrize("cond", sorted(CONDITIONS))
def test_every_condition_trains_and_loss_falls(cond, smollm, tmp_path, quarel_pairs_by_condition):
    """A few optimizer steps on one question's pairs: the completion loss must fall. (Saving and
    reloading is checked once, below, to keep the suite fast.)"""
    tok, model = _fresh(smollm)
    tok.padding_side = "right"
    pairs = quarel_pairs_by_condition[cond]
    trainer = build_trainer(tok, model, pairs, TINY, tmp_path / "tr")
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == TINY.max_steps and losses[-1] < losses[0], losses


def test_saved_student_reloads_decodes_and_is_reused(smollm, student_cache, quarel_pairs_by_condition):
    from helpers.decode import decode
    pairs = quarel_pairs_by_condition["scotd"]
    st = train_student("smollm2-135m", pairs, TINY, model_and_tokenizer=_fresh(smollm))
    losses = [x["loss"] for x in st.meta["loss_curve"]]
    assert losses[-1] < losses[0] and st.meta["n_pairs"] == len(pairs)
    assert not st.reused and st.path.parent == student_cache / "students"
    assert not list(st.path.parent.glob("*.tmp-*"))                # built under a temp name, renamed
    again = train_student("smollm2-135m", pairs, TINY)          # no model given: must come from the cache
    assert again.reused and again.path == st.path and again.meta["loss_curve"] == st.meta["loss_curve"]
    tok, model = st.load()
    dev = load_task("quarel", "dev", limit=2)
    preds = decode(model, tok, dev, method="greedy", max_new_tokens=12)
    assert [p.id for p in preds] == [ex.id for ex in dev] and all(p.text for p in preds)


def test_cache_key_covers_pairs_hyperparameters_and_seed():
    exs = load_task("quarel", "train", limit=3)
    a = pairs_from_examples(exs, "label_only")
    k = student_key("smollm2-135m", a, TINY)
    assert k == student_key("smollm2-135m", list(a), TINY)
    assert k != student_key("smollm2-135m", a[:2], TINY)
    assert k != student_key("smollm2-135m", a, replace(TINY, seed=1))
    assert k != student_key("smollm2-135m", a, TINY.with_budget(lr=1e-4))
    assert k != student_key("gemma-3-270m", a, TINY)


def test_lora_trains_and_merges(smollm, student_cache, quarel_pairs_by_condition):
    cfg = replace(TINY.with_budget(lr=2e-3), lora=True)
    st = train_student("smollm2-135m", quarel_pairs_by_condition["cot_after"], cfg,
                       model_and_tokenizer=_fresh(smollm))
    losses = [x["loss"] for x in st.meta["loss_curve"]]
    assert losses[-1] < losses[0]
    assert not (st.path / "adapter_config.json").exists()       # merged: a plain checkpoint
    tok, model = st.load()
    assert not any("lora" in n for n, _ in model.named_parameters())


def test_early_stopping_on_dev_accuracy(smollm, student_cache, quarel_pairs_by_condition):
    """eval every 2 steps; an improvement of 1.01 is impossible, so patience 1 stops at step 4 of 8
    and the step-2 weights (the best) are restored."""
    cfg = replace(TINY.with_budget(steps=8, eval_every=2, patience=1, threshold=1.01), n_dev_eval=2,
                  eval_max_new_tokens=8)
    from helpers.decode import dev_accuracy
    dev = load_task("quarel", "dev", limit=2)
    st = train_student("smollm2-135m", quarel_pairs_by_condition["label_only"], cfg,
                       model_and_tokenizer=_fresh(smollm),
                       dev_eval=dev_accuracy(dev[:cfg.n_dev_eval], max_new_tokens=cfg.eval_max_new_tokens))
    assert st.meta["global_steps"] == 4
    assert [d["step"] for d in st.meta["dev_curve"]] == [2, 4] and st.meta["best_step"] == 2


def _scripted(values):
    """A dev evaluation returning ``values`` in turn (the rule's read-out, without decoding)."""
    it = iter(values)
    return lambda model, tok: {"accuracy": next(it)}


def test_a_killed_run_resumes_from_its_last_checkpoint_and_trains_the_same_student(
        smollm, student_cache, tmp_path, monkeypatch, kill_training):
    """8 questions, batches of 2: 4 steps an epoch, an evaluation (and checkpoint) every 2 steps. Killed after step 3,
    the next ``train_student`` of the same key resumes at step 2 — mid-epoch: weights, optimizer, schedule, the data
    position and the rule's state (its curve, and the kept best weights: step 2's, read back from their file) — and
    saves the very student an uninterrupted run saves: the same losses at every step, the same weights."""
    import torch
    from helpers.train import RESUME_SUFFIX, students_dir

    pairs = pairs_from_examples(load_task("coinflip", "train", limit=8), "label_only")
    cfg = TINY.with_budget(steps=6, eval_every=2, patience=10, threshold=0.0)
    curve = [0.9, 0.6, 0.7]                       # the held-out read-outs at steps 2, 4, 6: step 2's weights are kept
    whole = train_student("smollm2-135m", pairs, cfg, model_and_tokenizer=_fresh(smollm), dev_eval=_scripted(curve))
    assert whole.meta["best_step"] == 2 and whole.meta["resumed_from_step"] is None
    assert whole.meta["epochs_done"] == 1.5
    want = whole.load()[1].state_dict()

    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "second"))
    kill_training(3)
    with pytest.raises(KeyboardInterrupt):
        train_student("smollm2-135m", pairs, cfg, model_and_tokenizer=_fresh(smollm), dev_eval=_scripted(curve[:1]))
    kill_training(None)
    resume = students_dir() / (whole.key + RESUME_SUFFIX)
    assert sorted(p.name for p in resume.glob("checkpoint-*")) == ["checkpoint-2"]
    assert sorted(p.name for p in resume.glob("best-*")) == ["best-2.safetensors"]
    assert not (students_dir() / whole.key).exists()             # no half student

    again = train_student("smollm2-135m", pairs, cfg, model_and_tokenizer=_fresh(smollm),
                          dev_eval=_scripted(curve[1:]))        # steps 4 and 6 are evaluated again
    assert not again.reused and again.key == whole.key and again.meta["resumed_from_step"] == 2
    assert not resume.exists()                                   # removed once the student is saved
    assert again.meta["dev_curve"] == [{**d, "eval_seconds": a["eval_seconds"]}
                                       for d, a in zip(whole.meta["dev_curve"], again.meta["dev_curve"])]
    assert again.meta["best_step"] == 2 and again.meta["global_steps"] == 6
    assert [x["step"] for x in again.meta["loss_curve"]] == [x["step"] for x in whole.meta["loss_curve"]]
    assert [x["loss"] for x in again.meta["loss_curve"]] == pytest.approx(
        [x["loss"] for x in whole.meta["loss_curve"]], rel=1e-5)
    got = again.load()[1].state_dict()
    assert got.keys() == want.keys()
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=0, msg=k)


def test_latest_checkpoint_skips_one_without_its_resume_record(tmp_path):
    """A run killed between transformers' checkpoint and the rule's record resumes from the one before."""
    from helpers.train import latest_checkpoint
    assert latest_checkpoint(tmp_path / "absent") is None
    for step, record in ((20, True), (40, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
        if record:
            (tmp_path / f"cotlab_resume-{step}.json").write_text(json.dumps({"step": step, "train_seconds": 9.5}))
    ck, rec = latest_checkpoint(tmp_path)
    assert ck.name == "checkpoint-20" and rec["train_seconds"] == 9.5
    (tmp_path / "checkpoint-20" / "trainer_state.json").unlink()   # incomplete: transformers writes it last
    assert latest_checkpoint(tmp_path) is None


def test_stale_tmp_folders_of_killed_runs_are_removed(student_cache):
    """A run killed mid-way leaves ``<key>.tmp-<pid>``; the next train_student removes it (its pid is dead)
    and leaves the folder of a live run alone. Here the student itself is a cache hit: nothing trains."""
    import json
    import os
    import subprocess
    import sys

    from helpers.targets import Pair
    from helpers.train import STUDENT_META, students_dir

    pairs = [Pair("Q: Which is heavier?\nA:", " So the answer is (a).", "label_only", "q0", "A")]
    key = student_key("smollm2-135m", pairs, TINY)
    root = students_dir()
    (root / key).mkdir()
    (root / key / STUDENT_META).write_text(json.dumps({"key": key}))
    (root / key / "model.safetensors").write_bytes(b"")         # a cached student has its weights (cache prune)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()                                                  # its pid is now free: a killed run
    dead = root / f"{'0' * 16}.tmp-{proc.pid}"
    alive = root / f"{'1' * 16}.tmp-{os.getpid()}"
    odd = root / "notes.tmp-x"
    for d in (dead, alive, odd):
        (d / "trainer").mkdir(parents=True)
    st = train_student("smollm2-135m", pairs, TINY)
    assert st.reused and st.key == key
    assert not dead.exists() and alive.exists() and odd.exists()


def test_dev_accuracy_stopper_takes_an_evaluation_callable():
    """Patience counts evaluations without an improvement ≥ threshold; the best weights come back at the end."""
    from types import SimpleNamespace

    import torch

    from helpers.train import DevAccuracyStopper

    model = torch.nn.Linear(2, 1)
    scores = iter([0.5, 0.9, 0.91, 0.92])
    seen = []

    def evaluate(m):
        seen.append(m)
        with torch.no_grad():
            m.weight.add_(1.0)                                   # "training" moves the weights
        return next(scores)

    stopper = DevAccuracyStopper(evaluate, every=2, patience=2, threshold=0.05)
    control = SimpleNamespace(should_training_stop=False)
    for step in (2, 4, 6):
        stopper._evaluate(model, step, control)
    assert not control.should_training_stop                      # 0.91 is not ≥ 0.9 + 0.05: one bad evaluation
    best = model.weight.detach().clone() - 1.0                    # weights as of the step-4 evaluation
    stopper._evaluate(model, 8, control)
    assert control.should_training_stop and stopper.best_step == 4 and seen == [model] * 4
    assert [h["step"] for h in stopper.history] == [2, 4, 6, 8]
    stopper._restore(model)
    assert torch.allclose(model.weight.detach(), best)          # (w+3)-1 vs w+2: equal up to rounding


def test_learned_rule_keeps_training_while_the_training_questions_are_still_being_learned():
    """Rule "learned": held-out accuracy flat (a student that cannot generalise), train-slice accuracy still
    climbing — no stop until the train slice stops improving too; the weights kept are the best held-out
    accuracy's (ties: higher train-slice accuracy). The held-out rule stops the same curve at once.
    ``stopped_by`` tells patience from the cap."""
    from types import SimpleNamespace

    import torch

    from helpers.train import DevAccuracyStopper

    curve = [(0.5, 0.5), (0.5, 0.6), (0.5, 0.8), (0.5, 1.0), (0.5, 1.0), (0.5, 1.0)]

    def run(rule, patience=2, min_steps=0, curve=curve):
        model = torch.nn.Linear(2, 1)
        it = iter(curve)

        def evaluate(m):
            with torch.no_grad():
                m.weight.add_(1.0)
            h, t = next(it)
            return {"accuracy": h, "train_accuracy": t}
        st = DevAccuracyStopper(evaluate, every=1, patience=patience, threshold=0.05, rule=rule, min_steps=min_steps)
        control = SimpleNamespace(should_training_stop=False)
        step = 0
        while not control.should_training_stop and step < len(curve):
            step += 1
            st._evaluate(model, step, control)
        return st, step

    st, stop = run("heldout")
    assert stop == 3 and st.stopped_by == "patience" and st.best_step == 1
    st, stop = run("learned")
    assert stop == 6 and st.stopped_by == "patience"       # learning until step 4, then 2 evaluations without
    assert st.best_step == 6 and st.best_key == (0.5, 1.0)  # ties in held-out: the best-fitted, latest weights
    assert st.history[2] == {"step": 3, "dev_accuracy": 0.5, "train_accuracy": 0.8,
                             "eval_seconds": st.history[2]["eval_seconds"]}
    assert all(h["eval_seconds"] >= 0 for h in st.history)       # what each evaluation cost
    st, stop = run("learned", patience=5)
    assert stop == 6 and st.stopped_by == "cap"            # the curve ran out first: not converged
    flat = [(0.5, 0.5)] * 8
    assert run("learned", min_steps=0, curve=flat)[1] == 3       # patience 2 from the first evaluation
    st, stop = run("learned", min_steps=4, curve=flat)           # warm-up: evaluations up to step 4 never count
    assert stop == 6 and st.stopped_by == "patience"
    with pytest.raises(ValueError, match="unknown stop rule"):
        DevAccuracyStopper(lambda m: 0.0, every=1, patience=1, threshold=0.0, rule="loss")
    with pytest.raises(ValueError, match="train-slice accuracy"):
        DevAccuracyStopper(lambda m: 0.5, every=1, patience=1, threshold=0.0, rule="learned")._evaluate(
            torch.nn.Linear(1, 1), 1, SimpleNamespace(should_training_stop=False))


def test_a_filler_student_learns_the_reserved_filler(smollm, student_cache):
    """The reserved ``<unk>`` added for SmolLM2 must be learnable in a short budget: its row starts from
    the space token's. (Started at the embeddings' mean it stayed near log p = -13 after 6 steps here, and
    course students trained 40 steps never emitted it: 0 % answered.)"""
    import torch
    from helpers.targets import RESERVED_FILLER
    exs = load_task("coinflip", "train", limit=16)
    pairs = pairs_from_examples(exs, "filler", k=4, tokenizer=smollm[0])
    assert RESERVED_FILLER * 4 in pairs[0].completion
    cfg = TrainConfig(Budget(steps=6, lr=2e-4, warmup_ratio=0.0), max_seq_len=192, seed=0, bf16=False)
    st = train_student("smollm2-135m", pairs, cfg, model_and_tokenizer=_fresh(smollm))
    assert st.meta["added_filler_token"] and st.meta["filler_init_from"] == "Ġ"
    tok, model = st.load()
    filler = tok.convert_tokens_to_ids(RESERVED_FILLER)
    p = pairs_from_examples(load_task("coinflip", "dev", limit=1), "filler", k=4, tokenizer=tok)[0]
    ids = tok(p.prompt + p.completion, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = model(ids).logits[0, :-1].float().log_softmax(-1)
    at = (ids[0, 1:] == filler).nonzero().flatten()
    assert len(at) == 4
    assert logp[at, filler].mean() > -3.0, logp[at, filler]


def test_a_student_stored_in_bf16_is_half_the_disk_and_loads_in_fp32(smollm, student_cache, quarel_pairs_by_condition,
                                                                     monkeypatch):
    """COTLAB_STUDENT_STORAGE=bf16 (the default): the cached weights are the trained weights rounded to bf16 (half the bytes),
    loaded back as fp32; the metadata says so, and its decodes are cached apart from an fp32-stored student's."""
    import torch
    from safetensors import safe_open

    from helpers import config
    from helpers.decode import decode_student
    pairs = quarel_pairs_by_condition["label_only"]
    monkeypatch.setenv("COTLAB_STUDENT_STORAGE", "fp32")
    fp32 = train_student("smollm2-135m", pairs, TINY, model_and_tokenizer=_fresh(smollm))
    fp32_bytes = sum(f.stat().st_size for f in fp32.path.glob("*.safetensors"))
    fp32_weights = {k: v.clone() for k, v in fp32.load()[1].state_dict().items()}
    dev = load_task("quarel", "dev", limit=2)
    before = decode_student(fp32, dev, max_new_tokens=4)
    import shutil
    shutil.rmtree(fp32.path)
    monkeypatch.setenv("COTLAB_STUDENT_STORAGE", "bf16")
    bf16 = train_student("smollm2-135m", pairs, TINY, model_and_tokenizer=_fresh(smollm))
    assert bf16.key == fp32.key and bf16.meta["stored_dtype"] == "bf16" and fp32.meta["stored_dtype"] == "fp32"
    files = list(bf16.path.glob("*.safetensors"))
    with safe_open(str(files[0]), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    assert sum(f.stat().st_size for f in files) < 0.55 * fp32_bytes
    _, model = bf16.load()
    loaded = model.state_dict()
    assert all(v.dtype == torch.float32 for v in loaded.values())
    for k, v in fp32_weights.items():             # exactly the fp32 training result, rounded to bf16
        assert torch.equal(loaded[k], v.to(torch.bfloat16).float()), k
    decode_student(bf16, dev, max_new_tokens=4)
    assert len(list((student_cache / "decodes").glob("*.json"))) == 2 and before
    monkeypatch.delenv("COTLAB_STUDENT_STORAGE")
    assert config.student_storage() == "bf16"                     # the default
    monkeypatch.setenv("COTLAB_STUDENT_STORAGE", "fp16")
    with pytest.raises(config.UserError, match="COTLAB_STUDENT_STORAGE='fp16'"):
        config.student_storage()


def test_replaying_a_recorded_curve_stops_where_training_stopped():
    """replay_rule runs a recorded learning curve through the same decision logic: on the curve a trained student
    recorded it stops and keeps the same step; with more patience it would have gone on (the cap), with another
    signal (the negated held-out loss) it stops elsewhere."""
    from helpers.train import replay_rule
    curve = [{"step": 20 * (i + 1), "dev_accuracy": h, "train_accuracy": t, "answer_loss_heldout": l}
             for i, (h, t, l) in enumerate([(0.5, 0.5, 0.3), (0.6, 0.7, 0.2), (0.8, 1.0, 0.1), (0.8, 1.0, 0.09),
                                            (0.78, 1.0, 0.095), (0.8, 0.94, 0.12)])]
    got = replay_rule(curve, patience=3, threshold=0.02, rule="learned")
    assert got["stop_step"] == 120 and got["stopped_by"] == "patience" and got["best_step"] == 80
    assert got["best"]["train_accuracy"] == 1.0
    assert replay_rule(curve, patience=5, threshold=0.02)["stopped_by"] == "cap"
    assert replay_rule(curve, patience=3, threshold=0.02, min_steps=80)["stopped_by"] == "cap"   # warm-up not counted
    for c in curve:
        c["neg_loss"] = -c["answer_loss_heldout"]
    by_loss = replay_rule(curve, patience=2, threshold=0.02, rule="heldout", accuracy="neg_loss")
    assert by_loss["best_step"] == 60 and by_loss["stop_step"] == 100
    with pytest.raises(ValueError, match="unknown stop rule 'loss'"):
        replay_rule(curve, patience=2, threshold=0.02, rule="loss")
    # min_train_accuracy: evaluations before the train slice reaches it never count against patience
    stalled = [{"step": 20 * (i + 1), "dev_accuracy": 0.5, "train_accuracy": t}
               for i, t in enumerate([0.5, 0.5, 0.5, 0.5, 0.6, 0.95, 0.95, 0.95, 0.95])]
    assert replay_rule(stalled, patience=3, threshold=0.02)["stop_step"] == 80              # stalled at chance
    fit = replay_rule(stalled, patience=3, threshold=0.02, min_train_accuracy=0.9)
    assert fit["stopped_by"] == "patience" and fit["stop_step"] == 180 and fit["best_step"] == 180
    assert replay_rule(stalled[:6], patience=3, threshold=0.02, min_train_accuracy=0.9)["stopped_by"] == "cap"
    assert replay_rule(curve, patience=3, threshold=0.02, min_train_accuracy=0.9)["stop_step"] == 120   # fitted: same


def test_accelerate_launch_on_two_cpu_processes_trains_the_same_student(tmp_path):
    """The distributed path, run here: ``accelerate launch --multi_gpu --num_processes 2 -m helpers train`` on a
    CPU-only machine trains with 2 gloo processes. The config's batch is global — each process takes its half of
    the batch one process would draw (split_batches) and DDP averages the gradients — so after 4 optimizer steps
    the student equals the one-process student: the weights' difference is < 1e-4 of the update they made
    (measured: 3e-7, float rounding), and the parameters did move (the test would see a broken split)."""
    import os
    import shutil
    import subprocess
    import sys

    from safetensors.torch import load_file

    from helpers.models import load_model
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable))
    if accelerate is None:
        pytest.fail("the accelerate CLI is not installed beside this Python (pyproject declares accelerate)")
    args = ["-m", "helpers", "train", "--task", "coinflip", "--target", "label_only", "--model", "smollm2-tiny",
            "--profile", "smoke", "--limit", "16", "--max-steps", "4", "--batch-size", "4", "--lr", "1e-3"]
    env = dict(os.environ, COTLAB_STUDENT_STORAGE="fp32", OMP_NUM_THREADS="1", COTLAB_TORCH_THREADS="1")
    runs = {"one": [sys.executable], "two": [accelerate, "launch", "--multi_gpu", "--num_processes", "2",
                                             "--num_machines", "1", "--mixed_precision", "no",
                                             "--dynamo_backend", "no"]}
    weights = {}
    for name, head in runs.items():
        env["COTLAB_CACHE"] = str(tmp_path / f"cache_{name}")      # no student reused across the two runs
        out = tmp_path / f"student_{name}"
        proc = subprocess.run(head + args + ["--out", str(out)], env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
        meta = json.loads((out / STUDENT_META).read_text())
        assert meta["processes"] == (2 if name == "two" else 1) and meta["global_steps"] == 4
        weights[name] = load_file(str(out / "model.safetensors"))
    _, init = load_model("smollm2-tiny")
    start = init.state_dict()
    diff = sum(float((weights["one"][k].float() - weights["two"][k].float()).pow(2).sum()) for k in weights["one"])
    moved = sum(float((weights["one"][k].float() - start[k].float()).pow(2).sum()) for k in weights["one"])
    assert moved > 0
    assert (diff / moved) ** 0.5 < 1e-4, (diff / moved) ** 0.5
