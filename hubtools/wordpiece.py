"""A WordPiece vocabulary learned from word counts, the same on every run.

``tokenizers``' ``WordPieceTrainer`` learns its vocabulary with byte-pair merges but numbers the ``##`` pieces in
hash-map order and breaks count ties by those numbers, so the same words can give another vocabulary in another
run (huggingface/tokenizers#1794) and a tiny model trained on its own data another result for the same seed.
:func:`wordpiece_vocabulary` runs the same merges over the counted words with every tie broken by the pieces
themselves (the lexicographically smallest pair first), so the vocabulary depends only on the words and counts.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

PREFIX = "##"  # what marks a piece that continues a word


def merged_piece(left: str, right: str) -> str:
    """The piece two adjacent pieces make: ``right`` continues ``left``, so its prefix goes."""
    return left + right[len(PREFIX):]


def wordpiece_vocabulary(word_counts: Mapping[str, int], vocab_size: int,
                         special_tokens: Sequence[str] = ()) -> list[str]:
    """The vocabulary, in id order: ``special_tokens``, the characters (a word's first one as is, the others as
    ``##c``, sorted), then the piece of each merge of the most frequent adjacent pair of pieces (ties: the
    smallest pair) until the vocabulary has ``vocab_size`` entries or no pair is left."""
    words = sorted(word for word in word_counts if word)
    pieces = [[word[0], *(PREFIX + char for char in word[1:])] for word in words]
    counts = [word_counts[word] for word in words]
    vocab = list(dict.fromkeys([*special_tokens, *sorted({p for word in pieces for p in word})]))
    known = set(vocab)
    pair_counts: Counter[tuple[str, str]] = Counter()
    holders: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # the words a pair may occur in
    for index, word in enumerate(pieces):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += counts[index]
            holders[pair].add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        negative, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -negative:
            continue  # an outdated count of a pair, pushed again when its count changed
        piece = merged_piece(*pair)
        if piece not in known:
            vocab.append(piece)
            known.add(piece)
        touched: set[tuple[str, str]] = set()
        for index in sorted(holders.pop(pair)):
            word, count = pieces[index], counts[index]
            merged, position = [], 0
            while position < len(word):
                if word[position:position + 2] == list(pair):
                    merged.append(piece)
                    position += 2
                else:
                    merged.append(word[position])
                    position += 1
            for old in zip(word, word[1:]):
                pair_counts[old] -= count
                touched.add(old)
            for new in zip(merged, merged[1:]):
                pair_counts[new] += count
                holders[new].add(index)
                touched.add(new)
            pieces[index] = merged
        for changed in touched:
            if pair_counts[changed] > 0:
                heapq.heappush(heap, (-pair_counts[changed], changed))
            else:
                del pair_counts[changed]
    return vocab
