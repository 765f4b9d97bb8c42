"""A WordPiece vocabulary learned from word counts, the same on every run.

``tokenizers``' ``WordPieceTrainer`` learns its vocabulary with byte-pair merges, the most frequent pair of adjacent
pieces first and, on a tie, the pair of the smaller ids; but it numbers the ``##`` pieces in hash-map order, so the
same words can give another vocabulary in another run (huggingface/tokenizers#1794) and a tiny model trained on its
own data another result for the same seed. :func:`wordpiece_vocabulary` runs the same merges with the ``##`` pieces
numbered in sorted order, so the vocabulary depends only on the words and their counts.
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
    """The vocabulary, in id order: ``special_tokens``, every character (sorted), the ``##`` form of every
    character seen after a word's first one (sorted), then the piece of each merge of the most frequent pair of
    adjacent pieces (ties: the pair of the smaller ids) until the vocabulary has ``vocab_size`` entries or no pair
    is left."""
    words = sorted(word for word in word_counts if word)
    pieces = [[word[0], *(PREFIX + char for char in word[1:])] for word in words]
    counts = [word_counts[word] for word in words]
    vocab = list(dict.fromkeys([*special_tokens, *sorted({char for word in words for char in word}),
                                *sorted({p for word in pieces for p in word[1:]})]))
    ids = {piece: index for index, piece in enumerate(vocab)}
    pair_counts: Counter[tuple[str, str]] = Counter()
    holders: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # the words a pair may occur in
    for index, word in enumerate(pieces):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += counts[index]
            holders[pair].add(index)
    heap = [(-count, ids[pair[0]], ids[pair[1]], pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        negative, _, _, pair = heapq.heappop(heap)
        if pair_counts.get(pair) != -negative:
            continue  # an outdated count of a pair, pushed again when its count changed
        piece = merged_piece(*pair)
        if piece not in ids:
            ids[piece] = len(vocab)
            vocab.append(piece)
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
                heapq.heappush(heap, (-pair_counts[changed], ids[changed[0]], ids[changed[1]], changed))
            else:
                del pair_counts[changed]
    return vocab
