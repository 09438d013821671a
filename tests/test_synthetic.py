"""The generated coin-flip task and its scripted teacher (helpers.synthetic, helpers.teacher.ScriptedTeacher)."""
from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest

from helpers import synthetic
from helpers.prompts import extract_answer, rationale_conclusion
from helpers.tasks import load_task
from helpers.teacher import ScriptedTeacher, teacher_from_name
from helpers.corpus import sample_corpus

SMALL = synthetic.CoinFlipConfig(sizes=(("train", 60), ("dev", 20), ("test", 20)), seed=7)


def test_generation_is_deterministic_balanced_and_disjoint(tmp_path):
    a, b = synthetic.generate(SMALL), synthetic.generate(SMALL)
    assert a == b
    other = synthetic.generate(synthetic.CoinFlipConfig(sizes=SMALL.sizes, seed=8))
    assert other != a
    questions = [r["question"] for rows in a.values() for r in rows]
    assert len(questions) == len(set(questions)), "a question appears twice across splits"
    for split, rows in a.items():
        c = Counter(r["answer"] for r in rows)
        assert abs(c["A"] - c["B"]) <= 1, (split, c)
        assert [r["id"] for r in rows] == [f"coinflip_{split}_{i:04d}" for i in range(len(rows))]
        for r in rows:            # the answer is the parity of the flips
            assert (r["answer"] == "A") == (sum(r["flips"]) % 2 == 0)
            assert SMALL.min_people <= len(r["people"]) <= SMALL.max_people
            assert len(set(r["people"])) == len(r["people"])


def test_first_rows_are_balanced_too():
    rows = synthetic.generate(synthetic.CoinFlipConfig(sizes=(("train", 400),), seed=3))["train"]
    c = Counter(r["answer"] for r in rows[:100])
    assert 35 <= c["A"] <= 65, c      # shuffled after balancing: a prefix is not all one answer


def test_ensure_generated_writes_loadable_files_once(tmp_path):
    folder = synthetic.ensure_generated("coinflip", SMALL, out_dir=tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"] == {"train": 60, "dev": 20, "test": 20}
    mtime = (folder / "train.jsonl").stat().st_mtime_ns
    synthetic.ensure_generated("coinflip", SMALL, out_dir=tmp_path)
    assert (folder / "train.jsonl").stat().st_mtime_ns == mtime          # same settings: not rewritten
    exs = load_task("coinflip", "dev", data_dir=tmp_path)
    assert len(exs) == 20 and exs[0].options == ("A", "B") and exs[0].meta["flips"]


def test_bad_knobs_are_refused():
    with pytest.raises(ValueError, match="min_people"):
        synthetic.generate(synthetic.CoinFlipConfig(min_people=4, max_people=3))
    with pytest.raises(ValueError, match="p_flip"):
        synthetic.generate(synthetic.CoinFlipConfig(p_flip=1.0))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    synthetic.ensure_generated("coinflip", SMALL, out_dir=d)
    return load_task("coinflip", "train", data_dir=d)


def test_error_free_script_is_always_right_and_its_conclusion_is_read_back(examples):
    rng = random.Random(0)
    for ex in examples:
        for _ in range(5):
            rat, label, lp, slips = synthetic.scripted_cot(ex, rng, 0.0)
            assert slips == 0 and label == ex.answer and lp < 0
            assert rationale_conclusion(ex, f" {rat} So the answer is (a).") == label


def test_slips_flip_the_answer_by_parity_and_the_conclusion_follows_the_chain(examples):
    rng = random.Random(1)
    n = wrong = 0
    for ex in examples:
        for _ in range(20):
            rat, label, _, slips = synthetic.scripted_cot(ex, rng, 0.3)
            assert (label == ex.answer) == (slips % 2 == 0)
            assert synthetic.conclusion(ex, rat) == label       # the text states the (slipped) state it reached
            n += 1
            wrong += label != ex.answer
    # P(odd number of slips) over 3-5 steps at 0.3: between 0.42 and 0.49
    assert 0.35 < wrong / n < 0.55


def test_logprob_is_the_probability_of_the_text(examples):
    """Sampling many chains for one question: each text's frequency matches exp(logprob)."""
    ex = examples[0]
    rng = random.Random(2)
    seen: dict[str, float] = {}
    counts: Counter[str] = Counter()
    n = 40000
    for _ in range(n):
        rat, _, lp, _ = synthetic.scripted_cot(ex, rng, 0.1)
        seen[rat] = lp
        counts[rat] += 1
    for text, c in counts.most_common(3):
        p = math.exp(seen[text])
        assert abs(c / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 1e-3, (c / n, p)


def test_scripted_teacher_through_sample_corpus(examples):
    t = teacher_from_name("scripted:0.1")
    assert isinstance(t, ScriptedTeacher) and t.step_error == 0.1
    c1 = sample_corpus(t, examples[:10], n=4, progress=False)
    c2 = sample_corpus(t, examples[:10], n=4, progress=False)
    assert [[s.raw for s in e.samples] for e in c1.entries] == [[s.raw for s in e.samples] for e in c2.entries]
    for e in c1.entries:
        assert len(e.samples) == 4 and len({s.raw for s in e.samples}) >= 2          # varied
        for s in e.samples:
            assert extract_answer(e.example, s.raw) == s.label and s.logprob < 0
    greedy = sample_corpus(t, examples[:10], n=1, temperature=0.0, progress=False)
    assert all(e.samples[0].label == e.example.answer for e in greedy.entries)


def test_bad_teacher_names():
    with pytest.raises(ValueError, match="scripted:<step error>"):
        teacher_from_name("scripted:abc")
    with pytest.raises(ValueError, match="step_error"):
        teacher_from_name("scripted:1.5")


# ------------------------------------------------------------------------------------- creatures

C_SMALL = synthetic.CreaturesConfig(n_creatures=24, n_new_creatures=8, seed=11)


def test_creatures_are_deterministic_balanced_and_sized():
    a, b = synthetic.generate_creatures(C_SMALL), synthetic.generate_creatures(C_SMALL)
    assert a == b
    assert synthetic.generate_creatures(synthetic.CreaturesConfig(n_creatures=24, n_new_creatures=8, seed=12)) != a
    assert {s: len(r) for s, r in a.items()} == dict(C_SMALL.sizes)
    for split, rows in a.items():
        assert [r["id"] for r in rows] == [f"creatures_{split}_{i:04d}" for i in range(len(rows))]
        for attr in synthetic.ATTRIBUTES:          # every attribute's questions: half yes, half no
            c = Counter(r["answer"] for r in rows if r["attribute"] == attr)
            assert c["A"] == c["B"] > 0, (split, attr, c)
        for r in rows:                             # the answer is the rule applied to the creature's fact
            yes_value = synthetic.ATTRIBUTES[r["attribute"]]["values"][0]
            assert (r["answer"] == "A") == (r["facts"][r["attribute"]] == yes_value)
    names = synthetic.creature_names(200, random.Random(0))
    assert len(set(names)) == 200


def test_the_key_split_asks_what_only_rationales_told():
    d = synthetic.generate_creatures(C_SMALL)
    asked = {(r["creature"], r["attribute"]) for r in d["train"]}
    train_creatures = {r["creature"] for r in d["train"]}
    train_wordings = {r["wording"] for r in d["train"]}
    for r in d["dev"]:      # a trained creature, an attribute no training label revealed for it, a trained wording
        assert r["creature"] in train_creatures and (r["creature"], r["attribute"]) not in asked
        assert r["wording"] in train_wordings
    for r in d["dev_seen"]:  # a trained fact in a wording never trained on
        assert (r["creature"], r["attribute"]) in asked and r["wording"] not in train_wordings
    new = {r["creature"] for r in d["dev_new"]}
    assert not new & train_creatures
    text = " ".join(r["question"] for r in d["train"] + d["dev"] + d["dev_seen"])
    assert not any(n in text for n in new)           # a new creature's name appears nowhere else
    # ... while every dev fact is stated by a training rationale: each of its creature's questions states all facts
    ex = type("Ex", (), {})()
    for r in d["train"][:20]:
        ex.meta = r
        rat, _, _, _ = synthetic.creatures_cot(ex, random.Random(0), 0.0)
        for attr, value in r["facts"].items():
            assert value in rat.lower(), (attr, rat)


def _key_answer_dependence(make) -> dict[tuple[str, str], float]:
    """Over 30 generated datasets: the chi-square p of (key answer on dev) vs (a label training reveals about the same
    creature), per (key attribute, revealed attribute)."""
    from scipy.stats import chi2_contingency
    tables: dict[tuple[str, str], list[list[int]]] = {}
    for seed in range(30):
        d = make(synthetic.CreaturesConfig(n_creatures=24, n_new_creatures=4, seed=seed))
        revealed: dict[str, dict[str, str]] = {}
        for r in d["train"]:
            revealed.setdefault(r["creature"], {})[r["attribute"]] = r["answer"]
        for r in d["dev"]:
            for attr, ans in revealed[r["creature"]].items():
                t = tables.setdefault((r["attribute"], attr), [[0, 0], [0, 0]])
                t[r["answer"] == "A"][ans == "A"] += 1
    return {k: chi2_contingency(t).pvalue for k, t in tables.items()}


def test_training_labels_carry_no_information_about_a_key_answer():
    """Label-only's ceiling on ``dev`` is chance: a key answer is independent of every label training reveals
    about the same creature."""
    p = _key_answer_dependence(synthetic.generate_creatures)
    assert len(p) == 12                            # every (key, revealed) pair of distinct attributes occurs
    assert min(p.values()) > 0.001, p


def test_the_independence_check_catches_a_leak():
    """The check above can fail: a generator whose habitat follows size (water ⇔ small) leaks through the labels."""
    def leaky(cfg):
        d = synthetic.generate_creatures(cfg)
        for rows in d.values():
            for r in rows:
                r["facts"]["habitat"] = "water" if r["facts"]["size"] == "small" else "land"
                if r["attribute"] == "habitat":
                    r["answer"] = "A" if r["facts"]["habitat"] == "water" else "B"
        return d
    p = _key_answer_dependence(leaky)
    assert p[("habitat", "size")] < 1e-6 and p[("size", "habitat")] < 1e-6


def test_creature_rationales_are_scripted_exactly():
    d = synthetic.generate_creatures(C_SMALL)
    ex = type("Ex", (), {"task": "creatures"})()
    ex.meta = d["train"][0]
    # no slips: 4! orders × 3 wordings per fact, all equally likely
    _, label, lp, slips = synthetic.creatures_cot(ex, random.Random(3), 0.0)
    assert slips == 0 and label == d["train"][0]["answer"]
    assert lp == pytest.approx(-math.log(24 * 3 ** 4))
    rng = random.Random(4)
    n = wrong = 0
    for r in d["train"]:
        ex.meta = r
        for _ in range(10):
            rat, label, lp, slips = synthetic.creatures_cot(ex, rng, 0.2)
            assert synthetic.creatures_conclusion(ex, rat) == label          # the rule follows the stated fact
            words = synthetic.deciding_words(ex, rat)
            stated = synthetic.ATTRIBUTES[r["attribute"]]["values"]
            assert words and any(w.strip(".").lower() in stated for w in words)
            n += 1
            wrong += label != r["answer"]
    assert 0.12 < wrong / n < 0.28                  # a slip on the asked fact (p = 0.2) flips the answer


def test_creatures_through_the_scripted_teacher_and_the_data_files(tmp_path):
    folder = synthetic.ensure_generated("creatures", C_SMALL, out_dir=tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"] == dict(C_SMALL.sizes)
    exs = load_task("creatures", "train", data_dir=tmp_path)
    t = teacher_from_name("scripted:0.1", task="creatures")
    assert t.teacher_id == "scripted:creatures:err0.1"
    corpus = sample_corpus(t, exs[:8], n=3, progress=False)
    for e in corpus.entries:
        for s in e.samples:
            assert extract_answer(e.example, s.raw) == s.label
            assert rationale_conclusion(e.example, s.raw) == s.label
    greedy = sample_corpus(t, exs[:8], n=1, temperature=0.0, progress=False)
    again = sample_corpus(t, exs[:8], n=1, temperature=0.0, progress=False)
    assert [e.samples[0].raw for e in greedy.entries] == [e.samples[0].raw for e in again.entries]
    assert all(e.samples[0].label == e.example.answer for e in greedy.entries)
    coin = load_task("coinflip", "train")[:2]
    with pytest.raises(ValueError, match="writes creatures CoTs, not coinflip"):
        list(t.generate([type("R", (), {"example": coin[0], "ks": [0]})()], None, 0))
    with pytest.raises(ValueError, match="no scripted teacher for task 'quarel'"):
        teacher_from_name("scripted:0.1", task="quarel")


def test_bad_creature_knobs_are_refused():
    with pytest.raises(ValueError, match="asked must be in 1..3"):
        synthetic.generate_creatures(synthetic.CreaturesConfig(asked=4))
    with pytest.raises(ValueError, match="train_wordings"):
        synthetic.generate_creatures(synthetic.CreaturesConfig(train_wordings=4))
    with pytest.raises(ValueError, match="unknown generated task 'dice'"):
        synthetic.ensure_generated("dice")
