"""Training targets: every condition checked against a hand-written expected pair (QuaRel train #0)."""
from __future__ import annotations

import random

import pytest

from helpers.corpus import Corpus, CorpusEntry, Sample
from helpers.targets import (CONDITIONS, RESERVED_FILLER, build_pairs, filler_token, majority_label,
                             mask_words, pairs_from_corpus, pairs_from_examples, shuffle_words)
from helpers.tasks import Choice, Example

EX = Example("quarel", "quarel_train_0000",
             "The boys were racing their cars in the soapbox derby and found that the cars that _____ moved faster.",
             "B", (Choice("A", "weighed more"), Choice("B", "weighed less")))
PROMPT = ("Q: The boys were racing their cars in the soapbox derby and found that the cars that _____ moved faster.\n"
          "Answer Choices: (a) weighed more (b) weighed less\nA:")
R0 = "When something is lighter, it is easier to move faster. Thus, the cars that weighed less moved faster."
R1 = "When something weighs less, it is easier to move. Thus, the cars that weighed less moved faster."
ANS = "So the answer is (b)."


def one(cond, **kw):
    pairs = build_pairs(cond, EX, [R0, R1], **kw)
    assert all(p.prompt == PROMPT and p.condition == cond and p.example_id == EX.id for p in pairs)
    return pairs


def test_registry_covers_both_papers():
    assert set(CONDITIONS) == {"label_only", "greedy_cot", "scotd", "cot_before", "cot_after", "filler",
                               "shuffled_before", "shuffled_after", "masked_before", "masked_after", "key_tokens"}


def test_label_only():
    (p,) = one("label_only")
    assert p.completion == " So the answer is (b)." and p.label == "B" and p.sample_k is None


def test_greedy_cot_and_cot_before_use_the_first_rationale():
    for cond in ("greedy_cot", "cot_before"):
        (p,) = one(cond)
        assert p.completion == f" {R0} {ANS}" and p.sample_k == 0


def test_cot_after():
    (p,) = one("cot_after")
    assert p.completion == f" {ANS} {R0}"


def test_scotd_one_pair_per_rationale():
    pairs = one("scotd")
    assert [p.completion for p in pairs] == [f" {R0} {ANS}", f" {R1} {ANS}"]
    assert [p.sample_k for p in pairs] == [0, 1]


def test_n_rationales_widens_single_rationale_conditions():
    assert len(one("cot_after", n_rationales=2)) == 2


def test_filler_reserved_token_without_tokenizer():
    (p,) = one("filler", k=3)
    assert p.completion == " <unk><unk><unk> So the answer is (b)."
    (p0,) = one("filler", k=0)
    assert p0.completion == f" {ANS}"


def test_filler_for_smollm_is_the_reserved_token_not_its_document_separator(smollm):
    tok, _ = smollm
    assert tok.unk_token == "<|endoftext|>"             # SmolLM2's unk: its pretraining's document separator
    assert filler_token(tok) == RESERVED_FILLER
    (p,) = one("filler", k=5, tokenizer=tok)
    assert p.completion == " " + RESERVED_FILLER * 5 + " " + ANS


def test_filler_uses_a_dedicated_unk_token():
    class Tok:  # Gemma / T5 / Llama style: a real <unk>, distinct from BOS/EOS/padding
        unk_token, bos_token_id, eos_token_id, pad_token_id = "<unk>", 2, 1, 0

        def convert_tokens_to_ids(self, t):
            return 3
    assert filler_token(Tok()) == "<unk>"
    Tok.unk_token = "<s>"                   # not an unknown token by name
    assert filler_token(Tok()) == RESERVED_FILLER


def test_filler_falls_back_when_unk_is_eos():
    class Tok:  # GPT-2 style: unk == eos
        unk_token, eos_token_id, pad_token_id = "<|endoftext|>", 50256, 50256

        def convert_tokens_to_ids(self, t):
            return 50256
    assert filler_token(Tok()) == RESERVED_FILLER


def test_shuffled_keeps_words_and_answer():
    (b,) = one("shuffled_before", seed=1)
    (a,) = one("shuffled_after", seed=1)
    assert b.completion.endswith(" " + ANS) and a.completion.startswith(" " + ANS + " ")
    words_b = b.completion[1:-len(ANS) - 1].split()
    assert sorted(words_b) == sorted(R0.split()) and words_b != R0.split()
    assert a.completion[len(ANS) + 2:].split() == words_b          # same shuffle before and after
    assert one("shuffled_before", seed=1)[0] == b                   # deterministic
    assert one("shuffled_before", seed=2)[0] != b


def test_masked_keeps_order_and_masks_round_p_n():
    (p,) = one("masked_before", p=0.5, seed=0)
    words = p.completion[1:-len(ANS) - 1].split()
    orig = R0.split()                                               # 18 words
    assert len(words) == 18 and words.count("[MASK]") == 9
    assert all(w == o for w, o in zip(words, orig) if w != "[MASK]")
    (a,) = one("masked_after", p=0.0)
    assert a.completion == f" {ANS} {R0}"
    (full,) = one("masked_after", p=1.0)
    assert full.completion == f" {ANS} " + " ".join(["[MASK]"] * 18)
    with pytest.raises(ValueError):
        one("masked_after", p=1.5)


def test_key_tokens_after_answer():
    (p,) = one("key_tokens", key_tokens=["lighter", "easier", "faster", "weighed", "less"])
    assert p.completion == " So the answer is (b). lighter easier faster weighed less"
    with pytest.raises(ValueError, match="key_tokens"):
        one("key_tokens")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown target condition"):
        one("cot_sideways")
    with pytest.raises(ValueError, match="not an option"):
        build_pairs("label_only", EX, label="C")
    with pytest.raises(ValueError, match="rationale 0 is empty"):
        build_pairs("scotd", EX, ["  "])
    assert build_pairs("scotd", EX, []) == []


def test_helpers_are_seeded():
    words = "a b c d e f g h i j".split()
    outs = {shuffle_words(" ".join(words), random.Random(s)) for s in range(5)}
    assert len(outs) > 1                                                      # the seed matters
    for out in outs:
        assert sorted(out.split()) == words                                   # a permutation of the words
    assert shuffle_words(" ".join(words), random.Random(3)) == shuffle_words(" ".join(words), random.Random(3))
    masked = mask_words("a b c d", 0.25, random.Random(0))
    assert masked.count("[MASK]") == 1 and len(masked.split()) == 4
    assert {w for w in masked.split() if w != "[MASK]"} < set("abcd")        # the rest kept, in place


def _corpus():
    ex2 = Example("quarel", "q2", "Which is heavier?", "A", (Choice("A", "rock"), Choice("B", "feather")))
    e1 = CorpusEntry(EX, [Sample(0, R0, "B", -9.0), Sample(1, "wrong reasoning.", "A", -1.0),
                          Sample(2, R1, "B", -3.0), Sample(3, "no answer here.", None, -2.0)])
    e2 = CorpusEntry(ex2, [Sample(0, "Feathers float.", "B"), Sample(1, "Rocks are dense.", "A"),
                           Sample(2, "Feathers are light.", "B")])
    return Corpus([e1, e2], {"task": "quarel"})


def test_pairs_from_corpus_supervised():
    c = _corpus()
    scotd = pairs_from_corpus(c, "scotd")
    # wrong and no-answer samples dropped; log-probs known -> highest first (R1 at -3 before R0 at -9)
    assert [(p.example_id, p.sample_k) for p in scotd] == [("quarel_train_0000", 2), ("quarel_train_0000", 0),
                                                          ("q2", 1)]
    greedy = pairs_from_corpus(c, "greedy_cot")
    assert [p.completion for p in greedy] == [f" {R1} {ANS}", " Rocks are dense. So the answer is (a)."]
    lo = pairs_from_corpus(c, "label_only")
    assert [p.label for p in lo] == ["B", "A"]                       # gold, every question


def test_pairs_from_corpus_few_shot_uses_teacher_labels():
    c = _corpus()
    scotd = pairs_from_corpus(c, "scotd", supervised=False)
    assert len(scotd) == 6                                          # every sample with an answer
    assert ("wrong reasoning. So the answer is (a)." in [p.completion.strip() for p in scotd])
    lo = pairs_from_corpus(c, "label_only", supervised=False)
    assert [p.label for p in lo] == ["B", "B"]                       # q2: teacher majority B (gold is A)
    assert majority_label([Sample(0, "", "A"), Sample(1, "", "B")]) == "A"   # tie -> earliest sample


def test_pairs_from_examples():
    pairs = pairs_from_examples([EX], "label_only")
    assert pairs[0].completion == f" {ANS}"
    with pytest.raises(ValueError, match="needs rationales"):
        pairs_from_examples([EX], "scotd")
