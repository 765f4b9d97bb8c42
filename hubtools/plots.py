"""Figures for the run folder and the cards (matplotlib, Agg backend, PNG written atomically)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from hubtools.results import BenchmarkRow, Confusion, EpochScores


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _points(history: Sequence[EpochScores], key: str) -> list[tuple[float, float]]:
    """(epoch, value) of the rows that have ``key``."""
    return [(row.epoch, getattr(row, key)) for row in history if getattr(row, key) is not None]


def training_curves(history: Sequence[EpochScores], path: str | Path, title: str = "") -> Path:
    """Training and validation loss (left) and validation precision/recall/F1 (right) per epoch."""
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = [row.epoch for row in history]
    for key, label in (("training_loss", "training loss"), ("validation_loss", "validation loss")):
        points = _points(history, key)
        if points:
            ax_loss.plot(*zip(*points), marker="o", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    for key in ("precision", "recall", "f1"):
        points = _points(history, key)
        if points:
            ax_f1.plot(*zip(*points), marker="o", label=key)
    ax_f1.set_xlabel("epoch")
    ax_f1.set_ylabel("validation score (entity level)")
    ax_f1.set_ylim(0, 1.02)
    ax_f1.legend()
    ax_f1.grid(alpha=0.3)
    if epochs:
        ticks = epochs if len(epochs) <= 12 else epochs[:: max(1, len(epochs) // 12)]
        ax_loss.set_xticks(ticks)  # both panels: the epochs, never fractions of one
        ax_f1.set_xticks(ticks)
    fig.suptitle(title or "Training curves")
    return _save(fig, path)


def confusion_matrix(confusion: Confusion, path: str | Path, title: str = "") -> Path:
    """Row-normalized confusion between entity types on test words (counts annotated)."""
    labels = list(confusion.labels)
    matrix = np.asarray(confusion.matrix, dtype=float)
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    if len(labels) <= 20:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of gold row")
    ax.set_title(title or "Confusion between entity types (test words)")
    return _save(fig, path)


def entity_distribution(entity_counts: Mapping[str, Mapping[str, int]], path: str | Path,
                        title: str = "") -> Path:
    """Entities per type in each split, as grouped horizontal bars."""
    splits = list(entity_counts)
    types = sorted({t for counts in entity_counts.values() for t in counts})
    height = max(3.0, 0.35 * len(types) * max(1, len(splits)) / 2 + 1.5)
    fig, ax = plt.subplots(figsize=(8, height))
    bar = 0.8 / max(1, len(splits))
    y = np.arange(len(types))
    for k, split in enumerate(splits):
        values = [entity_counts[split].get(t, 0) for t in types]
        ax.barh(y + k * bar, values, height=bar, label=f"{split} ({sum(values)})")
    ax.set_yticks(y + bar * (len(splits) - 1) / 2, types)
    ax.invert_yaxis()
    ax.set_xlabel("entities")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the bars, never over them
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "Entity distribution per split")
    return _save(fig, path)


def benchmark_bars(rows: Sequence[BenchmarkRow], path: str | Path, title: str = "") -> Path:
    """Latency (p50, batch 1) and throughput (words/s) per variant and thread setting, as horizontal bars
    sharing one label column (long variant names never overlap)."""
    labels = [f"{r.variant} ({r.threads} thread{'s' if r.threads != 1 else ''})" for r in rows]
    y = np.arange(len(rows))
    fig, (ax_lat, ax_tp) = plt.subplots(1, 2, sharey=True, figsize=(11, 1.2 + 0.42 * len(rows)),
                                        layout="constrained")
    colors = [f"C{sorted({r.variant for r in rows}, key=[r.variant for r in rows].index).index(r.variant)}"
              for r in rows]
    for ax, values, label, fmt in (
            (ax_lat, [r.latency_p50_ms for r in rows], "latency p50 at batch 1 (ms, lower is better)", "{:.2f}"),
            (ax_tp, [r.throughput_words_s for r in rows], "throughput (words/s, higher is better)", "{:,.0f}")):
        bars = ax.barh(y, values, color=colors)
        ax.bar_label(bars, [fmt.format(v) for v in values], padding=3, fontsize=8)
        ax.set_xlabel(label)
        ax.margins(x=0.18)
        ax.grid(axis="x", alpha=0.3)
    ax_tp.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    ax_tp.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
    ax_lat.set_yticks(y, labels)
    ax_lat.invert_yaxis()
    fig.suptitle(title or "Inference benchmark")
    return _save(fig, path)


def compare_curves(histories: Mapping[str, Sequence[EpochScores]], path: str | Path, title: str = "") -> Path:
    """Training/validation loss (left) and validation F1 (right) per epoch, one colour per system."""
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, (name, history) in enumerate(histories.items()):
        color = f"C{k}"
        for key, style in (("training_loss", "--"), ("validation_loss", "-")):
            points = _points(history, key)
            if points:
                ax_loss.plot(*zip(*points), style, color=color, marker="o", label=f"{name} {key.split('_')[0]}")
        points = _points(history, "f1")
        if points:
            ax_f1.plot(*zip(*points), color=color, marker="o", label=name)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    ax_f1.set_xlabel("epoch")
    ax_f1.set_ylabel("validation F1 (entity level)")
    ax_f1.set_ylim(0, 1.02)
    ax_f1.legend()
    ax_f1.grid(alpha=0.3)
    for ax in (ax_loss, ax_f1):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.suptitle(title or "Comparison")
    return _save(fig, path)
