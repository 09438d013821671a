"""Accuracy figures: every one carries the majority-class and chance lines it is given, on a percent axis."""
from __future__ import annotations

import pytest

from helpers import plots


def _row(condition, acc, **kw):
    return {"condition": condition, "accuracy": acc, "ci_low": acc - 0.05, "ci_high": acc + 0.05,
            "per_seed": [acc - 0.02, acc, acc + 0.02], **kw}


ROWS = [_row("label_only", 0.5, n_fillers=0, n_rationales=1, decode="greedy", model="a"),
        _row("scotd", 0.8, n_fillers=4, n_rationales=5, decode="greedy", model="a")]


def _labels(fig):
    ax = fig.axes[0]
    return ax, ax.get_legend_handles_labels()[1]


@pytest.mark.parametrize("draw", [
    lambda: plots.seed_points(ROWS, majority=0.45, chance=0.5, title="t"),
    lambda: plots.metric_curve(ROWS, x="n_fillers", majority=0.45, chance=0.5, refs={"cot_before": 0.7}, title="t"),
    lambda: plots.scaling_curve(ROWS, x="n_rationales", hue="condition", majority=0.45, chance=0.5, title="t"),
], ids=["seed_points", "metric_curve", "scaling_curve"])
def test_accuracy_figures_show_majority_and_chance(draw):
    fig = draw()
    ax, labels = _labels(fig)
    assert "majority class" in labels and "chance" in labels     # 0.45 and 0.5: two lines
    assert ax.get_ylim() == (0, 105) and ax.get_ylabel() == "accuracy (%)" and ax.get_title() == "t"
    # the legend sits outside the axes, on the right
    assert ax.get_legend() is not None and ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
    plots._plt().close(fig)


def test_lines_are_left_out_when_not_given():
    fig = plots.accuracy_bars(ROWS, group="model", bar="condition")
    ax, labels = _labels(fig)
    assert "chance" not in labels and "majority class" not in labels and ax.get_ylim() == (0, 100)
    fig2 = plots.rationales_curve(ROWS, chance=0.5)
    assert "chance" in _labels(fig2)[1]
    plots._plt().close(fig)
    plots._plt().close(fig2)


def test_a_majority_class_at_chance_is_one_line_that_says_so():
    fig = plots.seed_points(ROWS, majority=0.5, chance=0.5)
    labels = _labels(fig)[1]
    assert "majority class = chance (50%)" in labels and "chance" not in labels and "majority class" not in labels
    plots._plt().close(fig)


CONDS = ["label_only", "greedy_cot", "scotd", "cot_before", "cot_after"]
CROWS = [_row(c, 0.5 + 0.05 * i, n_fillers=i, model="m") for i, c in enumerate(CONDS)]


def _legend_colors(fig):
    """Display label → the colour its legend handle is drawn in (bars: face colour, lines: line colour)."""
    from matplotlib.colors import to_hex
    out = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            color = h.patches[0].get_facecolor() if hasattr(h, "patches") else (
                h.get_facecolor() if hasattr(h, "get_facecolor") and not hasattr(h, "get_color") else h.get_color())
            out[lab] = to_hex(color)
    return out


@pytest.mark.parametrize("draw", [
    lambda: plots.accuracy_bars(CROWS, group="model", bar="condition"),
    lambda: plots.metric_curve(CROWS, x="n_fillers", hue="condition"),
    lambda: plots.scaling_curve(CROWS, x="n_fillers", hue="condition"),
    lambda: plots.lens_figure({"logit lens": {c: {"mean": [0.1, 0.5], "lo": [0, 0.4], "hi": [0.2, 0.6]} for c in CONDS}}),
], ids=["accuracy_bars", "metric_curve", "scaling_curve", "lens_figure"])
def test_every_figure_draws_a_condition_in_its_palette_colour(draw):
    """One colour per condition in every figure: Greedy-CoT (= CoT before the label) is the same blue in 03, 05,
    10 and 11, label-only the same grey."""
    from matplotlib.colors import to_hex
    fig = draw()
    colors = _legend_colors(fig)
    for c in CONDS:
        assert colors[plots.label("condition", c)] == to_hex(plots.COLORS[c]), c
    plots._plt().close(fig)


def test_seed_points_bars_take_their_conditions_colour():
    from matplotlib.colors import to_hex
    fig = plots.seed_points(CROWS)
    bars = [p for p in fig.axes[0].patches if p.get_height() > 0]
    assert [to_hex(b.get_facecolor()) for b in bars] == [to_hex(plots.COLORS[c]) for c in CONDS]
    assert plots.COLORS["cot_before"] == plots.COLORS["greedy_cot"]      # the same students
    plots._plt().close(fig)
