"""The analysis home (helpers.analysis) on real models: the logit lens and a tuned lens (tuned-lens),
integrated gradients over rationale tokens (captum), GloVe neighbours (gensim), human-marked tokens.

Fast tests use ``smollm2-tiny`` (SmolLM2's real architecture and tokenizer, 2 layers, random weights);
the ``slow`` ones (``make test-slow``) repeat the lens and IG checks on the pretrained SmolLM2-135M."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import analysis as A
from helpers.analysis import logit_lens
from helpers.models import load_model, load_word_vectors
from helpers.tasks import Choice, Example

COIN = Example("coinflip", "c1", "A coin is heads up. Ann flips the coin. Is the coin still heads up?", "B",
               (Choice("A", "yes"), Choice("B", "no")))
SENT = Example("sst2", "s1", "a gorgeous, witty, seductive movie.", "positive", labels=("negative", "positive"))
RATIONALE = "Ann flips it, so it is now tails up."


def _texts(lo: int, hi: int) -> list[str]:
    """Coin-flip training texts (prompt + completion), as a student sees them."""
    return [f"Q: A coin is {'heads' if i % 2 else 'tails'} up. Person {i} flips it {i % 3} times. Is it still "
            f"{'heads' if i % 2 else 'tails'} up?\nA: It is flipped {i % 3} times. So the answer is ({'ab'[i % 3 % 2]})."
            for i in range(lo, hi)]


@pytest.fixture(scope="module")
def tiny():
    return load_model("smollm2-tiny")


def test_logit_lens_ends_at_the_models_own_probability(tiny):
    tok, model = tiny
    prompt, answer = "Q: Is the coin still heads up?\nA: So the answer is", " (a)"
    probs = logit_lens(model, tok, prompt, answer)
    assert len(probs) == model.config.num_hidden_layers + 1
    assert all(0.0 <= p <= 1.0 for p in probs)
    ids = tok(prompt, return_tensors="pt")
    target = tok(prompt + answer)["input_ids"][ids["input_ids"].shape[1]]
    with torch.no_grad():
        own = torch.softmax(model(**ids).logits[0, -1].float(), dim=-1)[target].item()
    assert probs[-1] == pytest.approx(own, rel=1e-4, abs=1e-7)
    assert len(set(round(p, 9) for p in probs)) > 1          # the layers differ


def test_label_context_stops_at_the_token_that_tells_the_options_apart(tiny):
    tok, _ = tiny
    ids, target = A.label_context(tok, COIN)
    assert tok.decode(ids).endswith("\nA: So the answer is (") and tok.decode([target]) == "b"
    ids_r, target_r = A.label_context(tok, COIN, RATIONALE)
    assert tok.decode(ids_r).endswith(f"A: {RATIONALE} So the answer is (") and target_r == target
    assert tok.decode([A.label_context(tok, COIN, label="A")[1]]) == "a"
    ids_s, target_s = A.label_context(tok, SENT)
    assert tok.decode(ids_s).endswith("So the answer is") and tok.decode([target_s]) == " positive"


def test_lens_questions_fall_back_to_the_cot_students_correct_questions():
    from types import SimpleNamespace as NS
    exs = [Example("coinflip", f"q{i}", "Is it heads up?", "AB"[i % 2], COIN.choices) for i in range(12)]

    def preds(right):
        return [NS(id=e.id, correct=e.id in right) for e in exs]
    b_gold = {e.id for e in exs if e.answer == "B"}
    a_gold = {e.id for e in exs if e.answer == "A"}
    cot = {f"q{i}" for i in range(10)}
    # a label-only student always (b), a CoT-after one always (a): no question all three get right
    ids, how = A.lens_questions(exs, {"label_only": preds(b_gold), "cot_before": preds(cot),
                                      "cot_after": preds(a_gold)}, n=4)
    assert ids == ["q0", "q1", "q2", "q3"] and "cot_before student answers correctly" in how and "only 0" in how
    # enough shared questions: the paper's rule, in the examples' order
    ids, how = A.lens_questions(exs, {"label_only": preds(cot), "cot_before": preds(cot)}, n=20, min_shared=5)
    assert ids == sorted(cot, key=lambda i: int(i[1:])) and how.startswith("all 2 students")
    with pytest.raises(ValueError, match="unknown anchor"):
        A.lens_questions(exs, {"label_only": preds(set())}, n=4, anchor="scotd")


def test_label_position_items_cut_the_students_text_at_the_answer_sentence():
    from helpers.decode import Prediction
    preds = [Prediction("c1", "B", "B", [f"{RATIONALE} So the answer is (b)."]),
             Prediction("c2", "B", "B", ["So the answer is (b). Because it was flipped."]),
             Prediction("zz", "A", "A", ["So the answer is (a)."])]
    c2 = Example("coinflip", "c2", "Is it heads up?", "B", COIN.choices)
    assert A.label_position_items([COIN, c2], preds) == [(COIN, RATIONALE), (c2, "")]
    with pytest.raises(ValueError, match="answer is"):
        A.label_position_items([COIN], [Prediction("c1", "B", None, ["no answer sentence"])])


def test_lens_confidence_logit_lens_is_the_logit_lens_at_the_label_position(tiny):
    tok, model = tiny
    items = [("A coin is heads up. So the answer is", " (a)"), ("A coin is tails up. So the answer is", " (b)")]
    m = A.lens_confidence(model, tok, items)
    assert np.allclose(np.asarray(m), [logit_lens(model, tok, p, a) for p, a in items], rtol=1e-5, atol=0)
    [curve] = A.lens_confidence(model, tok, [(COIN, RATIONALE)])
    ids, target = A.label_context(tok, COIN, RATIONALE)
    with torch.no_grad():
        own = torch.softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)[target].item()
    assert len(curve) == model.config.num_hidden_layers + 1 and curve[-1] == pytest.approx(own, rel=1e-4)


def test_a_tuned_lens_trained_a_few_steps_lowers_the_kl_to_the_final_layer(tiny):
    """tuned-lens's TunedLens starts as the identity (= the logit lens) and, trained on KL for a few
    steps, is closer to the final layer than the logit lens on held-out text — at every layer."""
    from tuned_lens.nn import TunedLens

    tok, model = tiny
    train, held_out = _texts(0, 8), _texts(100, 108)
    logit = A.layer_kl(model, tok, held_out)
    untrained = A.train_tuned_lens(model, tok, train, steps=0)
    assert isinstance(untrained, TunedLens)
    assert A.layer_kl(model, tok, held_out, untrained) == pytest.approx(logit, rel=1e-4)
    lens = A.train_tuned_lens(model, tok, train, steps=6, seed=0)
    tuned = A.layer_kl(model, tok, held_out, lens)
    assert len(tuned) == model.config.num_hidden_layers and all(k >= 0 for k in logit + tuned)
    assert all(t < 0.8 * l for t, l in zip(tuned, logit)), (tuned, logit)
    sampled = A.layer_kl(model, tok, held_out, A.train_tuned_lens(model, tok, train, steps=6, tokens_per_step=24))
    assert all(t < 0.8 * l for t, l in zip(sampled, logit)), (sampled, logit)   # 24 of ~150 positions a step
    # the tuned lens feeds lens_confidence; the last layer is the model's own output either way
    [with_lens], [without] = (A.lens_confidence(model, tok, [COIN], lens=ln) for ln in (lens, None))
    assert with_lens[-1] == pytest.approx(without[-1]) and with_lens[:-1] != pytest.approx(without[:-1], rel=1e-6)


def test_student_lenses_reads_both_lenses_on_the_same_items(tiny):
    """One student's Fig. 2 read-out: the logit lens is lens_confidence without a lens; the tuned lens differs
    below the last layer and agrees at it (the model's own output)."""
    tok, model = tiny
    per = A.student_lenses(model, tok, [COIN, (COIN, RATIONALE)], _texts(0, 8), steps=4, seed=0, tokens_per_step=24)
    assert list(per) == list(A.LENSES)
    assert np.allclose(per["logit lens"], A.lens_confidence(model, tok, [COIN, (COIN, RATIONALE)]), rtol=1e-5)
    logit, tuned = np.asarray(per["logit lens"]), np.asarray(per["tuned lens"])
    assert logit.shape == tuned.shape == (2, model.config.num_hidden_layers + 1)
    assert np.allclose(logit[:, -1], tuned[:, -1], rtol=1e-4) and not np.allclose(logit[:, :-1], tuned[:, :-1])


def test_lens_summary_curves_rows_and_the_mid_layer_test():
    """lens_summary against a direct computation: per-condition curves pooled over students, one row per layer,
    the first layer past the threshold and the paired mid-layer difference from the baseline."""
    rng = np.random.default_rng(1)
    base = [rng.uniform(0.0, 0.5, size=(6, 5)), rng.uniform(0.0, 0.5, size=(4, 5))]        # two seeds' students
    after = [b + np.array([0.0, 0.1, 0.3, 0.5, 0.5]) + rng.normal(0, 0.01, size=b.shape) for b in base]
    curves, rows, tests = A.lens_summary({"logit lens": {"label_only": base, "cot_after": after}})
    pooled_b, pooled_a = np.concatenate(base), np.concatenate(after)
    assert np.allclose(curves["logit lens"]["cot_after"]["mean"], pooled_a.mean(axis=0))
    assert len(rows) == 2 * 5 and {r["n_items"] for r in rows} == {10}
    row = next(r for r in rows if r["condition"] == "cot_after" and r["layer"] == 3)
    assert row["share_above_0.6"] == pytest.approx(np.mean(pooled_a[:, 3] > 0.6))
    t = {x["condition"]: x for x in tests}
    first = next((l for l, v in enumerate(pooled_a.mean(axis=0)) if v > 0.6), None)
    assert t["cot_after"]["first_layer_above_0.6"] == first and t["cot_after"]["mid_layer"] == 2
    assert t["cot_after"]["layers"] == 4 and "p_value" not in t["label_only"]
    assert t["cot_after"]["mean_diff"] == pytest.approx((pooled_a[:, 2] - pooled_b[:, 2]).mean())
    assert t["cot_after"]["diff_ci_low"] > 0.25 and t["cot_after"]["p_value"] < 1e-6


def test_column_band_and_item_difference():
    from helpers import stats
    rng = np.random.default_rng(0)
    m = rng.uniform(size=(40, 3)) + np.array([0.0, 0.5, 1.0])
    band = stats.column_band(m)
    assert band["mean"] == pytest.approx(m.mean(axis=0).tolist())
    assert all(lo < mu < hi for lo, mu, hi in zip(band["lo"], band["mean"], band["hi"]))
    shifted = stats.item_difference(rng.normal(0.5, 0.2, size=30))
    assert shifted["p_value"] < 0.001 and shifted["diff_ci_low"] > 0 and shifted["n_paired"] == 30
    assert stats.item_difference(rng.normal(0.0, 0.2, size=30))["p_value"] > 0.01


def _forward_batch_sizes(model):
    sizes = []
    handle = model.model.layers[0].register_forward_hook(lambda mod, args, out: sizes.append(args[0].shape[0]))
    return sizes, handle


def _log_p(model, ids, target):
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)[target].item()


def _check_ig(tok, model, n_steps, internal_batch_size, rel):
    sizes, handle = _forward_batch_sizes(model)
    try:
        att = A.rationale_attributions(model, tok, COIN, RATIONALE, n_steps=n_steps,
                                       internal_batch_size=internal_batch_size)
    finally:
        handle.remove()
    # the memory bound: captum never ran more than internal_batch_size interpolated sequences at once
    assert max(sizes) <= internal_batch_size and sum(sizes) >= n_steps
    # f(input) and f(baseline) recomputed here: the baseline is the rationale's tokens replaced by a blank
    ids, target = A.label_context(tok, COIN, RATIONALE)
    [blank] = tok(A.IG_BASELINE, add_special_tokens=False)["input_ids"]
    assert att.baseline_token == tok.convert_ids_to_tokens(blank)
    base = [blank if i >= len(ids) - len(att.tokens) - 5 and i < len(ids) - 5 else t
            for i, t in enumerate(ids)]                   # the rationale sits before " So the answer is ("
    assert tok.decode(ids[len(ids) - len(att.tokens) - 5:len(ids) - 5]).strip() == RATIONALE
    assert att.f_input == pytest.approx(_log_p(model, ids, target), abs=1e-4)
    assert att.f_baseline == pytest.approx(_log_p(model, base, target), abs=1e-4)
    diff = att.f_input - att.f_baseline
    assert abs(diff) > 1e-4                               # something to attribute
    # completeness: the rationale's attributions add up to f(input) - f(baseline)
    assert sum(att.token_scores) == pytest.approx(diff, rel=rel, abs=1e-6)
    assert abs(att.delta) <= rel * abs(diff) + 1e-6
    assert att.words == RATIONALE.split() and "".join(att.tokens).strip() == RATIONALE
    assert sum(att.word_scores) == pytest.approx(sum(att.token_scores), abs=1e-9)
    top = A.top_k_tokens(att, k=3)
    assert len(top) == 3 and [w for w in att.words if w in top] == top
    return att


def test_integrated_gradients_are_complete_and_batch_bounded(tiny):
    tok, model = tiny
    _check_ig(tok, model, n_steps=24, internal_batch_size=5, rel=1e-2)
    with pytest.raises(ValueError, match="IG baseline ' the cat' is 2 tokens"):
        A.rationale_attributions(model, tok, COIN, RATIONALE, n_steps=2, baseline=" the cat")


def test_top_k_tokens_keep_rationale_order():
    att = A.Attribution(words=["a", "b", "c", "d", "e"], word_scores=[0.1, 0.5, -0.2, 0.5, 0.3], tokens=[],
                        token_scores=[], f_input=0, f_baseline=0, delta=0, baseline_token="", n_steps=1,
                        internal_batch_size=1)
    assert A.top_k_tokens(att, k=3) == ["b", "d", "e"]
    assert A.top_k_tokens(att, k=15) == ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def glove():
    return load_word_vectors("glove-50d")


def test_glove_neighbours_are_near_deterministic_and_oov_aware(glove):
    words = ["king", "Faster.", "qzxvbnmw", "baseball"]
    out, n_oov = A.glove_neighbours(words, glove, seed=0)
    assert n_oov == 1 and out[2] == "qzxvbnmw" and len(out) == 4
    assert out == A.glove_neighbours(words, glove, seed=0)[0]          # deterministic per seed
    for w, n in zip(["king", "faster", "baseball"], [out[0], out[1], out[3]]):
        assert n != w and w not in n
        assert glove.similarity(w, n) > 0.7                             # a near neighbour, not any word
    assert out[0] in {w for w, _ in glove.most_similar("king", topn=25)}
    seeds = {tuple(A.glove_neighbours(["king", "baseball", "faster"], glove, seed=s)[0]) for s in range(6)}
    assert len(seeds) > 1                                                # the seed picks among neighbours
    picks = {A.glove_neighbours(["faster"], glove, seed=s, topn=8)[0][0] for s in range(20)}
    assert len(picks) > 2 and not picks & {"fast", "fastest", "faster"}  # "fast" is GloVe's 6th nearest
    near = A.label_neighbours("heads", glove, k=15)
    assert len(near) == 15 and "heads" not in near and all("head" not in w for w in near)
    with pytest.raises(KeyError):
        A.label_neighbours("qzxvbnmw", glove)


def test_human_marked_words_are_the_cose_highlights_for_csqa_only(data_dir):
    marks = A.human_marked_words("csqa", "train", data_dir)
    assert marks["3a1b3c21a11f4ec53c166b0559df7369"] == ["a", "bum"]
    assert len(marks) > 9000 and all(1 <= len(w) <= 15 for w in marks.values())
    with pytest.raises(ValueError, match="quarel"):
        A.human_marked_words("quarel")


def test_marked_words_are_the_generators_ground_truth_on_creatures():
    """On creatures the "human-marked" tokens of a rationale are exactly its sentences about the asked
    attribute (the fact and the rule); the facts about the other attributes are not marked."""
    import random

    from helpers import synthetic
    from helpers.tasks import load_task
    exs = load_task("creatures", "train")[:20]
    items = [(ex, synthetic.creatures_cot(ex, random.Random(i), 0.0)[0]) for i, ex in enumerate(exs)]
    marks, what = A.marked_words("creatures", items)
    assert "ground truth" in what and set(marks) == {ex.id for ex in exs}
    for ex, rat in items:
        asked = synthetic.ATTRIBUTES[ex.meta["attribute"]]["values"]
        others = {v for a, spec in synthetic.ATTRIBUTES.items() if a != ex.meta["attribute"] for v in spec["values"]}
        words = {w.strip(".,").lower() for w in marks[ex.id]}
        assert words & set(asked) and not words & others, (rat, marks[ex.id])
        assert len(marks[ex.id]) < len(rat.split())
    with pytest.raises(ValueError, match="coinflip"):
        A.marked_words("coinflip", items)


# ----------------------------------------------------------------------------------- the pretrained student

@pytest.mark.slow
def test_tuned_lens_on_smollm2_135m(smollm):
    tok, model = smollm
    held_out = _texts(100, 104)
    logit = A.layer_kl(model, tok, held_out)
    lens = A.train_tuned_lens(model, tok, _texts(0, 8), steps=4, seed=0, tokens_per_step=48)
    tuned = A.layer_kl(model, tok, held_out, lens)
    assert np.mean(tuned) < 0.8 * np.mean(logit), (np.mean(tuned), np.mean(logit))


@pytest.mark.slow
def test_integrated_gradients_complete_on_smollm2_135m(smollm):
    tok, model = smollm
    att = _check_ig(tok, model, n_steps=64, internal_batch_size=16, rel=2e-2)
    assert not math.isclose(att.f_input, att.f_baseline, abs_tol=1e-2)


def test_attribute_rationales_caches_each_item_and_resumes(tiny, tmp_path, monkeypatch):
    """The RQ3 stage verb: every attribution is appended to the cache as it finishes; a second call with one
    more item computes only that item (the model is loaded only when something is left), and a changed
    rationale is recomputed, not served stale."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    tok, model = tiny
    loads = []

    class FakeStudentHandle:          # the real model; only the loading is counted
        key = "tiny-attr-test"

        def load(self):
            loads.append(1)
            return tok, model

    other = Example("coinflip", "c2", "A coin is tails up. Bo flips the coin. Is the coin still tails up?", "B",
                    (Choice("A", "yes"), Choice("B", "no")))
    first = A.attribute_rationales(FakeStudentHandle(), [(COIN, RATIONALE)], n_steps=8, internal_batch_size=4)
    assert len(loads) == 1 and list(first) == ["c1"]
    both = A.attribute_rationales(FakeStudentHandle(), [(COIN, RATIONALE), (other, "Bo flips it, so it is heads up.")],
                                  n_steps=8, internal_batch_size=4)
    assert len(loads) == 2 and both["c1"] == first["c1"] and both["c2"].words[0] == "Bo"
    again = A.attribute_rationales(FakeStudentHandle(), [(COIN, RATIONALE), (other, "Bo flips it, so it is heads up.")],
                                   n_steps=8, internal_batch_size=4)
    assert len(loads) == 2 and again == both                  # all cached: the model is not even loaded
    changed = A.attribute_rationales(FakeStudentHandle(), [(COIN, "Ann flips it, so it is tails up now.")],
                                     n_steps=8, internal_batch_size=4)
    assert len(loads) == 3 and changed["c1"].words[-1] == "now."
    a = both["c1"]
    assert A.completeness([a], min_effect=0.0)["rel_median"] == pytest.approx(
        abs(sum(a.token_scores) - (a.f_input - a.f_baseline)) / abs(a.f_input - a.f_baseline))


def _att(f_input, f_baseline, scores):
    return A.Attribution(words=["w"] * len(scores), word_scores=list(scores), tokens=["t"] * len(scores),
                         token_scores=list(scores), f_input=f_input, f_baseline=f_baseline,
                         delta=sum(scores) - (f_input - f_baseline), baseline_token=" ", n_steps=8,
                         internal_batch_size=4)


def test_completeness_judges_rationales_that_barely_move_the_label_by_absolute_error():
    """A relative error of a near-zero difference divides by almost nothing: those items are left out of the
    relative median (and counted in the absolute one), so three close attributions of real effects are not
    outvoted by three tiny ones that are off by 0.01 nats (100% of their difference)."""
    big = [_att(-0.2, -1.2, [0.5, 0.45]), _att(-0.1, -0.6, [0.3, 0.23]), _att(-0.5, -0.9, [0.2, 0.216])]
    tiny = [_att(-0.70, -0.71, [0.01, 0.01]), _att(-0.69, -0.70, [0.0, 0.02]), _att(-0.6, -0.61, [0.02, 0.0])]
    c = A.completeness(big + tiny)
    assert c["n"] == 6 and c["n_effect"] == 3
    assert c["rel_median"] == pytest.approx(0.05)               # errors 0.05/1.0, 0.03/0.5, 0.016/0.4
    assert c["abs_median"] == pytest.approx(0.013)              # 0.05, 0.03, 0.016, 0.01, 0.01, 0.01
    assert c["effect_median"] == pytest.approx((0.4 + 0.01) / 2)
    assert A.completeness(big + tiny, min_effect=0.0)["rel_median"] > 0.5   # judged relatively, the tiny ones dominate
    assert math.isnan(A.completeness(tiny)["rel_median"])               # no item moves the label enough to judge


def test_attribute_rationales_in_two_workers_matches_one_process(tiny, tmp_path, monkeypatch):
    """Two spawned workers (each loading the student from its path) give the attributions one process gives,
    every one lands in the cache, and the weights' requires_grad flags are left as they were."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path))
    tok, model = tiny
    flags = [q.requires_grad for q in model.parameters()]

    class Handle:
        key, path = "tiny-attr-workers", "smollm2-tiny"

        def load(self):
            return tok, model

    other = Example("coinflip", "c2", "A coin is tails up. Bo flips the coin. Is the coin still tails up?", "B",
                    (Choice("A", "yes"), Choice("B", "no")))
    items = [(COIN, RATIONALE), (other, "Bo flips it, so it is heads up.")]
    serial = A.attribute_rationales(Handle(), items, n_steps=8, internal_batch_size=4, n_workers=1)
    assert [q.requires_grad for q in model.parameters()] == flags
    for f in (tmp_path / "attributions").iterdir():
        f.unlink()
    parallel = A.attribute_rationales(Handle(), items, n_steps=8, internal_batch_size=4, n_workers=2)
    assert list(parallel) == ["c1", "c2"]
    for i in parallel:
        assert parallel[i].words == serial[i].words
        assert parallel[i].token_scores == pytest.approx(serial[i].token_scores, rel=1e-4, abs=1e-6)
    (cache,) = (tmp_path / "attributions").iterdir()
    assert len(cache.read_text().splitlines()) == 2


def test_key_token_variants_on_creatures(glove):
    """Table 3's variants from attributions: the top-k words in rationale order, the same words shuffled, their
    GloVe neighbours, the label's neighbours, and the generator's ground truth as the marked tokens."""
    import random

    from helpers import synthetic
    from helpers.tasks import load_task
    exs = load_task("creatures", "train")[:6]
    items = [(ex, synthetic.creatures_cot(ex, random.Random(i), 0.0)[0]) for i, ex in enumerate(exs)]
    atts = {}
    for ex, rat in items:
        words = rat.split()
        scores = [float(len(w) % 7) + 0.01 * j for j, w in enumerate(words)]     # any ranking will do
        atts[ex.id] = _att(0.0, -1.0, scores)
        atts[ex.id].words[:] = words
    variants, notes = A.key_token_variants("creatures", items, atts, glove, k=5, seed=3)
    assert set(variants) == {"ig_top", "ig_top_shuffled", "glove_neighbours", "label_neighbours", "human"}
    for ex, rat in items:
        top = variants["ig_top"][ex.id]
        assert top == A.top_k_tokens(atts[ex.id], 5) and len(top) == 5
        assert sorted(variants["ig_top_shuffled"][ex.id]) == sorted(top)
        assert len(variants["glove_neighbours"][ex.id]) == 5 and variants["glove_neighbours"][ex.id] != top
        assert len(variants["label_neighbours"][ex.id]) == 5
        assert variants["human"][ex.id] == synthetic.deciding_words(ex, rat)
    assert any("ground truth" in n for n in notes)
    no_marks, notes = A.key_token_variants("coinflip", items, atts, glove, k=5)
    assert "human" not in no_marks and any("left out" in n for n in notes)
