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
    lambda: plots.seed_points(ROWS, majority=0.5, chance=0.5, title="t"),
    lambda: plots.metric_curve(ROWS, x="n_fillers", majority=0.5, chance=0.5, refs={"cot_before": 0.7}, title="t"),
    lambda: plots.scaling_curve(ROWS, x="n_rationales", hue="condition", majority=0.5, chance=0.5, title="t"),
], ids=["seed_points", "metric_curve", "scaling_curve"])
def test_accuracy_figures_show_majority_and_chance(draw):
    fig = draw()
    ax, labels = _labels(fig)
    assert "majority class" in labels and "chance" in labels
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
