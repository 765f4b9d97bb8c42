"""The plots: epochs on the x axis of every panel as whole numbers; legends beside the bars, not over them."""

from __future__ import annotations

import pytest

from hubtools import plots
from hubtools.results import EpochScores


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plot functions save, kept open for inspection."""
    saved: list = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig) or path)
    yield saved
    for fig in saved:
        plots.plt.close(fig)


def history(epochs: int) -> list[EpochScores]:
    return [EpochScores(epoch=float(e), step=10 * e, training_loss=1 / e, validation_loss=1.2 / e, precision=0.5,
                        recall=0.4, f1=0.45) for e in range(1, epochs + 1)]


def x_ticks(ax) -> list[float]:
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


@pytest.mark.parametrize("plot", ["training_curves", "compare_curves"])
def test_epoch_axes_have_whole_number_ticks(figures, tmp_path, plot):
    if plot == "training_curves":
        plots.training_curves(history(4), tmp_path / "curves.png")
    else:
        plots.compare_curves({"A": history(4), "B": history(3)}, tmp_path / "curves.png")
    (fig,) = figures
    for ax in fig.axes:
        fig.canvas.draw()
        ticks = x_ticks(ax)
        assert ticks and all(t == int(t) for t in ticks), (ax.get_xlabel(), ticks)
        assert ax.get_xlabel() == "epoch"


def test_the_entity_distribution_legend_covers_no_bar(figures, tmp_path):
    counts = {"train": {"LOC": 1650, "ORG": 1610, "PER": 1480, "MISC": 920},
              "validation": {"LOC": 205, "ORG": 212, "PER": 160, "MISC": 98},
              "test": {"LOC": 207, "ORG": 176, "PER": 188, "MISC": 92}}
    plots.entity_distribution(counts, tmp_path / "entities.png")
    (fig,) = figures
    fig.canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent()
    assert not any(bar.get_window_extent().overlaps(legend) for bar in ax.patches)
