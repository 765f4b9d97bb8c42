"""How a predict callable is timed: the measurements every benchmark makes, the same for every model family.

A :class:`Workload` holds the inputs, each prepared before the clock starts: ``singles`` (one sentence or window
each: latency at batch 1, p50/p95 after :data:`WARMUP` calls) and ``batches`` (the same inputs in batches of
:data:`BATCH_SIZE`, grouped by length: throughput in words per second). numpy only, so that the benchmark's
per-variant process (:mod:`hubtools.export.worker`) starts without torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hubtools.export.inference import length_sorted_batches
from hubtools.units import KIB

Predict = Callable[[Any], object]
WARMUP = 3
BATCH_SIZE = 32


@dataclass(frozen=True)
class Workload:
    """The inputs of one benchmark: ``singles`` at batch 1 and ``batches`` holding ``num_words`` words."""

    singles: list[Any]
    batches: list[Any]
    num_words: int

    @classmethod
    def of(cls, items: Sequence[Any], lengths: Sequence[int], words: Sequence[int],
           collate: Callable[[list[Any]], Any]) -> Workload:
        """``items`` (sentences, feature rows) made model inputs by ``collate``: one by one, and in batches of
        similar ``lengths``; ``words`` per item."""
        return cls([collate([item]) for item in items],
                   [collate([items[i] for i in idx]) for idx in length_sorted_batches(lengths, BATCH_SIZE)],
                   int(sum(words)))


def time_predict(predict: Predict, work: Workload) -> dict[str, float]:
    """Latency p50/p95 (ms) of ``predict`` on each single input and throughput (words/s) over the batches."""
    for single in work.singles[:WARMUP]:
        predict(single)
    latencies = []
    for single in work.singles:
        start = time.perf_counter()
        predict(single)
        latencies.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    for batch in work.batches:
        predict(batch)
    seconds = time.perf_counter() - start
    return {"latency_p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "latency_p95_ms": round(float(np.percentile(latencies, 95)), 3),
            "throughput_words_s": round(work.num_words / seconds, 1)}


def fastest_ms(calls: dict[str, Predict], items: Sequence[Any], rounds: int,
               interleave: bool = False) -> dict[str, np.ndarray]:
    """Per item the fastest of ``rounds`` calls (ms) of each named call, after one warm-up call each. Round by round
    the calls take turns, each over all items (as a serving process runs one model), or with ``interleave`` each
    item goes through every call before the next (caches then hold the other calls' weights); either way load on
    the machine falls on all of them alike."""
    best = {name: np.full(len(items), np.inf) for name in calls}

    def timed(name: str, i: int) -> None:
        start = time.perf_counter()
        calls[name](items[i])
        best[name][i] = min(best[name][i], (time.perf_counter() - start) * 1000)

    for call in calls.values():
        call(items[0])
    for _ in range(rounds):
        order = ((name, i) for i in range(len(items)) for name in calls) if interleave else \
            ((name, i) for name in calls for i in range(len(items)))
        for name, i in order:
            timed(name, i)
    return best


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM (reset by exec; ``ru_maxrss`` keeps the forking parent's
    peak on Linux), ``ru_maxrss`` where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * KIB
    except OSError:
        pass
    import resource  # not on Windows

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB
