"""Document context: a sentence read with the sentences around it in its document (``model.document_context``).

Where a split has documents (``document_id`` / ``sentence_id``, see :mod:`hubtools.data.loading`), its sentences
are regrouped before tokenization, within a budget of sub-tokens:

* training rows are runs of consecutive training sentences of one document of at most ``budget`` sub-tokens
  (a longer sentence stays alone), every word labelled: each sentence is trained once, next to its neighbours
  in the run, so the words trained on do not change;
* a scored sentence (validation, test) is one row: the sentence with whole neighbouring sentences of its
  document added before and after, nearest first, while the row fits ``budget`` sub-tokens; only its own words
  are labelled and scored (``context_left`` / ``context_right`` count the context words, see
  :func:`hubtools.tokenization.tokenize_and_align`).

The document is every sentence of it in any split of the run (``pool``), in ``sentence_id`` order: a
validation sentence carved from a training document is read between its training neighbours, as text only,
never with their labels. A sentence longer than the budget is read alone, in windows as always. Rows keep
``example_index``, the sentence they score (a run: its first sentence), so predictions merge back to sentences
as without context.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from datasets import Dataset, DatasetInfo, Features, Value
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase

from hubtools.data.validation import DOCUMENT, SENTENCE
from hubtools.tokenization import tokenize_dataset, tokenizer_fingerprint

CONTEXT_COLUMNS = ("example_index", "context_left", "context_right")


def context_budget(document_context: int, tokenizer: PreTrainedTokenizerBase, max_length: int) -> int:
    """Sub-tokens of document context a row holds: ``document_context`` within windows of ``max_length``."""
    return min(document_context, max_length - tokenizer.num_special_tokens_to_add(pair=False))


def tokenize_with_context(ds: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int, stride: int,
                          document_context: int = 0, training: bool = False, desc: str = "tokenize",
                          pool: Sequence[Dataset] = (), label_column: str | None = "ner_tags") -> Dataset:
    """:func:`hubtools.tokenization.tokenize_dataset`, the sentences regrouped with ``document_context``
    sub-tokens of context first when ``ds`` has documents (the budget is capped by ``max_length``);
    ``label_column`` None: unlabelled sentences, tagged only."""
    budget = context_budget(document_context, tokenizer, max_length)
    if budget > 0 and has_documents(ds):
        ds = with_document_context(ds, tokenizer, budget, training, pool)
    return tokenize_dataset(ds, tokenizer, max_length, stride, label_column=label_column, desc=desc)


def has_documents(ds: Dataset) -> bool:
    """Whether ``ds`` knows the document of each sentence."""
    return DOCUMENT in ds.column_names and SENTENCE in ds.column_names


def document_order(splits: Sequence[Dataset]) -> tuple[list[list[str]], dict[tuple[str, int], int],
                                                        list[list[int]]]:
    """Every sentence of ``splits`` (duplicates, the same sentence in two of them, once): their words, the
    index of each ``(document_id, sentence_id)`` and the sentences of every document in order."""
    words: list[list[str]] = []
    index: dict[tuple[str, int], int] = {}
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for ds in splits:
        for tokens, doc, position in zip(ds["tokens"], ds[DOCUMENT], ds[SENTENCE], strict=True):
            if (doc, position) not in index:
                index[doc, position] = len(words)
                groups[doc].append((position, len(words)))
                words.append(tokens)
    return words, index, [[i for _, i in sorted(group)] for group in groups.values()]


def subtoken_lengths(sentences: Sequence[list[str]], tokenizer: PreTrainedTokenizerBase,
                     batch_size: int = 1000) -> np.ndarray:
    """Sub-tokens of every sentence without special tokens (at least one per word, as the windows count)."""
    lengths = np.zeros(len(sentences), dtype=np.int64)
    for start in range(0, len(sentences), batch_size):
        words = list(sentences[start:start + batch_size])
        enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        lengths[start:start + len(words)] = [max(len(ids), len(w)) for ids, w in zip(enc["input_ids"], words,
                                                                                     strict=True)]
    return lengths


def training_runs(docs: list[list[int]], lengths: np.ndarray, budget: int) -> list[list[int]]:
    """Consecutive sentences of one document joined while the run fits ``budget`` sub-tokens."""
    runs = []
    for rows in docs:
        run: list[int] = []
        used = 0
        for row in rows:
            if run and used + lengths[row] > budget:
                runs.append(run)
                run, used = [], 0
            run.append(row)
            used += lengths[row]
        if run:
            runs.append(run)
    return runs


def training_rows(ds: Dataset, tokenizer: PreTrainedTokenizerBase, budget: int) -> list[list[int]]:
    """The sentences (rows of ``ds``) joined into each training row, in the order of the rows
    :func:`with_document_context` builds with ``training``."""
    return training_runs(document_order([ds])[2], subtoken_lengths(ds["tokens"], tokenizer), budget)


def validation_runs(ds: Dataset, tokenizer: PreTrainedTokenizerBase, budget: int) -> Dataset:
    """``ds`` joined into runs as the training rows are, every run one example of its own (``tokens``,
    ``ner_tags``): each word is read once, with the neighbours in its run (``model.validation_rows: runs``)."""
    return with_document_context(ds, tokenizer, budget, training=True).remove_columns(list(CONTEXT_COLUMNS))


def neighbours(rows: list[int], position: int, lengths: np.ndarray, budget: int) -> tuple[list[int], list[int]]:
    """The sentences read before and after ``rows[position]``: whole neighbours, nearest first, one side then
    the other, while the total fits ``budget``; nothing for a sentence longer than the budget."""
    used = lengths[rows[position]]
    before: list[int] = []
    after: list[int] = []
    left, right = position - 1, position + 1
    grew = used <= budget
    while grew:
        grew = False
        if left >= 0 and used + lengths[rows[left]] <= budget:
            used += lengths[rows[left]]
            before.insert(0, rows[left])
            left -= 1
            grew = True
        if right < len(rows) and used + lengths[rows[right]] <= budget:
            used += lengths[rows[right]]
            after.append(rows[right])
            right += 1
            grew = True
    return before, after


def with_document_context(ds: Dataset, tokenizer: PreTrainedTokenizerBase, budget: int, training: bool,
                          pool: Sequence[Dataset] = ()) -> Dataset:
    """The rows of ``ds`` regrouped with document context (see the module docstring): ``tokens``,
    ``ner_tags``, ``example_index``, ``context_left``, ``context_right``. ``pool``: the other splits whose
    sentences may be read as context (``ds`` is always part of it)."""
    tokens, tags = ds["tokens"], ds["ner_tags"]
    out: dict[str, list] = {"tokens": [], "ner_tags": [], **{c: [] for c in CONTEXT_COLUMNS}}
    if training:
        for run in training_rows(ds, tokenizer, budget):
            out["tokens"].append([w for r in run for w in tokens[r]])
            out["ner_tags"].append([t for r in run for t in tags[r]])
            out["example_index"].append(run[0])
            out["context_left"].append(0)
            out["context_right"].append(0)
    else:
        words, index, docs = document_order([ds, *pool])
        lengths = subtoken_lengths(words, tokenizer)
        where = {sentence: (rows, position) for rows in docs for position, sentence in enumerate(rows)}
        for row, (doc, position) in enumerate(zip(ds[DOCUMENT], ds[SENTENCE], strict=True)):
            rows, at = where[index[doc, position]]
            before, after = neighbours(rows, at, lengths, budget)
            out["tokens"].append([w for s in before for w in words[s]] + tokens[row]
                                 + [w for s in after for w in words[s]])
            left, right = sum(len(words[s]) for s in before), sum(len(words[s]) for s in after)
            out["ner_tags"].append([0] * left + tags[row] + [0] * right)
            out["example_index"].append(row)
            out["context_left"].append(left)
            out["context_right"].append(right)
    features = Features({"tokens": ds.features["tokens"], "ner_tags": ds.features["ner_tags"],
                         **{c: Value("int64") for c in CONTEXT_COLUMNS}})
    table = pa.Table.from_pydict(out, schema=features.arrow_schema)
    key = [ds._fingerprint, [p._fingerprint for p in pool], "document-context", tokenizer_fingerprint(tokenizer),
           budget, training]
    return Dataset(table, info=DatasetInfo(features=features), fingerprint=Hasher.hash(key))
