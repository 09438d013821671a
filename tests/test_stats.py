"""The statistics home: the headline test honours seed variance, p and interval always agree."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from helpers import stats

REPO = Path(__file__).resolve().parents[1]


def _seeds_with_effects(effects, q=200, base=0.5, rng=None):
    """A (seeds × questions) pair of correctness matrices: per seed, condition A is right on ``base + e``
    of the questions where B is right on ``base`` (each seed's effect ``e`` is exact, on its own questions)."""
    rng = rng or np.random.default_rng(0)
    a, b = [], []
    for e in effects:
        bb = (rng.random(q) < base).astype(float)
        aa = bb.copy()
        k = int(round(abs(e) * q))
        if e > 0:
            idx = rng.choice(np.flatnonzero(bb == 0), size=k, replace=False)
            aa[idx] = 1
        elif e < 0:
            idx = rng.choice(np.flatnonzero(bb == 1), size=k, replace=False)
            aa[idx] = 0
        a.append(aa)
        b.append(bb)
    return np.array(a), np.array(b)


def test_an_effect_that_flips_sign_across_seeds_is_not_significant():
    # Table 3(b)'s old case: per-seed differences +13 / -29.5 / +37.5 points, each huge at the question level
    a, b = _seeds_with_effects([0.13, -0.295, 0.375])
    t = stats.seed_test(a, b)
    assert t["per_seed_diff"] == pytest.approx([0.13, -0.295, 0.375])
    assert t["seed_level"] and t["df"] < 3                     # dominated by the 3 seeds' disagreement
    assert t["p_value"] > 0.3
    assert t["diff_ci_low"] < 0 < t["diff_ci_high"]
    # ... while the question-level permutation test (conditional on these students) calls it significant
    assert stats.question_permutation_p((a - b).mean(axis=0)) < 0.05
    # every seed's McNemar test is significant too, with signs that disagree
    signs = [np.sign(stats.mcnemar(a[i], b[i])["diff"]) for i in range(3)]
    assert signs == [1, -1, 1]


def test_an_effect_every_seed_agrees_on_is_significant():
    a, b = _seeds_with_effects([0.25, 0.30, 0.28])
    t = stats.seed_test(a, b)
    assert t["p_value"] < 0.01 and t["diff_ci_low"] > 0.1
    assert t["diff"] == pytest.approx(np.mean([0.25, 0.30, 0.28]), abs=0.01)


def test_with_large_seed_variance_it_is_the_paired_t_test_over_seeds():
    # seeds disagree strongly, questions contribute little: the test is ttest_rel over per-seed accuracies
    a, b = _seeds_with_effects([0.05, 0.15, 0.25, 0.10, 0.20], q=1000, base=0.3)
    t = stats.seed_test(a, b)
    ref = sps.ttest_rel(a.mean(axis=1), b.mean(axis=1))
    assert t["p_value"] == pytest.approx(ref.pvalue, rel=0.35)
    ci = ref.confidence_interval()
    assert t["diff_ci_low"] == pytest.approx(ci.low, abs=0.03) and t["diff_ci_high"] == pytest.approx(ci.high, abs=0.03)


def test_p_below_alpha_exactly_when_the_interval_excludes_zero():
    rng = np.random.default_rng(3)
    for _ in range(200):
        s, q = rng.integers(1, 6), rng.integers(5, 60)
        a = (rng.random((s, q)) < rng.random()).astype(float)
        b = (rng.random((s, q)) < rng.random()).astype(float)
        t = stats.seed_test(a, b)
        if t["p_value"] is None:
            continue
        excludes = t["diff_ci_low"] > 0 or t["diff_ci_high"] < 0
        assert (t["p_value"] < 0.05) == excludes, t
        assert stats.consistent(t["p_value"], t["diff_ci_low"], t["diff_ci_high"])


def test_one_seed_is_labelled_and_degenerate_cases_are_defined():
    a, b = _seeds_with_effects([0.2])
    t = stats.seed_test(a, b)
    assert not t["seed_level"] and "one seed" in t["test"]
    same = np.ones((3, 10))
    t0 = stats.seed_test(same, same)
    assert t0["diff"] == 0 and t0["p_value"] == 1.0 and t0["diff_ci_low"] == t0["diff_ci_high"] == 0
    t1 = stats.seed_test(np.ones((3, 10)), np.zeros((3, 10)))    # no variance at all: nothing to test with
    assert t1["diff"] == 1 and t1["p_value"] is None
    with pytest.raises(ValueError, match="same seeds and questions"):
        stats.seed_test(np.ones((3, 10)), np.ones((2, 10)))


def test_seed_mean_ci_widens_with_seed_disagreement():
    rng = np.random.default_rng(1)
    q = 200
    agree = np.array([(rng.random(q) < 0.7) for _ in range(3)], float)
    spread = np.array([(rng.random(q) < p) for p in (0.5, 0.7, 0.9)], float)
    _, lo1, hi1 = stats.seed_mean_ci(agree)
    _, lo2, hi2 = stats.seed_mean_ci(spread)
    assert hi2 - lo2 > 2 * (hi1 - lo1)
    m, lo, hi = stats.seed_mean_ci(np.full((3, 50), 0.0))
    assert (m, lo, hi) == (0.0, 0.0, 0.0)


def test_mcnemar_exact_hand_computed_and_signed():
    a = [1] * 10 + [0] * 2 + [1] * 5
    b = [0] * 10 + [1] * 2 + [1] * 5
    r = stats.mcnemar(a, b)
    assert (r["a_only"], r["b_only"], r["n"]) == (10, 2, 17)
    assert r["p_value"] == pytest.approx(2 * 79 / 4096) and r["diff"] == pytest.approx(8 / 17)
    assert stats.mcnemar(b, a)["diff"] == pytest.approx(-8 / 17)


def test_ratio_ci_resamples_clusters():
    num = [5, 0, 5, 0, 5, 0, 5, 0]        # questions all right or all wrong: the CoTs are not independent
    den = [5] * 8
    v, lo, hi = stats.ratio_ci(num, den)
    assert v == 0.5 and hi - lo > 0.4      # 8 clusters, not 40 independent CoTs
    assert stats.ratio_ci([1, 1], [2, 2]) == (0.5, 0.5, 0.5)


def test_item_difference_is_consistent_and_labelled_conditional():
    rng = np.random.default_rng(0)
    r = stats.item_difference(rng.normal(0.5, 0.2, size=30))
    assert r["p_value"] < 0.001 and r["diff_ci_low"] > 0 and r["conditional_on_students"]
    r0 = stats.item_difference(rng.normal(0.0, 0.2, size=30))
    assert stats.consistent(r0["p_value"], r0["diff_ci_low"], r0["diff_ci_high"])
    band = stats.column_band(np.array([[0.1, 0.9], [0.3, 0.7]]))
    assert band["mean"] == pytest.approx([0.2, 0.8]) and band["lo"][0] <= 0.2 <= band["hi"][0]


def _p_ci_pairs(obj, path=""):
    """Every (p, ci_low, ci_high) that stands together in a results record."""
    if isinstance(obj, dict):
        for pk, lo, hi in (("p_value", "diff_ci_low", "diff_ci_high"),
                           ("vs_baseline_p", "vs_baseline_diff_ci_low", "vs_baseline_diff_ci_high")):
            if pk in obj and lo in obj and hi in obj:
                yield path, obj[pk], obj[lo], obj[hi]
        for k, v in obj.items():
            yield from _p_ci_pairs(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _p_ci_pairs(v, f"{path}[{i}]")


def test_no_committed_result_prints_p_below_005_beside_an_interval_spanning_zero():
    files = sorted((REPO / "results").rglob("*.json"))
    assert files
    bad, n = [], 0
    for f in files:
        for path, p, lo, hi in _p_ci_pairs(json.loads(f.read_text())):
            n += 1
            if not stats.consistent(p, lo, hi):
                bad.append(f"{f.relative_to(REPO)}{path}: p={p:.3g}, CI [{lo:.3g}, {hi:.3g}]")
    assert n > 20
    assert not bad, "\n".join(bad[:20])


def test_restat_recomputes_a_saved_table_from_its_stored_predictions(tmp_path):
    """A table saved with old statistics is rewritten from the per-student predictions stored with it: the
    numbers equal what summarize gives now; a row whose baseline was not stored loses its comparison, with
    a note, and keeps its accuracy."""
    from helpers import protocol, results
    from helpers.decode import Prediction
    rng = np.random.default_rng(5)
    per_student = []
    for seed in (0, 1, 2):
        base = rng.random(100) < 0.5
        for cond, corr in (("label_only", base), ("greedy_cot", base | (rng.random(100) < 0.3 + 0.2 * seed))):
            preds = [Prediction(f"q{i:03d}", "A", "A" if c else "B", ["t"]) for i, c in enumerate(corr)]
            per_student.append({"condition": cond, "seed": seed, "accuracy": float(np.mean(corr)), "n": 100,
                                "preds": preds, "train_steps": 10})
    fresh = protocol.summarize(per_student, baseline="label_only")
    stale = [dict(r, ci_low=0.0, ci_high=1.0, p_value=5e-5, diff_ci_low=-1.0, diff_ci_high=1.0) if "diff" in r
             else dict(r) for r in fresh]
    stale.append(dict(fresh[1], condition="prompted", baseline="other", p_value=5e-5))   # baseline not stored
    rec = {"title": "t", "columns": ["condition"], "rows": stale,
           "per_student": [{**r, "preds": [{"id": p.id, "gold": p.gold, "pred": p.pred, "correct": p.correct}
                                           for p in r["preds"]]} for r in per_student]}
    path = tmp_path / "course" / "t.json"
    path.parent.mkdir()
    path.write_text(json.dumps(rec))
    assert results.restat_profile("course", tmp_path) == ["t.json"]
    got = json.loads(path.read_text())
    cot = next(r for r in got["rows"] if r["condition"] == "greedy_cot")
    want = next(r for r in fresh if r["condition"] == "greedy_cot")
    for k in ("diff", "diff_ci_low", "diff_ci_high", "p_value", "ci_low", "ci_high", "p_questions"):
        assert cot[k] == pytest.approx(want[k]), k
    assert cot["per_seed_diff"] == pytest.approx(want["per_seed_diff"])
    prompted = next(r for r in got["rows"] if r["condition"] == "prompted")
    assert prompted["p_value"] is None and "not re-tested" in prompted["stat_note"]
    assert prompted["accuracy"] == want["accuracy"] and "restat" in got
    assert (path.with_suffix(".md")).read_text().count("p_questions") == 1
