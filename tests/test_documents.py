"""Document boundaries kept by the loaders, and document context (hubtools.families.token_classification.features) on
top of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, DatasetDict

from hubtools.config import DataConfig
from hubtools.data.build import build_dataset, default_name, load_validated
from hubtools.errors import DataError
from hubtools.families.distillation.model import attach_teacher_logits, join_runs
from hubtools.families.token_classification.features import (
    neighbours,
    tokenize_with_context,
    training_rows,
    training_runs,
    validation_runs,
    with_document_context,
)
from hubtools.families.token_classification.model import train_wordpiece_tokenizer
from hubtools.tokenization import IGNORE, tokenize_dataset

TRAIN = """-DOCSTART- -X- -X- O

Ann B-PER
met O

Bob B-PER
in O
Rome B-LOC

-DOCSTART- -X- -X- O

Acme B-ORG
grew O
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_column_files_keep_docstart_documents(tmp_path):
    source = write(tmp_path, "train.txt", TRAIN)
    write(tmp_path, "test.txt", "Cid B-PER\n\nZed O\n")  # no -DOCSTART-: every sentence its own document
    dsd = load_validated(DataConfig(source=str(source)))
    train = dsd["train"]
    assert train["document_id"] == ["train/0", "train/0", "train/1"]
    assert train["sentence_id"] == [0, 1, 0]
    assert dsd["test"]["document_id"] == ["test/0", "test/1"]


def test_sentences_before_the_first_docstart_are_a_document_of_their_own(tmp_path):
    source = write(tmp_path, "train.txt", "Ann B-PER\n\n-DOCSTART- -X- O\n\nBob B-PER\n")
    assert load_validated(DataConfig(source=str(source)))["train"]["document_id"] == ["train/0", "train/1"]


def test_files_without_docstart_have_no_document_columns(tmp_path):
    source = write(tmp_path, "train.txt", "Ann B-PER\n\nBob B-PER\n")
    assert load_validated(DataConfig(source=str(source)))["train"].column_names == ["tokens", "ner_tags"]


def test_tabular_document_column_positions_follow_row_order(tmp_path):
    rows = [{"tokens": ["a"], "ner_tags": ["O"], "doc": 7}, {"tokens": ["b"], "ner_tags": ["B-X"], "doc": 9},
            {"tokens": ["c"], "ner_tags": ["O"], "doc": 7}]
    write(tmp_path, "train.jsonl", "\n".join(json.dumps(r) for r in rows))
    ds = load_validated(DataConfig(source=str(tmp_path), document_column="doc"))["train"]
    assert ds["document_id"] == ["train/7", "train/9", "train/7"] and ds["sentence_id"] == [0, 0, 1]


def test_a_missing_or_null_document_column_is_named(tmp_path):
    write(tmp_path, "train.jsonl", json.dumps({"tokens": ["a"], "ner_tags": ["O"]}))
    with pytest.raises(DataError, match=r"missing column 'doc'"):
        load_validated(DataConfig(source=str(tmp_path), document_column="doc"))
    write(tmp_path, "train.jsonl", json.dumps({"tokens": ["a"], "ner_tags": ["O"], "doc": None}) + "\n"
          + json.dumps({"tokens": ["b"], "ner_tags": ["O"], "doc": "x"}))
    with pytest.raises(DataError, match=r"train.jsonl split 'train', row 0 \(line 1\): field 'doc'"):
        load_validated(DataConfig(source=str(tmp_path), document_column="doc"))


def test_token_prefix_is_stripped(tmp_path):
    source = write(tmp_path, "train", "en:Ann\tB-PER\nen:met\tO\nen:\tO\n")
    with pytest.raises(DataError, match=r"row 0: field 'tokens' holds a token that is only the prefix 'en:'"):
        load_validated(DataConfig(source=str(source), strip_token_prefix="en:"))
    write(tmp_path, "train", "en:Ann\tB-PER\nmet\tO\n")
    assert load_validated(DataConfig(source=str(source), strip_token_prefix="en:"))["train"]["tokens"] == \
        [["Ann", "met"]]


def test_validation_is_carved_and_the_test_split_is_optional(tmp_path):
    text = "\n\n".join(f"w{i} B-PER\nx O" for i in range(40))
    source = write(tmp_path, "train.txt", text)
    dsd, section = build_dataset(DataConfig(source=str(source)))
    assert list(dsd) == ["train", "validation"] and section.splits == {"train": 36, "validation": 4}
    assert "no test split" in section.build.split_method


def test_default_names():
    assert default_name("generate:conll2003") == "conll2003-generated"
    assert default_name("eriktks/conll2003") == "conll2003"
    assert default_name("../data/wikiann-en/") == "wikiann-en"


# ---- document context ------------------------------------------------------------------------------------


def documents_dataset() -> Dataset:
    """Two documents of three and two sentences, rows out of order (as after a stratified split)."""
    rows = [("d1", 2, ["c1", "c2"]), ("d2", 0, ["x"]), ("d1", 0, ["a"]), ("d1", 1, ["b1", "b2", "b3"]),
            ("d2", 1, ["y1", "y2"])]
    return Dataset.from_dict({"tokens": [r[2] for r in rows], "ner_tags": [[1] * len(r[2]) for r in rows],
                              "document_id": [r[0] for r in rows], "sentence_id": [r[1] for r in rows]})


def tokenizer_for(ds: Dataset):
    return train_wordpiece_tokenizer(list(ds["tokens"]) * 3, vocab_size=60)


def test_neighbours_are_whole_sentences_nearest_first_within_the_budget():
    lengths = [1, 3, 2, 5]
    assert neighbours([0, 1, 2, 3], 1, lengths, 6) == ([0], [2])
    assert neighbours([0, 1, 2, 3], 2, lengths, 6) == ([0, 1], [])  # 2 + 3 + 1; the next after (5) never fits
    assert neighbours([0, 1, 2, 3], 3, lengths, 4) == ([], [])  # longer than the budget: read alone
    assert training_runs([[0, 1, 2], [3]], lengths, 4) == [[0, 1], [2], [3]]


def test_training_rows_are_runs_and_scored_rows_hold_one_sentence():
    ds = documents_dataset()
    tokenizer = tokenizer_for(ds)
    runs = with_document_context(ds, tokenizer, budget=6, training=True)
    assert sorted(w for row in runs["tokens"] for w in row) == sorted(w for s in ds["tokens"] for w in s)
    assert {tuple(t) for t in runs["tokens"]} == {("a", "b1", "b2", "b3", "c1", "c2"), ("x", "y1", "y2")}
    scored = with_document_context(ds, tokenizer, budget=4, training=False)
    assert scored["example_index"] == [0, 1, 2, 3, 4]
    assert scored["tokens"][0] == ["c1", "c2"]  # its neighbour b (3 words) does not fit 4
    assert scored["tokens"][2] == ["a", "b1", "b2", "b3"] and scored["context_right"][2] == 3
    assert scored["tokens"][1] == ["x", "y1", "y2"] and scored["context_left"][1] == 0


def test_validation_runs_read_every_word_once_each_run_an_example_of_its_own():
    ds = documents_dataset()
    tokenizer = tokenizer_for(ds)
    runs = validation_runs(ds, tokenizer, budget=6)
    assert runs.column_names == ["tokens", "ner_tags"]
    assert {tuple(t) for t in runs["tokens"]} == {("a", "b1", "b2", "b3", "c1", "c2"), ("x", "y1", "y2")}
    features = tokenize_dataset(runs, tokenizer, max_length=16, stride=2)
    assert features["example_index"] == [0, 1]
    words = sum(len(tokens) for tokens in ds["tokens"])
    assert sum(label != IGNORE for row in features["labels"] for label in row) == words  # every word scored once


def test_context_words_are_never_labelled_or_scored():
    ds = documents_dataset()
    tokenizer = tokenizer_for(ds)
    features = tokenize_with_context(ds, tokenizer, max_length=16, stride=2, document_context=8)
    for row, example in zip(features, features["example_index"], strict=True):
        scored = [w for w in row["word_index"] if w != IGNORE]
        assert scored == list(range(len(ds["tokens"][example])))  # exactly the sentence's own words, in order
        assert sum(label != IGNORE for label in row["labels"]) == len(scored)
        assert len(row["input_ids"]) > len(scored) + 2  # every sentence here has context around it


def test_teacher_logits_of_sentences_reach_the_words_of_training_runs():
    """Distillation with document context: a training row is a run of sentences; the teacher's logits of each
    sentence (read with its context) are joined per run and land on the run's words, each on its own word."""
    ds = documents_dataset()
    tokenizer = tokenizer_for(ds)
    runs = training_rows(ds, tokenizer, budget=6)
    assert runs == [[2, 3, 0], [1, 4]]  # in document order, whatever the row order
    logits = [np.arange(len(words))[:, None] + 100.0 * sentence for sentence, words in enumerate(ds["tokens"])]
    features = tokenize_with_context(ds, tokenizer, max_length=16, stride=2, document_context=6, training=True)
    features = attach_teacher_logits(features, join_runs([row.astype(np.float32) for row in logits], runs))
    by_first = {run[0]: run for run in runs}
    for row in features:
        run = by_first[row["example_index"]]
        expected = np.concatenate([logits[sentence] for sentence in run])
        for label, word, got in zip(row["labels"], row["word_index"], row["teacher_logits"], strict=True):
            if label != IGNORE:
                assert got == [expected[word, 0]]
    assert len(features) == len(runs)


def test_a_dataset_without_documents_is_tokenized_sentence_by_sentence():
    ds = Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[1, 1]]})
    tokenizer = tokenizer_for(ds)
    plain = tokenize_with_context(ds, tokenizer, 16, 2, document_context=8)
    assert plain["word_index"][0][1:3] == [0, 1] and "context_left" not in plain.column_names


def test_dataset_dicts_round_trip_documents_through_the_run_folder(tmp_path):
    ds = documents_dataset()
    DatasetDict({"test": ds}).save_to_disk(tmp_path / "d")
    assert DatasetDict.load_from_disk(tmp_path / "d")["test"]["sentence_id"] == ds["sentence_id"]
