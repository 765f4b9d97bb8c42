"""Benchmark the dataset build (analysis -> selection -> remap -> drop -> split -> parquet) at FiNER size.

Compares hubtools' Arrow-level ``build_selected_dataset`` with the plain way (per-example ``datasets``
map/filter for analysis, remapping and filtering, then the same split and parquet write), checks that both
give identical rows, and prints one line per step plus the final ratio line.

    python scripts/bench_dataset.py [--sentences 1120000] [--seed 0] [--num-proc 2] [--k 4]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Sequence

from hubtools.data.generate import generate_finer
from hubtools.data.labels import LabelStats, select_types
from hubtools.data.schemes import iob2_label_names, types_of
from hubtools.data.split import build_selected_dataset, stratified_split


class PeakRSS:
    """Samples this process's RSS (plus its children's) every 20 ms while active."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRSS:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def step(label: str, fn: Callable, totals: dict[str, float], group: str):
    """Runs fn, prints its time and peak RSS, adds the time to totals[group]."""
    start = time.perf_counter()
    with PeakRSS() as rss:
        result = fn()
    seconds = time.perf_counter() - start
    totals[group] = totals.get(group, 0.0) + seconds
    print(f"{group:>5} {label:<34} {seconds:7.2f} s   peak RSS {rss.peak / 2**30:5.2f} GiB", flush=True)
    return result


def write_parquet(dsd: DatasetDict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, ds in dsd.items():
        ds.to_parquet(str(folder / f"{name}.parquet"))


def _list_digest(h, col: pa.ChunkedArray) -> None:
    """Feeds a list column's logical content (rebased offsets, flat values) into a hash."""
    lists = col.combine_chunks()
    offsets = lists.offsets.to_numpy()
    h.update((offsets - offsets[0]).astype(np.int64).tobytes())
    values = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
    if pa.types.is_string(values.type):
        voff = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + len(values) + 1]
        h.update((voff - voff[0]).astype(np.int64).tobytes())
        h.update(memoryview(values.buffers()[2])[voff[0] : voff[-1]])
    else:
        h.update(values.to_numpy().astype(np.int64).tobytes())


def split_hashes(dsd: DatasetDict) -> dict[str, str]:
    """sha256 of each split's tokens and tags."""
    out = {}
    for name, ds in dsd.items():
        table = ds.with_format("arrow")[:]
        h = hashlib.sha256()
        for column in ("tokens", "ner_tags"):
            _list_digest(h, table.column(column))
        out[name] = h.hexdigest()[:16]
    return out


def plain_statistics(ds: Dataset) -> LabelStats:
    """Per-example label counting with a non-batched datasets.map (one process: it updates counters)."""
    labels = ds.features["ner_tags"].feature.names
    token, spans, sentences, empty = Counter(), Counter(), Counter(), [0]

    def count(tags: list[int]) -> None:
        token.update(tags)
        seen, prev = set(), None
        for tag in tags:
            name = labels[tag]
            typ = None if name == "O" else name[2:]
            if typ is not None:
                if name.startswith("B-") or typ != prev:
                    spans[typ] += 1
                seen.add(typ)
            prev = typ
        sentences.update(seen)
        empty[0] += not seen

    ds.map(count, input_columns=["ner_tags"])
    types = types_of(labels)
    return LabelStats(
        token_counts={n: token[i] for i, n in enumerate(labels)},
        entity_counts={t: spans[t] for t in types},
        sentence_counts={t: sentences[t] for t in types},
        num_sentences=len(ds), total_tokens=sum(token.values()),
        entity_tokens=sum(c for i, c in token.items() if labels[i] != "O"),
        sentences_without_entities=empty[0], label_names=labels)


def plain_remap_filter(ds: Dataset, selected: list[str], num_proc: int) -> Dataset:
    """Per-example remap with datasets.map and per-example filter of rows without entities."""
    labels = ds.features["ner_tags"].feature.names
    new_labels = iob2_label_names(selected)
    lut = [new_labels.index(n) if n != "O" and n[2:] in selected else 0 for n in labels]
    features = ds.features.copy()
    features["ner_tags"] = Sequence(ClassLabel(names=new_labels))
    remapped = ds.map(lambda tags: {"ner_tags": [lut[t] for t in tags]}, input_columns=["ner_tags"],
                      features=features, num_proc=num_proc)
    return remapped.filter(lambda tags: any(tags), input_columns=["ner_tags"], num_proc=num_proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_120_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-proc", type=int, default=2, help="processes for the plain remap map/filter")
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    num_proc = args.num_proc if args.num_proc > 1 else None
    totals: dict[str, float] = {}
    ds = step(f"generate {args.sentences} sentences",
              lambda: generate_finer(args.sentences, args.seed, splits=None)["train"], totals, "gen")
    print(f"  corpus: {len(ds)} sentences, {len(pc.list_flatten(ds.data.column('tokens')))} tokens")
    with tempfile.TemporaryDirectory(prefix="bench_dataset_") as tmp:
        ours, info = step("build_selected_dataset", lambda: build_selected_dataset(ds, k=args.k, seed=42),
                          totals, "ours")
        step("write parquet", lambda: write_parquet(ours, Path(tmp, "ours")), totals, "ours")
        stats = step("label analysis (map per example)", lambda: plain_statistics(ds), totals,
                     "plain")
        selected = step("select types", lambda: select_types(stats, args.k), totals, "plain")
        kept = step("remap + filter (per example)", lambda: plain_remap_filter(ds, selected, num_proc),
                    totals, "plain")
        plain = step("stratified split", lambda: stratified_split(kept, seed=42), totals, "plain")
        step("write parquet", lambda: write_parquet(plain, Path(tmp, "plain")), totals, "plain")
    same_analysis = stats.to_dict() == info["analysis"] and selected == info["selected_types"]
    ours_h, plain_h = split_hashes(ours), split_hashes(plain)
    print(f"  selected types: {info['selected_types']}; sizes {info['sizes']}; "
          f"dropped {info['dropped_without_entities']}; analysis identical: {same_analysis}")
    print(f"  split hashes ours {ours_h}")
    print(f"  split hashes plain {plain_h}")
    print(f"bench_dataset: ours {totals['ours']:.1f} s, plain {totals['plain']:.1f} s, "
          f"speed-up {totals['plain'] / totals['ours']:.1f}x, rows identical: {ours_h == plain_h}")


if __name__ == "__main__":
    main()
