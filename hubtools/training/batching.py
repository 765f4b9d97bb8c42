"""Token-budget batches: a batch holds as many sentences as fit ``max_tokens`` padded tokens.

Every epoch the feature rows are shuffled (seeded by ``seed`` and the epoch), cut into mega-buckets of
``bucket_size`` rows, each bucket is sorted by length (longest first) and packed greedily into batches whose
``rows x longest row`` (rounded up to ``pad_to_multiple_of``) stays within the budget; the batches of all
buckets are then shuffled. A single row longer than the budget gets a batch of its own.

The batch sampler wraps an epoch-seeded :class:`EpochShuffle` sampler, so ``accelerate`` shards it with
``BatchSamplerShard`` (every process builds the same batches and takes every N-th one; with
``even_batches`` the first batches are repeated so each process gets the same number) and forwards
``set_epoch`` through ``batch_sampler.sampler``. The number of batches may differ by a few between epochs;
``__len__`` is the current epoch's count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset
from torch.utils.data import Sampler


class EpochShuffle(Sampler[int]):
    """A permutation of ``range(n)`` that depends only on ``seed`` and the epoch set by ``set_epoch``."""

    def __init__(self, n: int, seed: int = 0):
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rng(self, stream: int) -> np.random.Generator:
        """A generator for this seed, epoch and ``stream`` (0: the order, 1: the batch order)."""
        return np.random.default_rng([self.seed, self.epoch, stream])

    def __iter__(self) -> Iterator[int]:
        return iter(self.rng(0).permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


def padded(length: int, multiple: int | None) -> int:
    """``length`` rounded up to a multiple of ``multiple`` (the collator's ``pad_to_multiple_of``)."""
    return -(-length // multiple) * multiple if multiple else length


def pack(order: Sequence[int], lengths: Sequence[int], max_tokens: int, pad_to_multiple_of: int | None = None
         ) -> list[list[int]]:
    """Greedy batches of ``order`` (sorted longest first) with ``rows x padded longest`` <= ``max_tokens``."""
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for i in sorted(order, key=lambda j: -lengths[j]):
        width = max(longest, padded(lengths[i], pad_to_multiple_of))
        if batch and (len(batch) + 1) * width > max_tokens:
            batches.append(batch)
            batch, width = [], padded(lengths[i], pad_to_multiple_of)
        batch.append(i)
        longest = width
    if batch:
        batches.append(batch)
    return batches


class TokenBudgetBatchSampler(Sampler[list[int]]):
    """Batches of at most ``max_tokens`` padded tokens (see the module docstring)."""

    def __init__(self, lengths: Sequence[int], max_tokens: int, seed: int = 0, bucket_size: int = 2048,
                 pad_to_multiple_of: int | None = None):
        if max_tokens < 1 or bucket_size < 1:
            raise ValueError(f"max_tokens and bucket_size must be positive, got {max_tokens}, {bucket_size}")
        self.lengths = [int(n) for n in lengths]
        self.max_tokens = max_tokens
        self.bucket_size = bucket_size
        self.pad_to_multiple_of = pad_to_multiple_of
        self.sampler = EpochShuffle(len(self.lengths), seed)
        self._cache: tuple[int, list[list[int]]] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def batches(self) -> list[list[int]]:
        """This epoch's batches, in the order they are yielded (computed once per epoch)."""
        epoch = self.sampler.epoch
        if self._cache is None or self._cache[0] != epoch:
            order = list(self.sampler)
            out: list[list[int]] = []
            for start in range(0, len(order), self.bucket_size):
                out.extend(pack(order[start:start + self.bucket_size], self.lengths, self.max_tokens,
                                self.pad_to_multiple_of))
            shuffled = self.sampler.rng(1).permutation(len(out))
            self._cache = (epoch, [out[i] for i in shuffled])
        return self._cache[1]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


def feature_lengths(features: Dataset, column: str = "input_ids") -> list[int]:
    """Sub-tokens per feature row, read from the Arrow list offsets (no Python pass over the rows)."""
    table = features.with_format("arrow")[:]
    return pc.list_value_length(table.column(column)).to_pylist()
