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
