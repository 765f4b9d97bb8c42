"""Tests for hubtools.data.split: stratification, sizes, determinism and the build pipeline."""

import numpy as np
import pytest

from hubtools.data.generate import generate_finer
from hubtools.data.labels import label_statistics
from hubtools.data.split import build_selected_dataset, sentence_strata, stratified_split
from hubtools.errors import DataError
from tests.test_labels import ROWS, make_dataset


def corpus(n: int = 1000, seed: int = 0):
    """Rows with a rare type (Goodwill, 50 rows), two common ones and 250 rows without entities."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = rng.choice(["Goodwill", "Revenues", "InterestExpense", None], p=[0.05, 0.35, 0.35, 0.25])
        row = ["O"] * 6
        if kind:
            row[2] = f"B-{kind}"
            if i % 3 == 0:
                row[4] = "B-Revenues"  # co-occurrence: the rarer type is the stratum
        rows.append(row)
    return make_dataset(rows)


def test_sentence_strata_rarest_type_first():
    strata, names = sentence_strata(make_dataset(ROWS))
    assert names == ["InterestExpense", "Goodwill", "Revenues", "none"]
    assert [names[s] for s in strata] == ["Goodwill", "none", "InterestExpense", "Revenues", "Goodwill"]


def test_stratified_split_sizes_and_type_proportions():
    ds = corpus()
    out = stratified_split(ds, (0.8, 0.1, 0.1), seed=1)
    assert {k: len(v) for k, v in out.items()} == {"train": 800, "validation": 100, "test": 100}
    total = label_statistics(ds).sentence_counts
    for name, ratio in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        counts = label_statistics(out[name]).sentence_counts
        for typ, n in total.items():
            assert counts[typ] >= 1
            assert abs(counts[typ] - ratio * n) <= max(2, 0.05 * n), (name, typ)
    strata, _ = sentence_strata(ds)
    rare = int(np.count_nonzero(strata == 0))
    assert label_statistics(out["test"]).sentence_counts["Goodwill"] in (rare // 10, rare // 10 + 1)


def test_stratified_split_is_a_deterministic_partition():
    ds = corpus(300)
    ds = ds.add_column("row", list(range(len(ds))))
    a, b, c = (stratified_split(ds, seed=s) for s in (5, 5, 6))
    rows = [r for split in a.values() for r in split["row"]]
    assert sorted(rows) == list(range(300))
    assert a["train"]["row"] == sorted(a["train"]["row"])  # original order kept
    assert a["test"]["row"] == b["test"]["row"] and a["test"]["row"] != c["test"]["row"]


@pytest.mark.parametrize("ratios,names", [((0.8, 0.1), ("train", "validation", "test")),
                                          ((0.8, 0.3, -0.1), ("train", "validation", "test")),
                                          ((0.5, 0.4), ("train", "validation")),
                                          ((0.5, 0.5), ("train", "train"))])
def test_bad_ratios_raise(ratios, names):
    with pytest.raises(DataError, match="stratified_split"):
        stratified_split(corpus(20), ratios, names=names)


def test_build_selected_dataset_pipeline():
    dsd = generate_finer(1500, seed=2)
    out, info = build_selected_dataset(dsd, k=3, seed=0)
    assert info["selected_types"] == ["Revenues", "DebtInstrumentFaceAmount",
                                      "LineOfCreditFacilityMaximumBorrowingCapacity"]
    assert out["train"].features["ner_tags"].feature.names == info["label_names"]
    assert len(info["label_names"]) == 7
    assert info["analysis"]["num_sentences"] == 1500
    assert 0.02 < info["analysis"]["entity_token_fraction"] < 0.12
    assert sum(info["sizes"].values()) == 1500 - info["dropped_without_entities"]
    assert all(label_statistics(s).sentences_without_entities == 0 for s in out.values())
    assert all(min(c.values()) > 0 for c in info["entity_counts"].values())
    assert "window of 3 consecutive types" in info["selection_rule"]
    again, _ = build_selected_dataset(dsd, k=3, seed=0)
    assert again["test"]["id"] == out["test"]["id"]


def test_build_with_given_types_and_rename():
    dsd = generate_finer(400, seed=2)
    out, info = build_selected_dataset(dsd, types=["Revenues"], rename={"Revenues": "REV"}, drop_empty=False)
    assert info["label_names"] == ["O", "B-REV", "I-REV"]
    assert info["dropped_without_entities"] == 0 and sum(info["sizes"].values()) == 400
    assert "drop sentences without entities" not in info["steps"]
    with pytest.raises(DataError, match="Revenue'"):
        build_selected_dataset(dsd, types=["Revenue"])
    with pytest.raises(DataError, match="rename"):
        build_selected_dataset(dsd, types=["Revenues"], rename={"Goodwill": "G"})
