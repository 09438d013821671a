"""Figures for the notebooks, one function per figure kind.

* :func:`savefig` writes a figure as PNG + PDF under :func:`helpers.config.figures_dir` (the runner
  points ``COTLAB_FIGURES`` at ``figures/`` for ``course`` and at ``runs/smoke/figures/`` for CI);
  :meth:`helpers.results.Run.finish` checks that every promised figure was written by this run.
* The method diagram (:func:`method_figure`), accuracy bars with 95% CIs and the paper's numbers as
  markers (:func:`accuracy_bars`), per-seed summaries (:func:`seed_points`), corpus statistics
  (:func:`corpus_figure`), accuracy against the number of rationales (:func:`rationales_curve`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .results import FORMATS, LABELS, _WRITTEN, figure_paths, label  # noqa: F401 (re-exported)

# one colour per condition, everywhere
# (CoT before the label *is* Greedy-CoT — the same students in notebooks 03, 10 and 11 — so it shares its colour)
COLORS = {"label_only": "#9e9e9e", "greedy_cot": "#64b5f6", "scotd": "#1565c0",
          "cot_before": "#64b5f6", "cot_after": "#2e7d32", "majority class": "#e0e0e0",
          "no_cot": "#9e9e9e", "greedy": "#64b5f6", "sc": "#1565c0",
          "teacher": "#ef6c00", "student": "#1565c0"}
def _plt():
    import matplotlib
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # an interactive backend already in use (JupyterLab): keep it
            pass
    import matplotlib.pyplot as plt
    return plt


def savefig(fig: Any, name: str, *, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``<figures>/<name>.png`` and ``.pdf`` (atomic renames); return the paths."""
    out = []
    for path in figure_paths(name):
        tmp = path.with_name(f".{path.stem}.tmp.{path.suffix.lstrip('.')}")
        # no creation date in the PDF, so re-drawing an unchanged figure leaves an identical file
        meta = {"Creator": "cotlab"} if path.suffix == ".png" else {"Creator": "cotlab", "CreationDate": None}
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip("."), metadata=meta)
        tmp.replace(path)
        out.append(path)
    _WRITTEN.extend(out)
    return out


# --------------------------------------------------------------------------------------- figures

def method_figure():
    """SCoTD in one picture: questions → teacher → corpus C → student → decode → accuracy."""
    plt = _plt()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(14, 2.9))
    ax.set_xlim(0, 14)
    ax.set_ylim(0.45, 3.35)
    ax.axis("off")
    boxes = [
        ("Unlabeled\nquestions x", "helpers.tasks", "#eceff1"),
        ("Teacher T\nfew-shot CoT prompt P\nsample N CoTs, T=1.0", "helpers.teacher\nhelpers.prompts", "#ffe0b2"),
        ("Corpus C\n{(x, ŷₖ, zₖ)}ₖ₌₁..N\nfilter: ŷₖ = y (supervised)", "helpers.corpus", "#fff9c4"),
        ("Student S\nfine-tune on\nx → zₖ ŷₖ", "helpers.targets\nhelpers.train", "#bbdefb"),
        ("Decode\ngreedy, or\nself-consistency (k votes)", "helpers.decode", "#c8e6c9"),
        ("Accuracy\n95% CI, paired test\nvs paper", "helpers.evaluate", "#e1bee7"),
    ]
    w, h, gap, y = 2.0, 1.75, 0.33, 1.05
    for i, (text, mod, color) in enumerate(boxes):
        x = 0.15 + i * (w + gap)
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.04,rounding_size=0.12",
                                    fc=color, ec="#37474f", lw=1.2))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.6)
        ax.text(x + w / 2, y - 0.18, mod, ha="center", va="top", fontsize=7.8, family="monospace",
                color="#455a64")
        if i < len(boxes) - 1:
            ax.add_patch(FancyArrowPatch((x + w + 0.02, y + h / 2), (x + w + gap - 0.02, y + h / 2),
                                         arrowstyle="-|>", mutation_scale=14, lw=1.4, color="#37474f"))
    ax.text(7.0, 3.3, "Symbolic Chain-of-Thought Distillation (SCoTD, Li et al. 2023)", ha="center",
            va="top", fontsize=12, weight="bold")
    return fig


def _ci_err(rows: Sequence[dict[str, Any]]) -> list[list[float]]:
    lo = [100 * (r["accuracy"] - r["ci_low"]) for r in rows]
    hi = [100 * (r["ci_high"] - r["accuracy"]) for r in rows]
    return [lo, hi]


def _baselines(ax: Any, majority: float | None = None, chance: float | None = None,
               chance_style: str = ":") -> None:
    """The reference lines every accuracy figure carries: the majority class and chance (fractions). Where they
    coincide (the coin flip: 50% and 50%) one line says so, rather than one line hiding the other."""
    if majority is not None and chance is not None and abs(majority - chance) < 0.005:
        ax.axhline(100 * chance, color="#c62828", ls="--", lw=1, label=f"majority class = chance ({100 * chance:.0f}%)")
        return
    if majority is not None:
        ax.axhline(100 * majority, color="#6a1b9a", ls="--", lw=1, label="majority class")
    if chance is not None:
        ax.axhline(100 * chance, color="#c62828", ls=chance_style, lw=1, label="chance")


def _finish(fig: Any, ax: Any, *, title: str = "", xlabel: str | None = None, ylabel: str | None = "accuracy (%)",
            ylim: tuple[float, float] | None = (0, 105), grid: str = "both"):
    """Axis labels, limits, title, the legend outside on the right, a light grid, tight layout."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis=grid, alpha=0.3)
    fig.tight_layout()
    return fig


def accuracy_bars(rows: Sequence[dict[str, Any]], *, group: str, bar: str, title: str = "",
                  chance: float | None = None, group_order: Sequence[str] | None = None,
                  bar_order: Sequence[str] | None = None, ylabel: str = "accuracy (%)"):
    """Grouped bars of ``accuracy`` (×100) with 95% CI error bars; the paper's number (``paper``,
    a percentage, may be None) as a black diamond on each bar; ``chance`` (a fraction) as a line."""
    plt = _plt()
    groups = list(group_order or dict.fromkeys(r[group] for r in rows))
    bars = list(bar_order or dict.fromkeys(r[bar] for r in rows))
    width = 0.8 / max(1, len(bars))
    fig, ax = plt.subplots(figsize=(2.6 + 1.9 * len(groups), 3.8))
    paper_plotted = False
    for j, b in enumerate(bars):
        sel = [(i, r) for i, g in enumerate(groups) for r in rows if r[group] == g and r[bar] == b]
        if not sel:
            continue
        xs = [i - 0.4 + width * (j + 0.5) for i, _ in sel]
        rs = [r for _, r in sel]
        ax.bar(xs, [100 * r["accuracy"] for r in rs], width * 0.92, yerr=_ci_err(rs), capsize=3,
               color=COLORS.get(b, None), label=label(bar, b), edgecolor="#263238", lw=0.6)
        for x, r in zip(xs, rs):
            ax.text(x, 1.5, f"{100 * r['accuracy']:.1f}", ha="center", va="bottom", fontsize=7,
                    color="white" if b in ("scotd", "sc", "student") else "black", rotation=90)
            if r.get("paper") is not None:
                ax.plot([x], [r["paper"]], marker="D", color="black", ms=5, ls="none",
                        label=None if paper_plotted else "paper")
                paper_plotted = True
    _baselines(ax, chance=chance, chance_style="--")
    ax.set_xticks(range(len(groups)), [label(group, g) for g in groups])
    return _finish(fig, ax, title=title, ylabel=ylabel, ylim=(0, 100), grid="y")


def seed_points(rows: Sequence[dict[str, Any]], *, x: str = "condition", hue: str | None = None,
                title: str = "", majority: float | None = None, chance: float | None = None,
                order: Sequence[str] | None = None, ylabel: str = "accuracy (%)"):
    """Summary rows (:func:`helpers.protocol.summarize`): a bar per row at the mean over seeds with its
    95% interval (seeds and questions resampled), each seed's accuracy as a dot, the paper's number
    (``paper``, %) as a black diamond, and the majority-class baseline and chance as lines."""
    plt = _plt()
    xs_vals = list(order or dict.fromkeys(r[x] for r in rows))
    hues = list(dict.fromkeys(r[hue] for r in rows)) if hue else [None]
    width = 0.8 / len(hues)
    fig, ax = plt.subplots(figsize=(2.4 + 1.3 * len(xs_vals) * max(1, len(hues)) ** 0.5, 3.8))
    paper_done = False
    for j, h in enumerate(hues):
        for i, v in enumerate(xs_vals):
            r = next((r for r in rows if r[x] == v and (hue is None or r[hue] == h)), None)
            if r is None:
                continue
            px = i - 0.4 + width * (j + 0.5)
            key = h if hue else v
            ax.bar([px], [100 * r["accuracy"]], width * 0.9, color=COLORS.get(key, "#90a4ae"), edgecolor="#263238",
                   lw=0.6, yerr=[[100 * (r["accuracy"] - r["ci_low"])], [100 * (r["ci_high"] - r["accuracy"])]],
                   capsize=3, label=label(hue, h) if hue and i == 0 else None)
            seeds = r.get("per_seed") or []
            ax.plot([px] * len(seeds), [100 * a for a in seeds], "o", color="black", ms=3.5, alpha=0.7,
                    label="seeds" if (i == 0 and j == 0) else None)
            ax.text(px, 2, f"{100 * r['accuracy']:.1f}", ha="center", va="bottom", fontsize=7, rotation=90)
            if r.get("paper") is not None:
                ax.plot([px], [r["paper"]], "D", color="black", ms=5, label=None if paper_done else "paper")
                paper_done = True
    _baselines(ax, majority, chance)
    ax.set_xticks(range(len(xs_vals)), [label(x, v) for v in xs_vals], fontsize=8)
    return _finish(fig, ax, title=title, ylabel=ylabel, grid="y")


def corpus_figure(stats: Sequence[dict[str, Any]], lengths: dict[str, Sequence[int]] | None = None):
    """Corpus statistics, one bar per corpus: teacher accuracy, supervised discard rate (paper's as a
    marker) and, if given, the distribution of rationale lengths in words."""
    plt = _plt()
    n_panels = 3 if lengths else 2
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 3.6))
    names = [s.get("corpus") or s.get("name") or "?" for s in stats]
    xs = range(len(stats))
    ax = axes[0]
    ax.bar(xs, [100 * (s.get("teacher_accuracy") or 0) for s in stats], color="#ef6c00", alpha=0.85)
    ax.set_xticks(list(xs), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("teacher accuracy per CoT (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Teacher accuracy", fontsize=10)
    ax = axes[1]
    ax.bar(xs, [100 * (s.get("discard_rate") or 0) for s in stats], color="#78909c", label="ours")
    for x, s in zip(xs, stats):
        if s.get("paper_discard_rate") is not None:
            ax.plot([x], [100 * s["paper_discard_rate"]], "kD", ms=6,
                    label="paper (GPT-3, N=30)" if x == next(i for i, t in enumerate(stats)
                                                            if t.get("paper_discard_rate") is not None) else None)
    ax.set_xticks(list(xs), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("CoTs discarded by the supervised filter (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Supervised filter: discard rate", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    if lengths:
        ax = axes[2]
        for name, ls in lengths.items():
            if ls:
                ax.hist(list(ls), bins=30, alpha=0.5, label=name, density=True)
        ax.set_xlabel("rationale length (words)")
        ax.set_ylabel("density")
        ax.set_title("Rationale length", fontsize=10)
        ax.legend(fontsize=7.5, frameon=False)
    fig.tight_layout()
    return fig


def rationales_curve(rows: Sequence[dict[str, Any]], paper: dict[str, dict[int, float]] | None = None, *,
                     title: str = "", chance: float | None = None):
    """Accuracy against rationales per example (``n_rationales``), one line per ``decode`` with a 95%
    CI band; ``paper`` maps decode → {n: accuracy %} (dashed lines)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    for dec in dict.fromkeys(r["decode"] for r in rows):
        rs = sorted((r for r in rows if r["decode"] == dec), key=lambda r: r["n_rationales"])
        xs = [r["n_rationales"] for r in rs]
        c = COLORS.get(dec)
        ax.plot(xs, [100 * r["accuracy"] for r in rs], "o-", color=c, label=f"ours, {label('decode', dec)}")
        ax.fill_between(xs, [100 * r["ci_low"] for r in rs], [100 * r["ci_high"] for r in rs], color=c, alpha=0.15)
    for dec, pts in (paper or {}).items():
        xs = sorted(pts)
        ax.plot(xs, [pts[x] for x in xs], "s--", color=COLORS.get(dec), alpha=0.6, ms=4,
                label=f"paper, {label('decode', dec)}")
    _baselines(ax, chance=chance)
    ax.set_xscale("log")
    ticks = sorted({r["n_rationales"] for r in rows} | {x for p in (paper or {}).values() for x in p})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    from matplotlib.ticker import NullFormatter
    ax.xaxis.set_minor_formatter(NullFormatter())      # no "2×10⁰" labels between the N ticks
    return _finish(fig, ax, title=title, xlabel="rationales per training example (N)", ylim=None)


# ------------------------------------------------------------------ Wadhwa et al. (notebooks 10–12)

def metric_curve(rows: Sequence[dict[str, Any]], *, x: str, hue: str | None = None, title: str = "",
                 xlabel: str = "", refs: dict[str, float] | None = None, majority: float | None = None,
                 chance: float | None = None, paper: dict[str, dict[float, float]] | None = None):
    """Summary rows (:func:`helpers.protocol.summarize`) as accuracy against a numeric column ``x`` (e.g.
    ``n_fillers``, ``mask_fraction``), one line per ``hue`` with its 95% band (seeds and questions) and
    each seed as a dot; ``refs`` are horizontal reference lines (label → accuracy in [0, 1], e.g. the CoT
    students), ``paper`` maps hue → {x: accuracy %} (dashed)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    palette = ["#2e7d32", "#81c784", "#1565c0", "#ef6c00", "#6a1b9a"]
    for j, h in enumerate(dict.fromkeys(r.get(hue) for r in rows) if hue else [None]):
        rs = sorted((r for r in rows if hue is None or r.get(hue) == h), key=lambda r: r[x])
        xs = [r[x] for r in rs]
        c = COLORS.get(str(h), palette[j % len(palette)])
        ax.plot(xs, [100 * r["accuracy"] for r in rs], "o-", color=c, label=label(hue, h) if hue else "ours")
        ax.fill_between(xs, [100 * r["ci_low"] for r in rs], [100 * r["ci_high"] for r in rs], color=c, alpha=0.15)
        for r in rs:
            seeds = r.get("per_seed") or []
            ax.plot([r[x]] * len(seeds), [100 * a for a in seeds], ".", color=c, ms=4, alpha=0.6)
    for j, (name, pts) in enumerate((paper or {}).items()):
        xs = sorted(pts)
        ax.plot(xs, [pts[v] for v in xs], "s--", color=COLORS.get(name, palette[j % len(palette)]), alpha=0.5,
                ms=4, label=f"paper, {label(hue, name) if hue else name}")
    styles = ["-.", (0, (5, 2)), (0, (1, 1)), (0, (3, 1, 1, 1))]
    for j, (name, val) in enumerate((refs or {}).items()):
        ax.axhline(100 * val, color=COLORS.get(name, "#37474f"), ls=styles[j % len(styles)], lw=1.2,
                   label=label("condition", name))
    _baselines(ax, majority, chance)
    return _finish(fig, ax, title=title, xlabel=xlabel or x)


def lens_figure(curves: dict[str, dict[str, dict[str, Sequence[float]]]], *, title: str = "",
                threshold: float | None = 0.6):
    """RQ1 Fig. 2: per-layer confidence in the gold label at the label position, one panel per lens
    (``curves[lens][condition] = {"mean": [...], "lo": [...], "hi": [...]}`` over layers 0…L, probabilities)."""
    plt = _plt()
    lenses = list(curves)
    fig, axes = plt.subplots(1, len(lenses), figsize=(4.6 * len(lenses), 3.6), squeeze=False, sharey=True)
    for ax, lens in zip(axes[0], lenses):
        for cond, c in curves[lens].items():
            xs = list(range(len(c["mean"])))
            col = COLORS.get(cond, "#37474f")
            ax.plot(xs, c["mean"], "-", color=col, lw=1.8, label=label("condition", cond))
            ax.fill_between(xs, c["lo"], c["hi"], color=col, alpha=0.15)
        if threshold is not None:
            ax.axhline(threshold, color="#9e9e9e", ls=":", lw=1)
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(lens, fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("P(gold label) at the label position")
    axes[0][-1].legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ SCoTD §3.1.1 human evaluation (notebook 09)

def human_eval_figure(rows: Sequence[dict[str, Any]], stats: Sequence[dict[str, Any]], *, title: str = ""):
    """SCoTD §3.1.1. Left: per subset (``rows`` of :func:`helpers.human_eval.result_rows`), the student's win
    rate among non-tied judgments with its Clopper–Pearson 95% CI, the paper's share (diamond), 50% dashed,
    and the counts student / tie / teacher — or, when no judgments were imported, says so and draws no
    result. Right: what is on the page (``stats``, :func:`helpers.human_eval.pair_stats`): each pair's chain
    length in words, teacher (x) against student (y), marked by whose hidden answer was correct."""
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 4.0), gridspec_kw={"width_ratios": [1.15, 1]})
    ys = list(range(len(rows)))[::-1]
    judged = any(r.get("judgments") for r in rows)
    for y, r in zip(ys, rows):
        if r.get("paper") is not None:
            ax.plot(r["paper"], y - 0.18, "D", color=COLORS["teacher"], ms=7,
                    label="paper (OPT-1.3B + SCoTD vs text-davinci-002)" if y == ys[0] else None)
            ax.text(r["paper"], y - 0.38, f"{r['paper']:.0f}% (N={r.get('paper_n')})", ha="center", va="top", fontsize=7.5,
                    color=COLORS["teacher"])
        if r.get("judgments") and r.get("student_win_rate") is not None:
            w, lo, hi = (100 * r[k] for k in ("student_win_rate", "ci_low", "ci_high"))
            ax.errorbar(w, y + 0.12, xerr=[[w - lo], [hi - w]], fmt="o", color=COLORS["student"], capsize=4, ms=7,
                        label="ours, 95% CI (Clopper–Pearson)" if y == ys[0] else None)
        if r.get("judgments"):
            text = f"student {r['student_better']} / tie {r['tie']} / teacher {r['teacher_better']}" + (
                f"  (binomial p = {r['p_value']:.2g})" if r.get("p_value") is not None else "  (all ties)")
        else:
            text = r.get("student / tie / teacher") or "no human judgments imported"
        ax.text(1, y + 0.36, text, fontsize=8, va="bottom", color="#37474f")
    ax.axvline(50, color="#9e9e9e", ls="--", lw=1)
    ax.set_yticks(ys, [f"{r['subset']}\n({r.get('pairs_on_page', '?')} pairs)" for r in rows], fontsize=8.5)
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.8, len(rows) - 0.2)
    ax.set_xlabel("student's CoT judged better (% of non-tied judgments)")
    ax.set_title("pairwise judgments: SCoTD student vs teacher" if judged else
                 "pairwise judgments: none yet (open page.html, judge, export)", fontsize=9.5)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    groups = {(True, True): ("both correct", "#2e7d32", "o"), (True, False): ("only student correct", COLORS["student"], "^"),
              (False, True): ("only teacher correct", COLORS["teacher"], "v"), (False, False): ("both wrong", "#9e9e9e", "x")}
    top = max([1] + [max(s["student_words"], s["teacher_words"]) for s in stats])
    for key, (name, color, marker) in groups.items():
        pts = [s for s in stats if (s["student_correct"], s["teacher_correct"]) == key]
        if pts:
            bx.scatter([s["teacher_words"] for s in pts], [s["student_words"] for s in pts], c=color, marker=marker,
                       s=30, alpha=0.8, label=f"{name} ({len(pts)})")
    bx.plot([0, top * 1.05], [0, top * 1.05], color="#9e9e9e", ls=":", lw=1)
    bx.set_xlim(0, top * 1.05)
    bx.set_ylim(0, top * 1.05)
    bx.set_xlabel("teacher's chain (words)")
    bx.set_ylabel("student's chain (words)")
    bx.set_title(f"the {len(stats)} pairs on the page (final answers removed)", fontsize=9.5)
    bx.legend(fontsize=7.5, loc="upper left", frameon=False)
    bx.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------- SCoTD §3.3 and §4 (notebooks 05 and 08)

COLORS.update({"full": "#1565c0", "random": "#9e9e9e", "diversity": "#2e7d32", "likelihood": "#ef6c00",
               "open_endedness": "#6a1b9a"})


def scaling_curve(rows: Sequence[dict[str, Any]], *, x: str, hue: str = "condition", title: str = "",
                  xlabel: str = "", order: Sequence[Any] | None = None, log_x: bool = False,
                  percent_x: bool = False, refs: Sequence[dict[str, Any]] = (), majority: float | None = None,
                  chance: float | None = None):
    """Summary rows (:func:`helpers.protocol.summarize`) as accuracy against ``x`` — numeric (CoTs per
    question, share of the training questions) or, given ``order``, categorical (students, in that order) —
    one line per ``hue`` value with its 95% band (seeds, then questions), each seed as a dot and the paper's
    number (``paper``, %) as a black diamond. ``refs``: summary rows drawn as horizontal lines with their
    band (e.g. label-only beside a curve over N); ``majority`` and ``chance`` (fractions) as lines;
    ``percent_x`` labels a numeric ``x`` in [0, 1] as percentages."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.9))
    pos = (lambda v: list(order).index(v)) if order is not None else (lambda v: float(v))
    palette = ["#1565c0", "#64b5f6", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"]
    paper_done = False
    for j, h in enumerate(dict.fromkeys(r.get(hue) for r in rows)):
        rs = sorted((r for r in rows if r.get(hue) == h), key=lambda r: pos(r[x]))
        xs = [pos(r[x]) for r in rs]
        c = COLORS.get(str(h), palette[j % len(palette)])
        ax.plot(xs, [100 * r["accuracy"] for r in rs], "o-", color=c, label=label(hue, h))
        ax.fill_between(xs, [100 * r["ci_low"] for r in rs], [100 * r["ci_high"] for r in rs], color=c, alpha=0.15)
        for px, r in zip(xs, rs):
            seeds = r.get("per_seed") or []
            ax.plot([px] * len(seeds), [100 * a for a in seeds], ".", color=c, ms=5, alpha=0.7)
            if r.get("paper") is not None:
                ax.plot([px], [r["paper"]], "D", color="black", ms=5, label=None if paper_done else "paper")
                paper_done = True
    for j, r in enumerate(refs):
        c = COLORS.get(str(r.get(hue)), "#37474f")
        ax.axhline(100 * r["accuracy"], color=c, ls="-.", lw=1.3, label=label(hue, r.get(hue)))
        ax.axhspan(100 * r["ci_low"], 100 * r["ci_high"], color=c, alpha=0.12)
    _baselines(ax, majority, chance)
    if order is not None:
        ax.set_xticks(range(len(order)), [str(v) for v in order], fontsize=8)
        ax.set_xlim(-0.5, len(order) - 0.5)
    else:
        if log_x:
            ax.set_xscale("log")
        ticks = sorted({r[x] for r in rows})
        ax.set_xticks(ticks, [f"{t:.0%}" if percent_x else f"{t:g}" for t in ticks])
        ax.minorticks_off()
    return _finish(fig, ax, title=title, xlabel=xlabel or x)


def attribution_figure(words: Sequence[str], scores: Sequence[float], *, keep: Sequence[str] = (), title: str = ""):
    """RQ3 (Wadhwa Fig. 5): one rationale's words with their integrated-gradients attribution to
    log p(gold label); the kept key words highlighted."""
    plt = _plt()
    keep_left = list(keep)
    colors = []
    for w in words:                     # mark kept words in order (a word can occur twice)
        if keep_left and w == keep_left[0]:
            colors.append("#ef6c00")
            keep_left.pop(0)
        else:
            colors.append("#90a4ae")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * len(words) + 1.5), 3.4))
    ax.bar(range(len(words)), scores, color=colors, edgecolor="#263238", lw=0.4)
    ax.set_xticks(range(len(words)), words, rotation=70, fontsize=7.5, ha="right")
    ax.axhline(0, color="#263238", lw=0.6)
    ax.set_ylabel("IG attribution")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------- SCoTD §3.4 and §3.5 (notebooks 06 and 07)

COLORS.update({"prompt_no_cot": "#cfd8dc", "prompt_cot": "#ffb74d", "label_only_fewshot": "#bdbdbd",
               "scotd_fewshot": "#0d47a1"})


def contrast_figure(rows: Sequence[dict[str, Any]], gaps: Sequence[dict[str, Any]], *, splits: Sequence[str] = ("original", "contrast"),
                    majority: dict[str, float] | None = None, title: str = ""):
    """SCoTD Fig. 5. Left: accuracy per split (``rows``: :func:`helpers.protocol.summarize` grouped by
    ``split`` and ``condition``), a bar per condition at the mean over seeds with its 95% interval, each
    seed as a dot, the paper's number (``paper``, %) as a black diamond and the majority class of each split
    (``majority``: split → accuracy) as a dashed segment. Right: the paired change original → contrast per
    condition (``gaps``: :func:`helpers.protocol.paired_gap`) with its 95% interval, each seed as a dot and
    the paper's change (``paper_gap``, points) as a diamond."""
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 3.9), gridspec_kw={"width_ratios": [1.5, 1]})
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    width = 0.8 / max(1, len(conds))
    paper_done = False
    for j, c in enumerate(conds):
        for i, sp in enumerate(splits):
            r = next((r for r in rows if r["condition"] == c and r["split"] == sp), None)
            if r is None:
                continue
            px = i - 0.4 + width * (j + 0.5)
            ax.bar([px], [100 * r["accuracy"]], width * 0.9, color=COLORS.get(c, "#90a4ae"), edgecolor="#263238", lw=0.6,
                   yerr=[[100 * (r["accuracy"] - r["ci_low"])], [100 * (r["ci_high"] - r["accuracy"])]], capsize=3,
                   label=label("condition", c) if i == 0 else None)
            seeds = r.get("per_seed") or []
            ax.plot([px] * len(seeds), [100 * a for a in seeds], "o", color="black", ms=3.5, alpha=0.7,
                    label="seeds" if (i == 0 and j == 0) else None)
            ax.text(px, 2, f"{100 * r['accuracy']:.1f}", ha="center", va="bottom", fontsize=7, rotation=90,
                    color="white" if c == "scotd" else "black")
            if r.get("paper") is not None:
                ax.plot([px], [r["paper"]], "D", color="black", ms=5, label=None if paper_done else "paper (test part)")
                paper_done = True
    for i, sp in enumerate(splits):
        if majority and sp in majority:
            ax.plot([i - 0.45, i + 0.45], [100 * majority[sp]] * 2, color="#6a1b9a", ls="--", lw=1,
                    label="majority class" if i == 0 else None)
    ax.set_xticks(range(len(splits)), [f"{sp} reviews" for sp in splits])
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=7.5, loc="lower left", frameon=True, framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("accuracy per split", fontsize=9.5)
    paper_done = False
    for i, g in enumerate(gaps):
        c = g["condition"]
        d = 100 * g["diff"]
        bx.bar([i], [d], 0.6, color=COLORS.get(c, "#90a4ae"), edgecolor="#263238", lw=0.6,
               yerr=[[d - 100 * g["diff_ci_low"]], [100 * g["diff_ci_high"] - d]], capsize=4)
        seeds = g.get("per_seed") or []
        bx.plot([i] * len(seeds), [100 * x for x in seeds], "o", color="black", ms=3.5, alpha=0.7)
        if g.get("paper_gap") is not None:
            bx.plot([i], [g["paper_gap"]], "D", color="black", ms=5, label=None if paper_done else "paper (test part)")
            paper_done = True
    bx.axhline(0, color="#263238", lw=0.8)
    bx.margins(x=0.3, y=0.2)
    lo, hi = bx.get_ylim()
    bx.set_ylim(min(lo, -5), max(hi, 5))
    bx.set_xticks(range(len(gaps)), [label("condition", g["condition"]) for g in gaps], fontsize=8)
    bx.set_ylabel("contrast − original (points)")
    bx.set_title("paired change on the contrast edits (95% CI)", fontsize=9.5)
    bx.grid(axis="y", alpha=0.3)
    if paper_done:
        bx.legend(fontsize=7.5, loc="best", frameon=True, framealpha=0.9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
