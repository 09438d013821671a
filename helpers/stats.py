"""Statistics, one home: every interval and p-value the suite prints comes from here.

The question a distillation table answers is about *training*: would another run of the same recipe
(another seed) on another sample of questions give the same difference? So the headline test of every
comparison honours both sources of variance — seeds and questions:

* :func:`seed_test` — the paired difference of two conditions trained on the same seeds and scored on the
  same questions (``seeds × questions`` correctness matrices). Its standard error adds the variance of the
  per-seed differences (training: ``s²_seeds / S``) and of the per-question seed-averaged differences
  (question sampling: ``s²_questions / Q``); the t statistic has Welch–Satterthwaite degrees of freedom,
  so with 3 seeds whose differences disagree it has ≈ 2 and the interval is wide, and with seeds that
  agree the question term dominates. When the seeds' differences vary and the question term is
  negligible it is ``scipy.stats.ttest_rel`` over the per-seed accuracies. The p-value and the interval
  come from the same t distribution, so ``p < 0.05`` exactly when the 95% interval excludes 0.
  With a single seed the seed term cannot be estimated: the test is then over questions only, and
  ``seed_level`` says so.
* :func:`seed_mean_ci` — a condition's mean accuracy over seeds with the same two-level interval.
* :func:`question_permutation_p` — the paired sign-flip permutation test over questions of the
  seed-averaged differences (``scipy.stats.permutation_test``): a *secondary* column, conditional on the
  trained students (its null is about these students, not about training).
* :func:`mcnemar` — exact McNemar test of one seed's pair of students (signed by ``a_only``/``b_only``).
* :func:`accuracy_ci` — one student's accuracy with a percentile bootstrap interval over questions.
* :func:`ratio_ci` — a ratio of sums with a bootstrap over clusters (a teacher's N CoTs per question).
* :func:`item_difference` — per-item paired differences of one student pair (e.g. a lens's P(gold) by
  question): mean, bootstrap interval, permutation p; conditional on the students, labelled so.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

ALPHA = 0.05
N_BOOT = 10_000
N_PERM = 9_999
TEST_NAME = "paired t over seeds and questions (Satterthwaite df)"
TEST_NAME_ONE_SEED = "paired t over questions (one seed: training variance not estimable)"


def _matrix(m: Any) -> np.ndarray:
    a = np.asarray(m, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected a non-empty seeds × questions matrix, got shape {a.shape}")
    return a


def _two_level(m: np.ndarray, confidence: float) -> dict[str, Any]:
    """Mean of a seeds × questions matrix with its two-level standard error, df, interval and p (mean 0)."""
    from scipy import stats
    s, q = m.shape
    mean = float(m.mean())
    seed_var = float(m.mean(axis=1).var(ddof=1)) / s if s > 1 else 0.0
    q_var = float(m.mean(axis=0).var(ddof=1)) / q if q > 1 else 0.0
    var = seed_var + q_var
    out: dict[str, Any] = {"mean": mean, "se": math.sqrt(var), "se_seeds": math.sqrt(seed_var),
                           "se_questions": math.sqrt(q_var), "n_seeds": s, "n_questions": q,
                           "seed_level": s > 1, "test": TEST_NAME if s > 1 else TEST_NAME_ONE_SEED}
    if var == 0.0:                                  # every seed and question identical: nothing varies
        out.update(df=None, ci_low=mean, ci_high=mean, p_value=1.0 if mean == 0 else None)
        return out
    denom = (seed_var ** 2 / (s - 1) if s > 1 else 0.0) + (q_var ** 2 / (q - 1) if q > 1 else 0.0)
    df = var ** 2 / denom if denom > 0 else float("inf")
    crit = float(stats.t.ppf(0.5 + confidence / 2, df))
    t = mean / math.sqrt(var)
    out.update(df=float(df), ci_low=mean - crit * math.sqrt(var), ci_high=mean + crit * math.sqrt(var),
               p_value=float(2 * stats.t.sf(abs(t), df)), t=float(t))
    return out


def seed_test(a: Any, b: Any, *, confidence: float = 0.95) -> dict[str, Any]:
    """The headline paired test of condition A against B: ``a`` and ``b`` are seeds × questions correctness
    matrices (rows: the same seeds in the same order; columns: the same questions). Returns ``diff`` (mean
    of A − B), ``diff_ci_low``/``diff_ci_high``, ``p_value`` (two-sided), ``df``, ``per_seed_diff`` (signed,
    one per seed), ``se_seeds``/``se_questions`` (the two parts of the standard error), ``seed_level``
    (False with one seed) and ``test`` (its name). ``p_value`` is None when nothing varies but the
    difference is not 0 (every seed and question differs by the same amount: no variance to test with)."""
    ma, mb = _matrix(a), _matrix(b)
    if ma.shape != mb.shape:
        raise ValueError(f"seed_test needs matrices of the same seeds and questions, got {ma.shape} and {mb.shape}")
    r = _two_level(ma - mb, confidence)
    return {"diff": r["mean"], "diff_ci_low": r["ci_low"], "diff_ci_high": r["ci_high"], "p_value": r["p_value"],
            "df": r["df"], "se_seeds": r["se_seeds"], "se_questions": r["se_questions"],
            "per_seed_diff": [float(x) for x in (ma - mb).mean(axis=1)], "n_seeds": r["n_seeds"],
            "n_questions": r["n_questions"], "seed_level": r["seed_level"], "test": r["test"]}


def seed_mean_ci(m: Any, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, ci_low, ci_high)`` of one condition's accuracy over seeds (a seeds × questions matrix), with
    the two-level interval of :func:`seed_test`, clipped to [0, 1]."""
    r = _two_level(_matrix(m), confidence)
    return r["mean"], max(0.0, r["ci_low"]), min(1.0, r["ci_high"])


def question_permutation_p(d: Any, *, seed: int = 0, n_resamples: int = N_PERM) -> float:
    """Two-sided paired sign-flip permutation test over questions of mean(``d``) = 0 (``d``: per-question
    differences, e.g. seed-averaged). Conditional on the trained students: not a test of training."""
    from scipy import stats
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    if d.size <= 1:                     # nothing, or one difference: every sign flip is as extreme
        return 1.0
    res = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=n_resamples,
                                 alternative="two-sided", rng=np.random.default_rng(seed), vectorized=True)
    return float(res.pvalue)


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test on two aligned correctness vectors (same examples, same order).

    ``a_only``: A right and B wrong; ``b_only``: the reverse; ``diff``: (a_only − b_only) / n, the signed
    accuracy difference; ``p_value``: two-sided exact binomial test of ``a_only`` out of the discordant
    pairs at 0.5 (1.0 when there are none)."""
    from scipy.stats import binomtest
    xa, xb = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if xa.shape != xb.shape:
        raise ValueError(f"McNemar needs aligned vectors, got {xa.shape} and {xb.shape}")
    a_only, b_only = int((xa & ~xb).sum()), int((~xa & xb).sum())
    p = 1.0 if a_only + b_only == 0 else float(binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"n": int(xa.size), "a_only": a_only, "b_only": b_only, "diff": (a_only - b_only) / max(int(xa.size), 1),
            "p_value": p}


def accuracy_ci(correct: Sequence[Any], *, confidence: float = 0.95, n_resamples: int = N_BOOT,
                seed: int = 0) -> tuple[float, float, float]:
    """``(accuracy, ci_low, ci_high)`` of one student: percentile bootstrap over examples
    (``scipy.stats.bootstrap``, seeded). ``correct``: booleans or objects with ``.correct``."""
    from scipy.stats import bootstrap
    x = np.array([getattr(c, "correct", c) for c in correct], dtype=float)
    if x.size == 0:
        raise ValueError("no predictions to score")
    acc = float(x.mean())
    if x.min() == x.max():          # all right or all wrong: every resample has the same mean
        return acc, acc, acc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", rng=np.random.default_rng(seed), vectorized=True)
    return acc, float(res.confidence_interval.low), float(res.confidence_interval.high)


def ratio_ci(num: Sequence[float], den: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 4000,
             seed: int = 0) -> tuple[float, float, float]:
    """``(sum(num)/sum(den), ci_low, ci_high)`` with a percentile bootstrap over clusters (rows resampled
    together: e.g. a question's correct CoTs over its CoTs)."""
    from scipy.stats import bootstrap
    n, d = np.asarray(num, float), np.asarray(den, float)
    if n.shape != d.shape or n.size == 0:
        raise ValueError(f"ratio_ci needs aligned non-empty arrays, got {n.shape} and {d.shape}")
    value = float(n.sum() / d.sum())
    if n.size == 1 or np.allclose(n / d, value):
        return value, value, value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap((n, d), lambda x, y, axis=-1: x.sum(axis=axis) / y.sum(axis=axis), paired=True,
                        confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                        rng=np.random.default_rng(seed), vectorized=True)
    return value, float(res.confidence_interval.low), float(res.confidence_interval.high)


def column_band(m: Any, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict[str, list[float]]:
    """Column means of an items × columns matrix (e.g. questions × layers) with a percentile bootstrap
    interval over items (rows resampled together, so columns keep their pairing): ``{"mean", "lo", "hi"}``."""
    m = np.asarray(m, dtype=float)
    rng = np.random.default_rng(seed)
    boot = m[rng.integers(0, len(m), size=(n_resamples, len(m)))].mean(axis=1)
    a = (1 - confidence) / 2
    return {"mean": m.mean(axis=0).tolist(), "lo": np.quantile(boot, a, axis=0).tolist(),
            "hi": np.quantile(boot, 1 - a, axis=0).tolist()}


def item_difference(d: Any, *, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Per-item paired differences ``d`` of *one* pair of students (e.g. P(gold) at one layer, CoT student −
    no-CoT student on the same questions): the mean with a one-sample t interval and its p
    (``scipy.stats.ttest_1samp``: p < 0.05 exactly when the interval excludes 0) and the sign-flip
    permutation p (:func:`question_permutation_p`). Both are conditional on these students
    (``conditional_on_students``: True) — with several seeds use :func:`seed_test`."""
    from scipy import stats
    d = np.asarray(d, dtype=float)
    if d.size == 0:
        raise ValueError("item_difference needs at least one difference")
    mean = float(d.mean())
    lo = hi = mean
    p: float | None = 1.0 if mean == 0 else None
    if d.size > 1 and d.min() != d.max():
        r = stats.ttest_1samp(d, 0.0)
        ci = r.confidence_interval(confidence)
        lo, hi, p = float(ci.low), float(ci.high), float(r.pvalue)
    return {"mean_diff": mean, "diff_ci_low": lo, "diff_ci_high": hi, "p_value": p,
            "p_permutation": question_permutation_p(d, seed=seed), "n_paired": int(d.size),
            "test": "one-sample t over questions (conditional on the students)", "conditional_on_students": True}


def consistent(p: float | None, lo: float | None, hi: float | None, alpha: float = ALPHA) -> bool:
    """Whether a p-value and its interval agree: never ``p < alpha`` beside an interval that spans 0."""
    if p is None or lo is None or hi is None:
        return True
    return not (p < alpha and lo <= 0 <= hi)
