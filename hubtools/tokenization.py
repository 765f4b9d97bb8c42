"""Word / sub-token alignment, windows for long sentences, and merging window predictions back to words.

A sentence is tokenized word by word (``is_split_into_words``); the first sub-token of each word carries the
word's label and every other position gets -100, so training and scoring happen on words. A row regrouped with
document context (:mod:`hubtools.families.token_classification.features`) names the sentence it scores
(``example_index``) and how many of its
words are context (``context_left`` / ``context_right``): those get -100 too and are never scored. A sentence whose
sub-tokens do not fit the model is never cut: it is split at word boundaries into overlapping windows, each
window becomes one feature row, and predictions are merged back so that every word is scored once, taken
from the window where the word sits farthest from an edge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
from datasets import Dataset
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase

IGNORE = -100


def _word_lengths(tokenizer: PreTrainedTokenizerBase, words: Sequence[str]) -> list[int]:
    enc = tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)
    lengths = [0] * len(words)
    for w in enc.word_ids():
        if w is not None:
            lengths[w] += 1
    return [max(n, 1) for n in lengths]


def plan_windows(lengths: Sequence[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Word windows ``[start, end)`` whose sub-token counts fit ``budget``, overlapping by about ``stride``
    sub-tokens, covering every word. A single word longer than the budget gets a window of its own."""
    windows: list[tuple[int, int]] = []
    n = len(lengths)
    start = 0
    while start < n:
        end, used = start, 0
        while end < n and (used + lengths[end] <= budget or end == start):
            used += lengths[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            break
        back, overlap = end, 0
        while back - 1 > start and overlap + lengths[back - 1] <= stride:
            back -= 1
            overlap += lengths[back]
        # move the next start right until that window can reach past the current end
        while back < end and sum(lengths[back:end]) + lengths[end] > budget:
            back += 1
        start = max(back, start + 1)
    return windows


def _row(enc, i: int, labels, offset: int, n_words: int, example_index: int, scored: range | None = None) -> dict:
    """One feature row; ``scored``: the row's words that belong to the sentence (None: all), the others are
    context, unlabelled, and the sentence's words are numbered from its first."""
    word_index, label_ids, prev = [], [], None
    first = scored.start if scored is not None else 0
    for w in enc.word_ids(i):
        if w is None or w == prev or (scored is not None and w not in scored):
            word_index.append(IGNORE)
            label_ids.append(IGNORE)
        else:
            word_index.append(offset + w - first)
            label_ids.append(labels[w] if labels is not None else 0)
        prev = w
    row = {k: list(v[i]) for k, v in enc.items()}
    row.update(labels=label_ids, word_index=word_index, example_index=example_index,
               window_start=offset, window_end=offset + (len(scored) if scored is not None else n_words))
    return row


def tokenize_and_align(batch: dict, indices: list[int], tokenizer: PreTrainedTokenizerBase, max_length: int,
                       stride: int, label_column: str | None = "ner_tags") -> dict:
    """Batched-map function: one or more feature rows per sentence (see module docstring).

    Output columns: the tokenizer's inputs, ``labels``, ``word_index`` (global word index on first
    sub-tokens, -100 elsewhere), ``example_index`` (source row, or the batch's own ``example_index`` column),
    ``window_start``/``window_end`` (words). A row with context words (``context_left`` / ``context_right``
    columns) fits ``max_length`` by construction.
    """
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    out: dict[str, list] = {}
    enc = tokenizer(batch["tokens"], is_split_into_words=True)
    examples = batch.get("example_index", indices)
    for i, words in enumerate(batch["tokens"]):
        labels = batch[label_column][i] if label_column else None
        left = batch["context_left"][i] if "context_left" in batch else 0
        right = batch["context_right"][i] if "context_right" in batch else 0
        if left or right:
            rows = [_row(enc, i, labels, 0, len(words), examples[i], range(left, len(words) - right))]
        elif len(enc["input_ids"][i]) <= max_length:
            rows = [_row(enc, i, labels, 0, len(words), examples[i])]
        else:
            rows = []
            for a, b in plan_windows(_word_lengths(tokenizer, words), budget, stride):
                win = tokenizer([words[a:b]], is_split_into_words=True, truncation=True, max_length=max_length)
                rows.append(_row(win, 0, labels[a:b] if labels is not None else None, a, b - a, examples[i]))
        for row in rows:
            for k, v in row.items():
                out.setdefault(k, []).append(v)
    return out


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A hash of what the tokenizer does: class and vocabulary/normalizer/post-processor, without the
    truncation and padding state that a call leaves behind on a fast tokenizer."""
    if not tokenizer.is_fast:
        return Hasher.hash(tokenizer)
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    state.pop("truncation", None)
    state.pop("padding", None)
    return Hasher.hash([type(tokenizer).__name__, state])


def features_fingerprint(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int,
                         label_column: str | None) -> str:
    """The fingerprint of ``ds``'s feature rows: source fingerprint, tokenizer, settings and this module's
    code (any change to it invalidates cached features)."""
    return Hasher.hash([ds._fingerprint, tokenizer_fingerprint(tokenizer), max_length, stride, label_column,
                        Path(__file__).read_bytes()])


def tokenize_dataset(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int = 32,
                     label_column: str | None = "ner_tags", num_proc: int | None = None,
                     desc: str = "tokenize", cache_dir: str | Path | None = None) -> Dataset:
    """Tokenize a normalized split into feature rows (windows for long sentences), removing source columns.

    The result is cached under a deterministic fingerprint (:func:`features_fingerprint`), so a second run on
    the same data and tokenizer loads it: next to the source's Arrow files when it has some, else in
    ``cache_dir`` (default: ``hubtools-tokenized`` in the datasets cache). Nothing is cached when datasets'
    caching is disabled.
    """
    fingerprint = features_fingerprint(ds, tokenizer, max_length, stride, label_column)
    cache_file = None
    if datasets.is_caching_enabled() and not ds.cache_files:
        folder = Path(cache_dir or Path(datasets.config.HF_DATASETS_CACHE) / "hubtools-tokenized")
        folder.mkdir(parents=True, exist_ok=True)
        cache_file = str(folder / f"features-{fingerprint}.arrow")
    return ds.map(tokenize_and_align, batched=True, with_indices=True, remove_columns=ds.column_names,
                  fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "stride": stride,
                             "label_column": label_column},
                  num_proc=num_proc, desc=desc, new_fingerprint=fingerprint, cache_file_name=cache_file)


def merge_word_predictions(pred_ids: Sequence[Sequence[int]], features: Dataset,
                           sentence_lengths: Sequence[int]) -> list[list[int]]:
    """Merge per-feature predicted label ids back to one label id per word of every sentence.

    ``pred_ids[f][p]`` is the prediction at position ``p`` of feature ``f`` (rows aligned with
    ``features``). A word covered by several windows takes the prediction of the window in which it is
    farthest from either edge. Raises ValueError if a word received no prediction.
    """
    example = np.asarray(features["example_index"])
    starts = np.asarray(features["window_start"])
    ends = np.asarray(features["window_end"])
    out = [np.full(n, -1, dtype=np.int64) for n in sentence_lengths]
    best = [np.full(n, -1, dtype=np.int64) for n in sentence_lengths]
    for f, word_index in enumerate(features["word_index"]):
        wi = np.asarray(word_index)
        pos = np.flatnonzero(wi >= 0)
        words = wi[pos]
        preds = np.asarray(pred_ids[f])[pos]
        centrality = np.minimum(words - starts[f], ends[f] - 1 - words)
        e = example[f]
        better = centrality > best[e][words]
        out[e][words[better]] = preds[better]
        best[e][words[better]] = centrality[better]
    for e, row in enumerate(out):
        if (row < 0).any():
            raise ValueError(f"sentence {e}: word {int(np.flatnonzero(row < 0)[0])} received no prediction")
    return [row.tolist() for row in out]
