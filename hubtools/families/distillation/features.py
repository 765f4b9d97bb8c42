"""Augmented copies of the training sentences for the teacher to read: a transfer set made from the training split.

On the training sentences alone a distilled student learns little that the gold labels do not already say: the
teacher has fit those sentences and its soft targets there are nearly one-hot. Copies of them with some words
replaced by other training words that carried the same tag (another person's name, another verb) are new inputs,
and the teacher's predictions on them, uncertainty included, are what the student learns there (the
task-specific augmentation of Tang et al. 2019 and TinyBERT). The teacher labels the copies; the gold tags only
choose which words may replace which.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from hubtools.errors import ConfigError


def augment_sentences(tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[int]], copies: int, rate: float,
                      seed: int) -> list[list[str]]:
    """``copies`` copies of every sentence (copy-major order), each word replaced with probability ``rate`` by a
    word drawn, by frequency, from the words that carry the same tag in ``tokens``; the same seed gives the same
    copies."""
    if copies < 0 or not 0 <= rate <= 1:
        raise ConfigError(f"augmentation needs copies >= 0 and a rate in [0, 1], got {copies} and {rate}")
    pools: dict[int, list[str]] = defaultdict(list)
    for words, labels in zip(tokens, tags, strict=True):
        for word, label in zip(words, labels, strict=True):
            pools[label].append(word)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(copies):
        for words, labels in zip(tokens, tags, strict=True):
            replace = rng.random(len(words)) < rate
            out.append([pools[label][rng.integers(len(pools[label]))] if swap else word
                        for word, label, swap in zip(words, labels, replace, strict=True)])
    return out
