"""Tests for hubtools.data.labels on a hand-made dataset with hand-counted expectations."""

import pytest
from datasets import ClassLabel, Dataset, Features, Sequence, Value

from hubtools.data.labels import (
    LabelStats,
    drop_without_entities,
    label_statistics,
    remap_types,
    select_types,
)
from hubtools.errors import DataError

LABELS = ["O", "B-Revenues", "I-Revenues", "B-Goodwill", "I-Goodwill", "B-InterestExpense",
          "I-InterestExpense"]
ROWS = [
    ["O", "B-Revenues", "I-Revenues", "O", "B-Goodwill"],
    ["O", "O", "O"],
    ["B-Revenues", "B-Revenues", "O", "I-InterestExpense"],  # two spans; an orphan I- starts a span
    ["I-Revenues", "O"],
    ["B-Goodwill", "I-Revenues"],  # I- of another type starts a new span
]


def make_dataset(rows: list[list[str]], labels: list[str] = LABELS) -> Dataset:
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=labels))})
    return Dataset.from_dict({"tokens": [[f"w{i}" for i in range(len(r))] for r in rows],
                              "ner_tags": [[labels.index(t) for t in r] for r in rows]}, features=features)


def tag_names(ds: Dataset) -> list[list[str]]:
    names = ds.features["ner_tags"].feature.names
    return [[names[t] for t in row] for row in ds["ner_tags"]]


def test_label_statistics_hand_counted():
    stats = label_statistics(make_dataset(ROWS))
    assert stats.token_counts == {"O": 7, "B-Revenues": 3, "I-Revenues": 3, "B-Goodwill": 2, "I-Goodwill": 0,
                                  "B-InterestExpense": 0, "I-InterestExpense": 1}
    assert stats.entity_counts == {"Revenues": 5, "Goodwill": 2, "InterestExpense": 1}
    assert stats.sentence_counts == {"Revenues": 4, "Goodwill": 2, "InterestExpense": 1}
    assert (stats.num_sentences, stats.total_tokens, stats.entity_tokens) == (5, 16, 9)
    assert stats.sentences_without_entities == 1
    assert stats.entity_token_fraction == pytest.approx(9 / 16)
    summary = stats.to_dict()
    assert list(summary["entity_counts"]) == ["Revenues", "Goodwill", "InterestExpense"]
    assert summary["num_types_present"] == 3


def test_label_statistics_follows_an_indices_mapping():
    stats = label_statistics(make_dataset(ROWS).select([2, 1]))
    assert stats.entity_counts == {"Revenues": 2, "Goodwill": 0, "InterestExpense": 1}
    assert stats.sentences_without_entities == 1


def test_label_statistics_rejects_non_iob_labels():
    with pytest.raises(DataError, match="IOB2"):
        label_statistics(make_dataset([["PER"]], labels=["O", "PER"]))


def _stats(counts: dict[str, int]) -> LabelStats:
    return LabelStats({}, counts, counts, 10, 100, 10, 0, ["O"])


def test_select_types_balanced_and_top():
    counts = {"a": 120, "b": 40, "c": 35, "d": 30, "f": 12, "e": 12, "g": 0}
    assert select_types(_stats(counts), 3) == ["b", "c", "d"]  # 120/35 > 3, 40/30 <= 3
    assert select_types(_stats({**counts, "a": 100}), 3) == ["a", "b", "c"]  # 100/35 <= 3
    assert select_types(_stats(counts), 3, rule="top") == ["a", "b", "c"]
    assert select_types(_stats(counts), 6, rule="top")[-2:] == ["e", "f"]  # ties by name
    assert select_types(_stats({"a": 100, "b": 10, "c": 1}), 2) == ["a", "b"]  # no window: smallest ratio
    with pytest.raises(DataError, match="only 6 entity types"):
        select_types(_stats(counts), 7)
    with pytest.raises(ValueError, match="unknown rule"):
        select_types(_stats(counts), 2, rule="random")


def test_remap_merges_sources_and_orders_new_types_by_mapping():
    out = remap_types(make_dataset(ROWS), {"InterestExpense": "Cost", "Revenues": "Income"})
    assert out.features["ner_tags"].feature.names == ["O", "B-Cost", "I-Cost", "B-Income", "I-Income"]
    assert tag_names(out) == [
        ["O", "B-Income", "I-Income", "O", "O"],
        ["O", "O", "O"],
        ["B-Income", "B-Income", "O", "I-Cost"],
        ["I-Income", "O"],
        ["O", "I-Income"],
    ]
    assert out["tokens"] == make_dataset(ROWS)["tokens"]
    merged = remap_types(make_dataset(ROWS), {"Goodwill": "X", "Revenues": "X"})
    assert merged.features["ner_tags"].feature.names == ["O", "B-X", "I-X"]
    assert label_statistics(merged).entity_counts == {"X": 6}  # B-Goodwill I-Revenues becomes one span


def test_remap_is_deterministic_in_fingerprint():
    ds = make_dataset(ROWS)
    assert remap_types(ds, {"Goodwill": "G"})._fingerprint == remap_types(ds, {"Goodwill": "G"})._fingerprint
    assert remap_types(ds, {"Goodwill": "G"})._fingerprint != remap_types(ds, {"Goodwill": "H"})._fingerprint


def test_remap_unknown_type_names_close_matches():
    with pytest.raises(DataError, match=r"'Revenue' \(close: \['Revenues'\]\)") as err:
        remap_types(make_dataset(ROWS), {"Revenue": "R", "Goodwill": "G", "Nonsense": "N"})
    assert "Nonsense" in str(err.value) and "Goodwill'" not in str(err.value)


def test_drop_without_entities():
    kept, dropped = drop_without_entities(remap_types(make_dataset(ROWS), {"InterestExpense": "X"}))
    assert dropped == 4
    assert tag_names(kept) == [["O", "O", "O", "I-X"]]
    kept, dropped = drop_without_entities(make_dataset(ROWS))
    assert (dropped, len(kept)) == (1, 4)
