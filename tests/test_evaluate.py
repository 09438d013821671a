"""Metrics, paired tests, results records, paper comparison, and the train/evaluate command line."""
from __future__ import annotations

import json
import math

import pytest

from helpers.decode import Prediction
from helpers.evaluate import accuracy_ci, mcnemar, metrics, results_record
from helpers.paper_numbers import PAPER_NUMBERS, paper_table, reported
from helpers.profiles import get_profile


def _preds(correct, prefix="q", none_at=()):
    out = []
    for i, c in enumerate(correct):
        pred = None if i in none_at else ("A" if c else "B")
        out.append(Prediction(f"{prefix}{i:03d}", "A", pred, [f"text {i}"], {pred: 1} if pred else {}, 3))
    return out


def test_accuracy_ci_matches_the_normal_approximation():
    x = [1] * 154 + [0] * 124                                  # 278 dev questions, 55.4%
    acc, lo, hi = accuracy_ci(x, seed=0)
    half = 1.96 * math.sqrt(acc * (1 - acc) / len(x))          # ±5.8 points, as in the quick trial
    assert acc == pytest.approx(154 / 278)
    assert lo == pytest.approx(acc - half, abs=0.01) and hi == pytest.approx(acc + half, abs=0.01)
    assert accuracy_ci(x, seed=0) == (acc, lo, hi)             # seeded
    assert accuracy_ci([1, 1, 1]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        accuracy_ci([])


def test_metrics_fields_and_no_answer_rate():
    m = metrics(_preds([1, 1, 0, 0], none_at=(3,)))
    assert {"accuracy", "ci_low", "ci_high", "n", "no_answer_rate"} <= set(m)
    assert m["accuracy"] == 0.5 and m["n"] == 4 and m["no_answer_rate"] == 0.25
    assert m["pred_counts"] == {"A": 2, "B": 1, "none": 1}


def test_mcnemar_exact_hand_computed():
    # 10 questions only A gets right, 2 only B: p = 2 * P(X >= 10 | n=12, 1/2) = 2 * 79/4096
    a = [1] * 10 + [0] * 2 + [1] * 5
    b = [0] * 10 + [1] * 2 + [1] * 5
    r = mcnemar(a, b)
    assert (r["a_only"], r["b_only"], r["n"]) == (10, 2, 17)
    assert r["p_value"] == pytest.approx(2 * 79 / 4096)
    assert mcnemar([1, 0], [1, 0])["p_value"] == 1.0


def test_results_record_is_stamped_and_roundtrips():
    preds = _preds([1, 0, 1])
    rec = results_record(condition="scotd", task="quarel", split="dev", seed=0, preds=preds,
                         profile=get_profile("smoke"), models={"student": "smollm2-135m@x"},
                         decode={"method": "greedy"})
    prov = rec["provenance"]
    assert prov["profile"] == "smoke" and prov["models"]["student"] == "smollm2-135m@x"
    assert "git_commit" in prov and prov["seed"] == 0
    back = json.loads(json.dumps(rec))["predictions"]
    assert [Prediction(**{k: v for k, v in d.items() if k != "correct"}) for d in back] == preds


def test_paper_numbers_are_the_reported_ones():
    assert reported("SCoTD", "Table 2(b)", "quarel", "scotd", setting="supervised") == 83.8
    assert reported("SCoTD", "Table 2(b)", "csqa", "label_only", setting="few_shot") == 62.7
    assert reported("SCoTD", "Table 3(b)", "obqa", "scotd", decode="sc", variant="N=20") == 59.8
    assert reported("Wadhwa", "Table 1", "quarel", "cot_after", model="GPT-2") == 71.04
    assert reported("Wadhwa", "Table 2", "csqa", "shuffled_before", model="Phi-1.5") == 19.37
    assert reported("Wadhwa", "Table 3", "obqa", "key_tokens", model="GPT-2", variant="ig_top15") == 74.86
    assert all(r["citation"] and 0 <= r["value"] <= 100 for r in PAPER_NUMBERS)
    assert len(paper_table(table="Table 2(b)")) == 18


def test_cli_train_then_evaluate(tmp_path, monkeypatch):
    """`python -m helpers train` (SCoTD from a saved corpus) then `evaluate` on the saved student."""
    from helpers.cli import main
    from helpers.corpus import Corpus, CorpusEntry, Sample, save_corpus
    from helpers.rationales import load_rationales
    from helpers.tasks import load_task

    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    exs = load_task("quarel", "train", limit=2)
    recs = load_rationales("mario_gpt3", "quarel", "train", examples=load_task("quarel", "train"))
    corpus = Corpus([CorpusEntry(ex, [Sample(r.k, r.rationale, r.label) for r in recs[ex.id][:2]]) for ex in exs],
                    {"task": "quarel", "teacher": "replay:mario_gpt3"})
    save_corpus(corpus, tmp_path / "corpus.jsonl")
    out = tmp_path / "student"
    assert main(["train", "--task", "quarel", "--corpus", str(tmp_path / "corpus.jsonl"), "--target", "scotd",
                 "--model", "smollm2-135m", "--profile", "smoke", "--max-steps", "1", "--out", str(out)]) == 0
    meta = json.loads((out / "cotlab_student.json").read_text())
    assert meta["info"]["target"] == "scotd" and meta["global_steps"] == 1
    res = tmp_path / "results.json"
    assert main(["evaluate", "--task", "quarel", "--split", "dev", "--model", str(out), "--decode", "sc",
                 "--n", "2", "--limit", "2", "--max-new-tokens", "8", "--out", str(res)]) == 0
    r = json.loads(res.read_text())
    assert {"accuracy", "ci_low", "ci_high", "n", "no_answer_rate"} <= set(r)
    assert r["n"] == 2 and r["condition"] == "scotd" and len(r["predictions"][0]["texts"]) == 2
    assert r["provenance"]["models"]["student"].startswith("student:")


def test_raw_completions_are_the_samples_as_generated():
    """What notebooks 01 and 06 commit beside their tables: the first sample of the first n questions, verbatim,
    with its answer, the gold one and why it ended."""
    from helpers.corpus import sample_corpus
    from helpers.evaluate import raw_completions
    from helpers.tasks import load_task
    from helpers.teacher import teacher_from_name
    exs = load_task("coinflip", "train")[:7]
    corpus = sample_corpus(teacher_from_name("scripted:0.3", task="coinflip"), exs, n=2, progress=False, cache=None)
    raw = raw_completions(corpus, 5, role="teacher")
    assert [r["id"] for r in raw] == [e.id for e in exs[:5]]
    for r, e in zip(raw, corpus.entries):
        s = e.samples[0]
        assert r == {"role": "teacher", "id": e.example.id, "gold": e.example.answer, "answer": s.label,
                     "finish_reason": s.finish_reason, "completion": s.raw.strip()}
    assert len(raw_completions(corpus, 100)) == 7 and raw_completions(corpus, 0) == []
