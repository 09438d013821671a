"""The protocol's statistics and the results layer, on predictions whose answers are known."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from helpers import protocol as P
from helpers import results
from helpers.decode import Prediction
from helpers.profiles import PROFILES, get_profile


def preds(correct: list[bool], prefix: str = "q") -> list[Prediction]:
    return [Prediction(f"{prefix}{i:03d}", "A", "A" if c else "B", ["x"]) for i, c in enumerate(correct)]


def row(condition: str, seed: int, correct: list[bool], **kw) -> dict:
    ps = preds(correct)
    acc = float(np.mean(correct))
    return {"condition": condition, "seed": seed, "preds": ps, "accuracy": acc, "train_steps": 10,
            "pred_counts": {"A": sum(correct), "B": len(correct) - sum(correct)}, **kw}


def test_summarize_per_seed_mean_diff_and_tests():
    rng = np.random.default_rng(0)
    n = 200
    rows = []
    for seed in (0, 1, 2):
        base = rng.random(n) < 0.5
        better = base | (rng.random(n) < 0.6)          # strictly more right answers, paired
        rows += [row("label_only", seed, list(base)), row("scotd", seed, list(better), train_accuracy=0.9)]
    s = {r["condition"]: r for r in P.summarize(rows, baseline="label_only")}
    lo, sc = s["label_only"], s["scotd"]
    assert lo["seeds"] == [0, 1, 2] and len(lo["per_seed"]) == 3
    assert sc["accuracy"] == pytest.approx(np.mean(sc["per_seed"]))
    assert sc["ci_low"] < sc["accuracy"] < sc["ci_high"]
    assert sc["diff"] == pytest.approx(sc["accuracy"] - lo["accuracy"])
    assert sc["diff_ci_low"] > 0 and sc["p_value"] < 0.001 and all(p < 0.001 for p in sc["p_per_seed"])
    assert "diff" not in lo and sc["train_accuracy"] == pytest.approx(0.9)


def test_control_splits_get_their_own_seed_level_table():
    """``on_split`` re-points scored rows at a control split (its predictions, its gold log-odds) so that
    ``summarize`` tests that split by seed just as the reported one; a row without the split is refused."""
    rng = np.random.default_rng(1)
    rows = []
    for seed in (0, 1, 2):
        key_lo, key_after = rng.random(100) < 0.5, rng.random(100) < 0.8
        seen = rng.random(50) < 0.95                    # both learned what labels taught
        for cond, key in (("label_only", key_lo), ("cot_after", key_after)):
            r = row(cond, seed, list(key))
            r["splits"] = {"dev_seen": {"preds": [{"id": x.id, "gold": x.gold, "pred": x.pred, "correct": x.correct}
                                                   for x in preds(list(seen), "s")]}}
            r["gold_margin"] = {"dev": 0.1 * seed, "dev_seen": 2.0 + seed}
            r["gold_margin_split"] = r["gold_margin"]["dev"]
            rows.append(r)
    key = {r["condition"]: r for r in P.summarize(P.on_split(rows, None), baseline="label_only")}
    seen = {r["condition"]: r for r in P.summarize(P.on_split(rows, "dev_seen"), baseline="label_only")}
    assert key["cot_after"]["diff"] > 0.15 and key["cot_after"]["p_value"] < 0.05
    assert seen["cot_after"]["n"] == 50 and seen["cot_after"]["diff"] == 0.0     # the same answers on dev_seen
    assert seen["label_only"]["gold_margin_split"] == pytest.approx(3.0)        # mean of 2, 3, 4
    assert key["label_only"]["gold_margin_split"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no control split 'dev_new'.*dev_seen"):
        P.on_split(rows, "dev_new")
    d = P.Decodes([["a"], ["b"]], ["eval:greedy", "dev_seen"])
    assert d.controls({"dev_seen": ["q"]}) == {"dev_seen": (["q"], ["b"])}
    import pickle
    assert pickle.loads(pickle.dumps(d)).named == d.named


def test_no_effect_is_not_significant():
    rng = np.random.default_rng(1)
    rows = []
    for seed in (0, 1, 2):
        rows += [row("a", seed, list(rng.random(150) < 0.5)), row("b", seed, list(rng.random(150) < 0.5))]
    s = {r["condition"]: r for r in P.summarize(rows, baseline="a")}
    assert s["b"]["p_value"] > 0.05 and s["b"]["diff_ci_low"] < 0 < s["b"]["diff_ci_high"]


def test_summarize_headline_p_honours_seed_variance():
    """An effect huge on every seed's questions but flipping sign across seeds: the headline p (seeds and
    questions) is not significant, the question-level p beside it is, and the per-seed differences are signed."""
    rng = np.random.default_rng(4)
    rows = []
    for seed, shift in enumerate((0.3, -0.3, 0.3)):
        base = rng.random(200) < 0.5
        better = base.copy()
        flip = rng.choice(np.flatnonzero(~base if shift > 0 else base), size=60, replace=False)
        better[flip] = shift > 0
        rows += [row("a", seed, list(base)), row("b", seed, list(better))]
    s = {r["condition"]: r for r in P.summarize(rows, baseline="a")}["b"]
    assert s["per_seed_diff"] == pytest.approx([0.3, -0.3, 0.3])
    assert s["p_value"] > 0.3 and s["diff_ci_low"] < 0 < s["diff_ci_high"] and s["seed_level"]
    assert s["p_questions"] < 0.05          # conditional on these students only
    assert s["steps"] == [10, 10, 10] and s["converged"] is None     # fixed steps: no convergence recorded


def test_summarize_refuses_different_questions_and_unmatched_budgets():
    a = row("label_only", 0, [True, False])
    b = row("scotd", 0, [True, True])
    b["preds"] = preds([True, True], prefix="other")
    with pytest.raises(ValueError, match="different questions"):
        P.summarize([a, b])
    with pytest.raises(ValueError, match="unmatched training budgets"):
        P.check_matched([a, dict(b, train_steps=11)])
    assert P.check_matched([a, a]) == 10


def test_majority_baseline():
    class Ex:
        def __init__(self, a):
            self.answer = a
    m = P.majority_baseline([Ex("B"), Ex("B"), Ex("A")], [Ex("B"), Ex("A"), Ex("B"), Ex("B")])
    assert m["answer"] == "B" and m["accuracy"] == 0.75 and m["condition"] == "majority class"


def test_split_train_is_disjoint_and_sized():
    p = get_profile("course").protocol()
    train, held = P.split_train(p)
    assert len(train) == p.n_train and len(held) == p.n_heldout
    assert not {e.id for e in train} & {e.id for e in held}
    dev = P.eval_examples(p)
    assert len(dev) == 200 and not {e.id for e in dev} & {e.id for e in train}
    with pytest.raises(ValueError, match="n_train"):
        P.split_train(get_profile("course", distill={"n_train": 10_000}).protocol())


def test_setup_is_the_protocols_questions_corpus_and_majority(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    prof = get_profile("smoke")
    p = prof.protocol()
    s = P.setup(p, teacher=prof.teacher, n_samples=2)
    train, held = P.split_train(p)
    assert [e.id for e in s.train] == [e.id for e in train] and [e.id for e in s.heldout] == [e.id for e in held]
    assert [e.id for e in s.dev] == [e.id for e in P.eval_examples(p)]
    assert [e.example.id for e in s.corpus.entries] == [e.id for e in train + held]
    assert [e.example.id for e in s.train_corpus.entries] == [e.id for e in train]   # no held-out CoT in training
    assert all(len(e.samples) == 2 for e in s.corpus.entries)
    assert s.majority == P.majority_baseline(train, s.dev)
    assert f"{len(train)} training questions" in s.describe() and p.budget.describe() in s.describe()


def test_every_condition_gets_the_same_training_config():
    p = get_profile("course").protocol()
    c0, c1 = p.train_config(0), p.train_config(1)
    assert c0.max_steps == p.budget.steps > 0 and c0.warmup_ratio == p.budget.warmup_ratio
    assert {k: v for k, v in c0.key_fields().items() if k != "seed"} == \
        {k: v for k, v in c1.key_fields().items() if k != "seed"}


def test_the_training_window_widens_to_hold_the_longest_pair():
    p = get_profile("course").protocol()
    assert p.train_config(0, longest_pair=p.max_seq_len).max_seq_len == p.max_seq_len
    assert p.train_config(0, longest_pair=p.max_seq_len + 1).max_seq_len == p.max_seq_len + 32
    assert p.train_config(0, longest_pair=p.max_seq_len + 33).max_seq_len == p.max_seq_len + 64


def test_long_targets_get_a_wide_window_and_a_decode_budget_that_holds_them(tmp_path, monkeypatch):
    """Masked rationales ("[MASK]" is several tokens) are far longer than the profile's decode budget and
    training window: a real (tiny) student trained on them sees every pair whole, records its longest
    completion, and is decoded with at least that many new tokens (the decode's cache record says so); a
    short-target student keeps the profile's settings."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    from helpers import config, targets
    from helpers.models import load_tokenizer
    from helpers.train import _completion_lengths, longest as longest_of, pair_token_counts
    prof = get_profile("smoke")
    p = P.replace(prof.protocol(), max_seq_len=96)
    s = P.setup(p, teacher=prof.teacher, n_samples=1)
    masked = targets.pairs_from_corpus(s.train_corpus, "masked_before", seed=0, p=1.0)
    short = targets.pairs_from_corpus(s.train_corpus, "label_only", seed=0)
    tok = load_tokenizer(p.student)
    full = _completion_lengths(tok, masked)
    assert pair_token_counts(p.student, masked) == full
    longest = longest_of(full)
    assert longest == {"max_pair_tokens": max(f for _, f in full),
                       "max_completion_tokens": max(f - n for n, f in full)}
    assert longest["max_completion_tokens"] > p.max_new_tokens and longest["max_pair_tokens"] > p.max_seq_len

    student = P.fit(p, masked, seed=0, info={"condition": "masked_before"}, train=s.train, heldout=s.heldout)
    window = student.meta["train_config"]["max_seq_len"]
    assert longest["max_pair_tokens"] <= window < longest["max_pair_tokens"] + 32
    assert student.meta["n_truncated"] == 0
    assert student.meta["max_completion_tokens"] == longest["max_completion_tokens"]
    assert P.decode_budget(p, student) == longest["max_completion_tokens"]
    P.decode(p, student, s.dev[:2], seed=0, condition="masked_before")
    [rec] = [json.loads(f.read_text()) for f in (config.cache_dir() / "decodes").glob("*.json")]
    assert rec["student"] == student.key and rec["params"]["max_new_tokens"] == longest["max_completion_tokens"]

    plain = P.fit(p, short, seed=0, info={"condition": "label_only"}, train=s.train, heldout=s.heldout)
    assert plain.meta["train_config"]["max_seq_len"] == p.max_seq_len
    assert P.decode_budget(p, plain) == p.max_new_tokens


def test_token_counts_count_the_reserved_filler_as_one_token():
    from helpers.targets import RESERVED_FILLER, Pair
    from helpers.train import longest, pair_token_counts

    def token_lengths(student, pairs):
        return longest(pair_token_counts(student, pairs))
    student = get_profile("smoke").student
    one = token_lengths(student, [Pair("Q: x\nA:", f" {RESERVED_FILLER} So the answer is (a).", "filler", "q0", "A")])
    many = token_lengths(student, [Pair("Q: x\nA:", f" {RESERVED_FILLER * 5} So the answer is (a).", "filler",
                                        "q0", "A")])
    assert many["max_completion_tokens"] - one["max_completion_tokens"] == 4
    with pytest.raises(ValueError, match="no training pairs"):
        token_lengths(student, [])


def test_profiles_are_consistent():
    for name, prof in PROFILES.items():
        assert prof.seeds and prof.protocol().budget.steps > 0, name
        json.dumps(prof.to_dict())
        if name != "smoke":
            assert len(prof.seeds) >= 3 and prof.distill.eval_limit is None, name   # full dev, 3 seeds
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("nope")
    with pytest.raises(ValueError, match="unknown field"):
        get_profile("course", distill={"nope": 1})
    p = get_profile("course", seeds=[0], distill={"budget": {"steps": 7}})
    assert p.seeds == (0,) and p.distill.budget.steps == 7 and p.distill.budget.lr == PROFILES["course"].distill.budget.lr


def test_strict_json_csv_and_markdown(tmp_path):
    rec = {"a": float("nan"), "b": np.float64(0.5), "c": (1, 2), "p": preds([True])[0], "inf": math.inf}
    path = results.write_record(tmp_path / "r.json", rec)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back == {"a": None, "b": 0.5, "c": [1, 2], "p": {"id": "q000", "gold": "A", "pred": "A", "correct": True},
                    "inf": None}
    results.write_csv(tmp_path / "r.csv", [{"accuracy": 0.123456789, "per_seed": [0.1, 0.2], "x": None,
                                            "p_gold": 1.234567e-8}])
    r = next(csv.DictReader(open(tmp_path / "r.csv")))
    # six significant digits: a logit-lens probability of 1e-8 is not rounded to 0
    assert r == {"accuracy": "0.123457", "per_seed": "[0.1, 0.2]", "x": "", "p_gold": "1.23457e-08"}
    # a table of values without an accuracy column shows every scalar it stores (nothing dropped)
    md = results.rows_markdown([{"lens": "logit", "layer": 3, "mean_p_gold": 2.5e-9, "n_items": 48, "preds": [1]}],
                               ["lens", "layer"])
    assert md.splitlines()[0] == "| lens | layer | mean_p_gold | n_items |" and "| logit | 3 | 2.5e-09 | 48 |" in md
    md = results.markdown_table([{"condition": "scotd", "accuracy": 0.5, "per_seed": [0.4, 0.6], "p_value": 0.0123}],
                                ["condition", "per_seed", "accuracy", "p_value"])
    assert "| scotd | 40.0 / 60.0 | 50.0 | 0.0123 |" in md


def test_run_save_table_writes_json_csv_md(tmp_path, monkeypatch):
    monkeypatch.setenv("COTLAB_RESULTS", str(tmp_path))
    run = results.Run("99_test", get_profile("smoke"))
    rows = P.summarize([row("label_only", 0, [True, False]), row("scotd", 0, [True, True])])
    run.save_table("t", rows, title="T", columns=["condition"])
    rec = json.loads((tmp_path / "smoke" / "t.json").read_text())
    assert rec["provenance"]["profile"] == "smoke" and rec["provenance"]["git_commit"]
    assert rec["rows"][1]["condition"] == "scotd" and (tmp_path / "smoke" / "t.md").exists()
    assert results.load_table("smoke", "t", tmp_path)["title"] == "T"


def test_paper_lookups():
    assert results.paper_value("2b", task="quarel", setting="supervised", condition="scotd") is not None
    assert results.paper_value("2b", task="coinflip", setting="supervised", condition="scotd") is None
    with pytest.raises(KeyError):
        results.paper_value("9z", task="quarel")


def test_check_matched_under_early_stopping():
    a, b = row("label_only", 0, [True, False]), row("scotd", 0, [True, True])
    budget = P.Budget(steps=12, eval_every=2)
    conv = {"converged": True, "stopped_by": "patience"}
    assert P.check_matched([dict(a, train_steps=6, **conv), dict(b, train_steps=12, **conv)], budget) == 12
    with pytest.raises(ValueError, match="did not converge"):
        P.check_matched([dict(a, train_steps=6, **conv), dict(b, train_steps=12, converged=False, stopped_by="cap")],
                        budget)
    assert P.check_matched([dict(a, train_steps=6), dict(b, train_steps=12)], budget, why="smoke") == 12
    with pytest.raises(ValueError, match="outside the budget"):
        P.check_matched([dict(a, train_steps=14), b], budget)
    assert "early stopping on the held-out slice of train" in budget.describe()
    assert "early stopping" not in P.Budget(steps=12).describe()


def test_fit_stops_early_on_the_heldout_slice_of_train(tmp_path, monkeypatch):
    """A real (tiny) student under an early-stopping budget: the held-out slice of *train* is decoded every
    K steps, training stops after ``patience`` evaluations without improvement, and it refuses to run
    without that slice (never the dev split)."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    from helpers import targets
    from helpers.corpus import sample_corpus
    from helpers.teacher import teacher_from_name
    prof = get_profile("smoke", distill={"budget": {"steps": 8, "eval_every": 2, "patience": 1, "threshold": 1.01,
                                                    "rule": "heldout"}})
    p = prof.protocol()
    train, held = P.split_train(p)
    corpus = sample_corpus(teacher_from_name(prof.teacher, task=p.task), train, n=2, progress=False)
    pairs = targets.pairs_from_corpus(corpus, "greedy_cot")
    with pytest.raises(ValueError, match="heldout="):
        P.fit(p, pairs, seed=0, info={"condition": "greedy_cot"})
    student = P.fit(p, pairs, seed=0, info={"condition": "greedy_cot"}, heldout=held)
    curve = student.meta["dev_curve"]
    # threshold 1.01 can never be met: the first evaluation sets the best, the second exhausts patience 1
    assert [c["step"] for c in curve] == [2, 4] and student.meta["global_steps"] == 4
    assert student.meta["best_step"] == 2
    assert all(0.0 <= c["dev_accuracy"] <= 1.0 for c in curve)


def test_fit_by_the_learned_rule_records_a_learning_curve_and_convergence(tmp_path, monkeypatch):
    """A real (tiny) student trained by the rule "learned" through the units every notebook uses: each
    evaluation decodes the held-out slice and the training questions, records both answer losses, and the
    student records how it stopped; ``check_converged`` passes it and refuses the cap-stopped one."""
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    from helpers import targets
    prof = get_profile("smoke", distill={"budget": {"steps": 12, "eval_every": 2, "patience": 2, "threshold": 1.01,
                                                    "rule": "learned"}})
    p = prof.protocol()
    s = P.setup(p, teacher=prof.teacher, n_samples=2)
    pairs = targets.pairs_from_corpus(s.train_corpus, "greedy_cot", supervised=True)
    u = P.unit(p, pairs, seed=0, info={"condition": "greedy_cot"}, evaluate=s.dev, train=s.train,
               heldout=s.heldout, pairs_for=P.answer_pairs(s.corpus, "greedy_cot"))
    assert [name for name, _, _ in u.probes] == ["train", "heldout"]
    (student, (preds, *_)), = P.run_units(p, {"a": u}, n_workers=1, progress=False).values()
    curve = student.meta["dev_curve"]
    # threshold 1.01 is never met: the first evaluation sets the marks, two more exhaust patience 2
    assert [c["step"] for c in curve] == [2, 4, 6] and student.meta["stopped_by"] == "patience"
    assert student.meta["converged"] is True and student.meta["global_steps"] == 6
    assert all({"train_accuracy", "answer_loss_train", "answer_loss_heldout"} <= set(c) for c in curve)
    assert all(c["answer_loss_heldout"] > 0 for c in curve)
    row = P.score(p, student, preds, s.dev, condition="greedy_cot", seed=0, train=s.train, heldout=s.heldout)
    assert row["converged"] is True and row["stopped_by"] == "patience" and row["dev_curve"] == curve
    assert P.check_converged([row])["converged"] == 1
    capped = dict(row, converged=False, stopped_by="cap", train_steps=12)
    with pytest.raises(ValueError, match="did not converge.*greedy_cot seed 0 \\(cap, 12 steps\\)"):
        P.check_converged([row, capped])
    assert P.check_converged([row, capped], why="smoke")["why"] == "smoke"
    assert "until neither its held-out accuracy nor its accuracy on its own training" in p.budget.describe()
    # the train-slice requirement (min_train_accuracy): the same student where, replayed on its recorded curve, it
    # changes nothing; a new one where it would have trained on (the student never fitted its training questions)
    import json
    from dataclasses import replace

    from helpers import train as T
    req = replace(p, budget=replace(p.budget, min_train_accuracy=0.9))
    assert "not before it answers 90% of its own training questions right" in req.budget.describe()
    lengths = T.longest(T.pair_token_counts(p.student, pairs))
    cfg = req.train_config(0, longest_pair=lengths["max_pair_tokens"],
                           longest_completion=lengths["max_completion_tokens"])
    assert T.student_key(p.student, pairs, cfg) != student.key          # the requirement is part of the key
    meta_path = student.path / T.STUDENT_META
    meta = json.loads(meta_path.read_text())
    for acc, same in ((0.5, False), (1.0, True)):
        meta["dev_curve"] = [dict(c, train_accuracy=acc) for c in curve]
        meta_path.write_text(json.dumps(meta))
        got = T.same_student_under_rule(p.student, pairs, cfg)
        assert (got is not None) == same, acc
    assert got.key == student.key and got.meta["same_under_rule"]["stop_step"] == 6
    (again, (again_preds, *_)), = P.run_units(req, {"a": P.unit(req, pairs, seed=0, info={"condition": "greedy_cot"}, evaluate=s.dev,
                                                 train=s.train, heldout=s.heldout,
                                                 pairs_for=P.answer_pairs(s.corpus, "greedy_cot"))},
                               n_workers=1, progress=False).values()
    assert again.key == student.key                                    # reused, not retrained
    row = P.score(req, again, again_preds, s.dev, condition="greedy_cot", seed=0)
    assert row["same_under_rule"] == {"min_train_accuracy": 0.9, "stop_step": 6, "best_step": student.meta["best_step"]}
    # the notebooks' loop after run_units: fit finds the cached student from its pairs alone
    assert P.fit(p, pairs, seed=0, info={"condition": "greedy_cot"}).key == student.key
    # without the training questions the rule cannot be followed: a clear error, not a silent held-out rule
    bare = P.unit(p, pairs, seed=1, info={"condition": "greedy_cot"}, heldout=s.heldout)
    with pytest.raises(ValueError, match="'learned' stop rule needs the training questions"):
        P.run_units(p, {"b": bare}, n_workers=1, progress=False)


def test_run_units_in_two_workers_fill_the_cache_in_order(tmp_path, monkeypatch):
    """Two real (tiny) students trained and decoded by two worker processes: results come back under
    their keys, in the units' order, and afterwards ``fit`` and ``decode`` — the notebook's own loop — find every student
    and every decode in the cache (nothing is trained or decoded twice), the answer-first student's
    stop-at-answer decodes included."""
    from helpers import targets
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    prof = get_profile("smoke")
    p = prof.protocol()
    s = P.setup(p, teacher=prof.teacher, n_samples=2)
    conds = ("cot_after", "label_only")
    units = {(c, 1): P.unit(p, targets.pairs_from_corpus(s.train_corpus, c, seed=1), seed=1, info={"condition": c},
                            evaluate=s.dev, train=s.train, heldout=s.heldout) for c in conds}
    assert [len(u.decodes) for u in units.values()] == [3, 3]   # dev + the diagnostics' train and held-out decodes
    out = P.run_units(p, units, n_workers=2, progress=False)
    assert list(out) == [("cot_after", 1), ("label_only", 1)]
    decode_files = sorted((tmp_path / "cache" / "decodes").glob("*.json"))
    assert len(decode_files) == 6
    for (c, _), result in out.items():
        u = units[c, 1]
        student, decodes = result                 # a UnitResult unpacks as (student, decodes) and names them
        assert isinstance(result, P.UnitResult) and result.student is student and result.decodes is decodes
        # through the worker process and back, the decodes keep their names
        assert isinstance(decodes, P.Decodes) and list(decodes.named) == ["eval:greedy", "train", "heldout"]
        assert decodes.named["heldout"] is decodes[2]
        assert student.meta["info"]["condition"] == c and student.meta["train_config"]["seed"] == 1
        again = P.fit(p, list(u.pairs), seed=1, info=u.info)
        assert again.reused and again.key == student.key
        for (examples, method), preds in zip(u.decodes, decodes):
            assert [x.id for x in preds] == [e.id for e in examples]
            assert P.decode(p, again, list(examples), method, seed=1, condition=c) == preds
            assert P.decode(p, again, list(examples), method, seed=1) == preds     # the student says how
        # the score() diagnostics decode exactly what the unit decoded
        P.score(p, again, decodes[0], s.dev, condition=c, seed=1, train=s.train, heldout=s.heldout)
    assert sorted((tmp_path / "cache" / "decodes").glob("*.json")) == decode_files


def test_run_units_raises_a_workers_error_as_it_was(tmp_path, monkeypatch):
    from helpers.models import ModelError
    from helpers.targets import Pair
    monkeypatch.setenv("COTLAB_CACHE", str(tmp_path / "cache"))
    p = get_profile("smoke").protocol()
    bad = P.Unit((Pair("Q: x\nA:", " So the answer is (a).", "label_only", "q0", "A"),), seed=0,
                 info={"condition": "label_only"})
    with pytest.raises(ModelError, match="no-such-student"):
        P.run_units(P.replace(p, student="no-such-student"), {"a": bad, "b": bad}, n_workers=2, progress=False)


def test_run_units_takes_a_mapping():
    p = get_profile("smoke").protocol()
    with pytest.raises(TypeError, match="mapping key → Unit"):
        P.run_units(p, [], n_workers=1, progress=False)


@pytest.mark.parametrize("value, expect", [(None, 1), ("1", 1), ("3", 3), (" 2 ", 2)])
def test_workers_from_the_environment(monkeypatch, value, expect):
    if value is None:
        monkeypatch.delenv("COTLAB_WORKERS", raising=False)
    else:
        monkeypatch.setenv("COTLAB_WORKERS", value)
    assert P.workers() == expect


def test_workers_auto_and_bad_values(monkeypatch):
    import os

    import torch
    monkeypatch.setenv("COTLAB_WORKERS", "auto")
    assert P.workers() == (1 if torch.cuda.is_available() or (os.cpu_count() or 1) < 2 else 2)
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("COTLAB_WORKERS", bad)
        with pytest.raises(ValueError, match="COTLAB_WORKERS"):
            P.workers()


def test_an_unknown_setting_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"distill.sc_settings: unknown setting\(s\) \['few-shot'\]; valid: "
                                         r"\['supervised', 'few_shot'\]"):
        get_profile("course", distill={"sc_settings": ["supervised", "few-shot"]})
    with pytest.raises(ValueError, match="distill.curve_setting"):
        get_profile("course", distill={"curve_setting": "fewshot"})
    assert get_profile("course").distill.sc_settings == ("supervised",)
    assert get_profile("lab").distill.sc_settings == ("supervised", "few_shot")


def test_a_student_says_what_it_was_trained_on():
    """``decode`` reads how to decode a student from the student itself: its pairs' condition, else what its
    trainer was told; a CoT-after student stops at its answer without being told."""
    from helpers.train import Student
    after = Student(None, "k", {"conditions": ["cot_after"], "info": {"condition": "cot_after"}})
    before = Student(None, "k", {"conditions": ["greedy_cot"], "info": {"condition": "cot_before"}})
    told = Student(None, "k", {"info": {"condition": "label_only"}})
    unknown = Student(None, "k", {"conditions": ["a", "b"], "info": {"condition": "k=4"}})
    assert [P.student_condition(s) for s in (after, before, told, unknown)] == ["cot_after", "greedy_cot",
                                                                                 "label_only", None]
    assert P.writes_after_answer("cot_after") and not P.writes_after_answer("greedy_cot")


def test_every_block_declares_its_protocol_through_one_constructor():
    """Protocol.from_block: each profile block and sweep setting passes every Protocol field it declares (so a field
    added to a block reaches the protocol without a hand-written copy), and what a block fixes wins."""
    from dataclasses import fields, replace

    from helpers import sweep
    prof = get_profile("course")
    blocks = [(prof.distill, lambda b: b.protocol(prof)), (prof.contrast, lambda b: b.protocol(prof)),
              (prof.unseen, lambda b: b.protocol(prof)),
              (sweep.GRIDS["creatures-confirm"][0], lambda b: b.protocol())]
    proto_fields = {f.name for f in fields(P.Protocol)}
    checked = 0
    for block, build in blocks:
        fixed = {"contrast": {"task", "n_heldout", "eval_split", "n_diag_train"},
                 "unseen": {"task", "n_train", "n_heldout", "n_diag_train"}}.get(
            {id(prof.contrast): "contrast", id(prof.unseen): "unseen"}.get(id(block), ""), set())
        for f in fields(block):
            if f.name in proto_fields and f.name not in fixed | {"student", "seeds", "budget", "task", "eval_split"}:
                value = getattr(block, f.name)
                other = (not value) if isinstance(value, bool) else (7 if value is None else
                                                                      type(value)(value * 2 + 1))
                assert getattr(build(replace(block, **{f.name: other})), f.name) == other, f.name
                checked += 1
    assert checked >= 15
    assert prof.contrast.protocol(prof).n_heldout == 0 and prof.unseen.protocol(prof).task == prof.unseen.eval_task
    assert prof.distill.protocol(prof).seeds == prof.seeds and prof.distill.protocol(prof).student == prof.student
