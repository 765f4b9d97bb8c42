import json

import pyarrow as pa
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Sequence, Value

from hubtools.data.columns import read_conll
from hubtools.data.loading import load_local
from hubtools.data.normalize import detect_classlabel_scheme, normalize
from hubtools.data.validation import label_names_of, validate_dataset
from hubtools.errors import DataError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""

IOB1 = """-DOCSTART- -X- O O

Loan NNP - I-ORG
Corp NNP - I-ORG
Bank NNP - B-ORG
and CC - O
John NNP - I-PER
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_conll_skips_docstart_and_splits_sentences(tmp_path):
    tokens, tags = read_conll(write(tmp_path / "train.txt", CONLL))
    assert tokens == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert tags == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]


def test_read_conll_bad_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "dev.txt", "EU B-ORG\nbroken\n")
    with pytest.raises(DataError, match=r"dev.txt:2: expected 2 columns \(like line 1\), found 1"):
        read_conll(path)
    assert read_conll(path, skip_malformed=True)[0] == [["EU"]]


def test_load_local_conll_folder_iob2(tmp_path):
    write(tmp_path / "train.txt", CONLL)
    write(tmp_path / "valid.txt", CONLL)
    write(tmp_path / "test.txt", CONLL)
    dsd = load_local(tmp_path)
    assert set(dsd) == {"train", "validation", "test"}
    names = label_names_of(dsd["train"])
    assert names == ["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    row = dsd["train"][1]
    assert [names[i] for i in row["ner_tags"]] == ["B-PER", "I-PER"]
    validate_dataset(dsd)


def test_load_local_iob1_is_converted(tmp_path):
    dsd = load_local(write(tmp_path / "train.txt", IOB1))
    names = label_names_of(dsd["train"])
    assert [names[i] for i in dsd["train"][0]["ner_tags"]] == ["B-ORG", "I-ORG", "B-ORG", "O", "B-PER"]


def test_load_local_jsonl_and_parquet(tmp_path):
    rows = [{"words": ["a", "b"], "labels": ["B-X", "I-X"]}, {"words": ["c"], "labels": ["O"]}]
    (tmp_path / "j").mkdir()
    write(tmp_path / "j" / "train.jsonl", "\n".join(json.dumps(r) for r in rows))
    dsd = load_local(tmp_path / "j", tokens_column="words", tags_column="labels")
    assert dsd["train"]["tokens"] == [["a", "b"], ["c"]]
    assert label_names_of(dsd["train"]) == ["O", "B-X", "I-X"]
    (tmp_path / "p").mkdir()
    dsd["train"].to_parquet(str(tmp_path / "p" / "test.parquet"))
    again = load_local(tmp_path / "p")
    assert again["test"]["ner_tags"] == dsd["train"]["ner_tags"]
    assert label_names_of(again["test"]) == ["O", "B-X", "I-X"]


def test_missing_path_and_mixed_formats(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_local(tmp_path / "nope")
    write(tmp_path / "train.txt", CONLL)
    write(tmp_path / "test.jsonl", "{}")
    with pytest.raises(DataError, match="mixed file formats"):
        load_local(tmp_path)


def _classlabel_ds(names, rows):
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=names))})
    return Dataset.from_dict({"tokens": [["w"] * len(r) for r in rows], "ner_tags": rows}, features=features)


def test_classlabel_io_scheme_few_nerd_style():
    names = ["O", "art-film", "person-actor"]
    ds = _classlabel_ds(names, [[1, 1, 0, 2, 2], [2]])
    assert detect_classlabel_scheme(ds) == "IO"
    out = normalize(DatasetDict({"train": ds}))["train"]
    new = label_names_of(out)
    assert new == ["O", "B-art-film", "I-art-film", "B-person-actor", "I-person-actor"]
    assert [new[i] for i in out[0]["ner_tags"]] == ["B-art-film", "I-art-film", "O", "B-person-actor",
                                                     "I-person-actor"]


def test_classlabel_iob1_detected_vectorized():
    names = ["O", "B-PER", "I-PER"]
    assert detect_classlabel_scheme(_classlabel_ds(names, [[1, 2, 0], [0, 1]])) == "IOB2"
    assert detect_classlabel_scheme(_classlabel_ds(names, [[1, 2, 0], [2, 2]])) == "IOB1"
    # an I- continuing from the previous sentence's last token is still a start
    assert detect_classlabel_scheme(_classlabel_ds(names, [[1, 2], [2]])) == "IOB1"


@pytest.mark.parametrize(
    "rows, tokens, message",
    [
        ([[1, 2], [0, 9]], None, r"split 'train', row 1: field 'ner_tags' position 1 has label id 9"),
        ([[1, 2], [0]], [["a", "b"], ["c", "d"]], r"row 1: 'tokens' has 2 items but 'ner_tags' has 1"),
        ([[1], []], [["a"], []], r"row 1: empty sentence"),
    ],
)
def test_validation_names_split_row_field(rows, tokens, message):
    features = Features({"tokens": Sequence(Value("string")),
                         "ner_tags": Sequence(ClassLabel(names=["O", "B-X", "I-X"]))})
    table = pa.table({"tokens": tokens or [["w"] * len(r) for r in rows], "ner_tags": rows})
    # built from Arrow directly, so that ids outside the ClassLabel reach the validator
    ds = Dataset(table.cast(features.arrow_schema), info=DatasetInfo(features=features))
    with pytest.raises(DataError, match=message):
        validate_dataset(DatasetDict({"train": ds}))


def test_validation_missing_column():
    ds = Dataset.from_dict({"words": [["a"]]})
    with pytest.raises(DataError, match=r"split 'train': missing column\(s\) \['tokens', 'ner_tags'\]"):
        validate_dataset(DatasetDict({"train": ds}))
