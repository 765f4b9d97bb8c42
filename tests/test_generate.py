"""Tests for hubtools.data.generate."""

import numpy as np
import pyarrow.compute as pc
import pytest

from hubtools.data.generate import FINER_LABELS, _phrase, generate_finer, load_label_list
from hubtools.data.schemes import types_of
from hubtools.errors import DataError


@pytest.fixture(scope="module")
def corpus():
    return generate_finer(2000, seed=3)


def _flat_tags(ds) -> np.ndarray:
    return pc.list_flatten(ds.data.column("ner_tags")).to_numpy()


def test_label_list_matches_shared_file_order():
    assert len(FINER_LABELS) == 279
    assert FINER_LABELS[0] == "O"
    assert FINER_LABELS[1] == "B-AccrualForEnvironmentalLossContingencies"
    assert FINER_LABELS[-1] == "I-DerivativeNotionalAmount"
    assert len(types_of(FINER_LABELS)) == 139
    assert load_label_list("finer-139") == FINER_LABELS
    with pytest.raises(DataError, match="unknown label list"):
        load_label_list("finer-140")


def test_schema_and_split_sizes(corpus):
    assert {k: len(v) for k, v in corpus.items()} == {"train": 1600, "validation": 200, "test": 200}
    features = corpus["train"].features
    assert features["id"].dtype == "string"
    assert features["tokens"].feature.dtype == "string"
    assert features["ner_tags"].feature.names == FINER_LABELS
    assert corpus["validation"][0]["id"] == "1600"
    row = corpus["train"][0]
    assert len(row["tokens"]) == len(row["ner_tags"]) > 5


def test_one_split_without_splits():
    assert list(generate_finer(10, splits=None)) == ["train"]


def test_bad_fractions_raise():
    with pytest.raises(DataError, match="fractions"):
        generate_finer(10, splits={"train": 0.5, "test": 0.4})


def test_deterministic_for_a_seed():
    a, b, c = generate_finer(300, seed=7), generate_finer(300, seed=7), generate_finer(300, seed=8)
    assert a["train"].data.equals(b["train"].data)
    assert not a["train"].data.equals(c["train"].data)


def test_entity_density_and_coverage(corpus):
    tags = _flat_tags(corpus["train"])
    assert 0.02 < (tags != 0).mean() < 0.12
    has_entity = np.array([any(t) for t in corpus["train"]["ner_tags"]])
    assert 0.6 < has_entity.mean() < 0.9
    counts = np.bincount(tags[tags != 0], minlength=len(FINER_LABELS))
    top = np.sort(counts)[::-1]
    assert top[0] > 10 * np.median(top[top > 0])  # skewed frequencies
    assert np.count_nonzero(counts) > 60


def test_tags_valid_and_iob2_well_formed(corpus):
    for ds in corpus.values():
        tags = _flat_tags(ds)
        assert tags.min() >= 0 and tags.max() < len(FINER_LABELS)
        for row in ds["ner_tags"]:
            prev = "O"
            for tag in row:
                name = FINER_LABELS[tag]
                if name.startswith("I-"):
                    assert prev in (f"B-{name[2:]}", name)
                prev = name


def test_tagged_tokens_are_numbers(corpus):
    tokens = pc.list_flatten(corpus["train"].data.column("tokens")).to_numpy(zero_copy_only=False)
    tags = _flat_tags(corpus["train"])
    begins = tokens[np.char.startswith(np.array(FINER_LABELS)[tags], "B-")]
    numeric = np.char.isdigit(np.char.replace(np.char.replace(begins.astype(str), ",", ""), ".", ""))
    assert numeric.mean() > 0.99  # the rest are written-out numbers ("twenty five years")
    assert "$" in set(tokens) and "%" in set(tokens)


def test_each_type_has_its_own_context_phrase():
    phrases = {tuple(_phrase(t)) for t in types_of(FINER_LABELS)}
    assert len(phrases) == 139
