"""Data intake (issue #18): every malformed input gets one DataError naming where it is, in every format.

Formats: column files (CoNLL/IOB), JSON lines, parquet, brat, Hub-like DatasetDicts; then the ``hubtools``
command (``hubtools data``, one-line errors, exit status 2) and the dataset card's skipped-lines line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Sequence, Value

from hubtools import cli
from hubtools.config import DataConfig
from hubtools.config import data_section as data_config
from hubtools.data.brat import load_brat_corpus, read_brat_document
from hubtools.data.build import build_dataset, load_validated
from hubtools.data.columns import read_column_file
from hubtools.data.inspect import format_summary, summarize
from hubtools.data.loading import LoadReport, load_local
from hubtools.data.normalize import normalize
from hubtools.data.schemes import invalid_tags, tag_problem
from hubtools.data.validation import label_names_of
from hubtools.errors import ConfigError, DataError, run_reporting_errors

CONLL = ("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
         "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n")
ROWS = [{"tokens": ["EU", "rejects", "German"], "ner_tags": ["B-ORG", "O", "B-MISC"]},
        {"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"]}]
NAMES = ["O", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
FEATURES = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=NAMES))})


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def tags_of(ds: Dataset) -> list[list[str]]:
    names = label_names_of(ds)
    return [[names[i] for i in row] for row in ds["ner_tags"]]


def arrow_dataset(table: pa.Table, features: Features = FEATURES) -> Dataset:
    """A Dataset straight from Arrow, so that ids outside the ClassLabel reach the loaders."""
    return Dataset(table.cast(features.arrow_schema), info=DatasetInfo(features=features))


def write_parquet(path: Path, table: pa.Table, features: Features | None = FEATURES) -> Path:
    if features is not None:
        table = arrow_dataset(table, features).data.table
    pq.write_table(table, path)
    return path


def raises(fn, *patterns: str) -> str:
    """Call ``fn``; it must raise a one-line DataError containing every pattern (plain substrings)."""
    with pytest.raises(DataError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for pattern in patterns:
        assert pattern in message, (pattern, message)
    return message


# ---------------------------------------------------------------------------------------------- BOM, line ends


def test_utf8_bom_is_stripped_from_column_files_and_json_lines(tmp_path):
    (tmp_path / "train.conll").write_bytes(b"\xef\xbb\xbf" + CONLL.encode())
    assert load_local(tmp_path / "train.conll")["train"]["tokens"][0][0] == "EU"
    jsonl = tmp_path / "j" / "train.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in ROWS).encode())
    assert load_local(jsonl)["train"]["tokens"][0][0] == "EU"


def test_crlf_and_lone_cr_read_like_lf(tmp_path):
    expected = load_local(_file(tmp_path / "lf", "train.txt", CONLL.encode()))["train"]
    for name, data in (("crlf", CONLL.replace("\n", "\r\n")), ("cr", CONLL.replace("\n", "\r"))):
        ds = load_local(_file(tmp_path / name, "train.txt", data.encode()))["train"]
        assert ds["tokens"] == expected["tokens"] and tags_of(ds) == tags_of(expected)
    rows = "".join(json.dumps(r) + "\r\n" for r in ROWS)
    assert load_local(_file(tmp_path / "j", "train.jsonl", rows.encode()))["train"]["tokens"] == expected["tokens"]


def _file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


# ---------------------------------------------------------------------------------------------- encodings


def test_undecodable_bytes_name_file_line_and_byte_offset(tmp_path):
    data = CONLL.encode().replace(b"German", b"Germ\xffn")
    path = _file(tmp_path, "train.conll", data)
    offset = data.index(b"\xff")
    raises(lambda: load_local(path), f"{path}:3: byte offset {offset}: cannot decode ff as utf-8",
           "data.encoding")
    jsonl = _file(tmp_path / "j", "train.jsonl", b'{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["\xe9"]}\n')
    raises(lambda: load_local(jsonl), f"{jsonl}:2: byte offset", "cannot decode")


def test_binary_file_named_conll_fails_with_its_name(tmp_path):
    parquet = write_parquet(tmp_path / "x.parquet", pa.table({"tokens": [["a"]], "ner_tags": [[0]]}))
    path = _file(tmp_path / "b", "train.conll", parquet.read_bytes())
    raises(lambda: load_local(path), str(path), "byte offset")
    nul = _file(tmp_path / "n", "train.conll", b"EU B-ORG\nx\x00y O\n")
    raises(lambda: load_local(nul), f"{nul}:2: byte offset 10: NUL character")
    raises(lambda: load_local(nul, encoding="latin-1"), f"{nul}:2: byte offset 10: NUL character")


@pytest.mark.parametrize("encoding, word", [("latin-1", "Müller"), ("cp1252", "€uro"), ("utf-16", "Київ")])
def test_data_encoding_reads_other_encodings(tmp_path, encoding, word):
    text = f"{word} B-PER\nsagt O\n"
    path = _file(tmp_path, "train.txt", text.encode(encoding))
    assert load_local(path, encoding=encoding)["train"]["tokens"] == [[word, "sagt"]]
    jsonl = _file(tmp_path / "j", "train.jsonl",
                  json.dumps({"tokens": [word], "ner_tags": ["B-PER"]}, ensure_ascii=False).encode(encoding))
    assert load_local(jsonl, encoding=encoding)["train"]["tokens"] == [[word]]
    if encoding == "utf-16":  # read as UTF-8 the mark is named, with the setting that reads it
        raises(lambda: load_local(path), f"{path}:1: the file starts with a UTF-16 byte-order mark",
               "data.encoding=utf-16")


def test_unknown_encoding_is_a_config_error():
    with pytest.raises(ConfigError, match="data.encoding: unknown encoding 'klingon'"):
        DataConfig(source="x", encoding="klingon")


# ---------------------------------------------------------------------------------------------- label ids


def test_classlabel_id_outside_its_names_fails_before_conversion(tmp_path):
    # I- at a start makes the source IOB1: the conversion would index names[9] and crash without the check
    table = pa.table({"tokens": [["a", "b"], ["c", "d"]], "ner_tags": [[6, 6], [0, 9]]})
    path = write_parquet(tmp_path / "train.parquet", table)
    raises(lambda: load_local(path), f"{path} split 'train', row 1: field 'ner_tags' position 1: label id 9 "
                                     f"is outside the 7 label names")
    hub = DatasetDict({"train": arrow_dataset(table)})
    raises(lambda: normalize(hub, source="org/data"), "org/data split 'train', row 1: field 'ner_tags' position 1")
    negative = DatasetDict({"train": arrow_dataset(pa.table({"tokens": [["a"]], "ner_tags": [[-1]]}))})
    raises(lambda: normalize(negative, source="org/data"), "row 0: field 'ner_tags' position 0: label id -1")


def test_integer_tags_need_names_for_local_files(tmp_path):
    rows = [{"tokens": ["Peter", "Blackburn", "said"], "ner_tags": [1, 2, 0]}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    raises(lambda: load_local(path), "holds integer tag ids but nothing names them", "data.label_names",
           "data.labels_file")
    ds = load_local(path, label_names=["O", "B-PER", "I-PER"])["train"]
    assert tags_of(ds) == [["B-PER", "I-PER", "O"]]
    parquet = write_parquet(tmp_path / "p.parquet", pa.Table.from_pylist(rows), features=None)
    assert tags_of(load_local(parquet, label_names=["O", "B-PER", "I-PER"])["train"]) == [["B-PER", "I-PER", "O"]]
    raises(lambda: load_local(path, label_names=["O", "B-PER"]), "row 0 (line 1): field 'ner_tags' position 1: "
                                                                   "label id 2 is outside the 2 label names")


def test_labels_file_names_integer_tags_and_is_checked(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"tokens": ["Peter", "said"], "ner_tags": [1, 0]}])
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xef\xbb\xbfO\r\nB-PER\r\n\r\nI-PER\r\n")
    cfg = DataConfig(source=str(tmp_path), labels_file=str(labels))
    assert label_names_of(load_validated(cfg)["train"]) == ["O", "B-PER", "I-PER"]
    labels.write_text("O\nX-PER\nI-PER\n")
    raises(lambda: load_validated(cfg), f"{tmp_path / 'train.jsonl'} split 'train', row 0 (line 1): field "
                                        f"'ner_tags' position 0: tag 'X-PER' (label id 1): unknown prefix 'X-'")
    labels.write_text("O\nB-PER\nI-PER\nX-LOC\n")  # defined, never used: named where it is defined
    raises(lambda: load_validated(cfg), f"{labels}:4: label name 'X-LOC' (id 3): unknown prefix")
    cfg = DataConfig(source=str(tmp_path), label_names=["O", "B-PER", "I-PER", "b-loc"])
    raises(lambda: load_validated(cfg), "data.label_names[3]: label name 'b-loc' (id 3): lower-case prefix 'b'")
    with pytest.raises(ConfigError, match="both name the labels"):
        DataConfig(source="x", label_names=["O"], labels_file="labels.txt")


def test_label_names_with_tag_names_or_another_classlabel_are_refused(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", ROWS)
    raises(lambda: load_local(path, label_names=NAMES), "holds tag names", "remove it")
    hub = DatasetDict({"train": Dataset.from_dict({"tokens": [["a"]], "ner_tags": [[3]]}, features=FEATURES)})
    raises(lambda: normalize(hub, label_names=["O", "B-X", "I-X"]), "which data.label_names contradicts")
    assert label_names_of(normalize(hub, label_names=NAMES)["train"]) == NAMES


# ---------------------------------------------------------------------------------------------- tag syntax


@pytest.mark.parametrize("tag, problem", [
    ("X-PER", "unknown prefix 'X-'"), ("B_PER", "separator '_' after prefix B"), ("b-per", "lower-case prefix 'b'"),
    ("PER-B", "one-letter part '-B' at the end: the prefix comes first")])
def test_malformed_tags_are_refused_in_every_format(tmp_path, tag, problem):
    conll = _file(tmp_path / "c", "train.txt", f"EU B-ORG\nsays O\n\nPeter {tag}\n".encode())
    raises(lambda: load_local(conll), f"{conll}:4: tag {tag!r}: {problem}")
    rows = [ROWS[0], {"tokens": ["Peter", "B."], "ner_tags": ["O", tag]}]
    jsonl = write_jsonl(_file(tmp_path / "j", "x", b"").parent / "train.jsonl", rows)
    raises(lambda: load_local(jsonl), f"{jsonl} split 'train', row 1 (line 2): field 'ner_tags' position 1: "
                                      f"tag {tag!r}: {problem}")
    parquet = write_parquet(_file(tmp_path / "p", "x", b"").parent / "test.parquet", pa.Table.from_pylist(rows),
                            features=None)
    raises(lambda: load_local(parquet), f"{parquet} split 'test', row 1: field 'ner_tags' position 1: tag {tag!r}")
    names = ["O", "B-PER", tag]
    classlabel = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=names))})
    hub = DatasetDict({"train": Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0, 2]]}, features=classlabel)})
    raises(lambda: normalize(hub, source="org/data"), "org/data split 'train', row 0: field 'ner_tags' position 1: "
                                                      f"tag {tag!r} (label id 2)")
    ints = write_jsonl(_file(tmp_path / "i", "x", b"").parent / "train.jsonl", [{"tokens": ["a"], "ner_tags": [2]}])
    raises(lambda: load_local(ints, label_names=names), f"tag {tag!r} (label id 2): {problem}")


def test_real_scheme_shapes_stay_valid():
    few_nerd = ["O", "person-actor", "art-film", "location-GPE", "event-attack/battle/war/militaryconflict"]
    for scheme in ("auto", "IO"):
        assert invalid_tags(few_nerd, scheme) == {}
    assert invalid_tags(["O", "B-PER", "I-PER", "I-LOC"], "auto") == {}  # IOB1 / IOB2
    assert invalid_tags(["O", "B-PER", "I-PER", "E-PER", "S-LOC", "L-X", "U-Y"], "BIOES") == {}
    assert invalid_tags(["O", "B-person-actor", "I-X-ray"], "IOB2") == {}  # hyphens inside a prefixed type
    assert tag_problem("S-PER", "IOB2") and tag_problem("B-PER", "IO") and tag_problem("PER", "IOB1")
    assert "bare type name next to prefixed tags" in invalid_tags(["O", "B-PER", "LOC"], "auto")["LOC"]
    for tag in ("o", "0", "B-", "B--PER", "-PER", "B PER", ""):
        assert tag_problem(tag) is not None, tag


def test_explicit_scheme_is_checked(tmp_path):
    path = _file(tmp_path, "train.txt", b"EU S-ORG\nsays O\n")
    raises(lambda: load_local(path, scheme="IOB2"), f"{path}:1: tag 'S-ORG': prefix S- is not part of the IOB2")
    assert tags_of(load_local(path, scheme="BIOES")["train"]) == [["B-ORG", "O"]]
    bare = _file(tmp_path / "io", "train.txt", b"Nolan person-director\nfilmed O\nInception art-film\n")
    for scheme in ("auto", "IO"):
        assert tags_of(load_local(bare, scheme=scheme)["train"]) == [["B-person-director", "O", "B-art-film"]]
    raises(lambda: load_local(bare, scheme="IOB1"), "bare type name without a prefix")


def test_scheme_is_detected_over_all_splits_and_reported(tmp_path):
    (tmp_path / "train.txt").write_text("Loan I-ORG\nCorp I-ORG\nBank B-ORG\n")
    (tmp_path / "test.txt").write_text("John I-PER\nsaid O\n")
    report = LoadReport()
    dsd = load_local(tmp_path, report=report)
    assert (report.scheme, report.scheme_given, report.format) == ("IOB1", False, "column files")
    assert tags_of(dsd["train"]) == [["B-ORG", "I-ORG", "B-ORG"]]
    assert label_names_of(dsd["test"]) == label_names_of(dsd["train"]) == ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_json_splits_share_one_label_list(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    write_jsonl(tmp_path / "test.jsonl", [{"tokens": ["Paris"], "ner_tags": ["B-LOC"]}])
    dsd = load_local(tmp_path)
    assert label_names_of(dsd["train"]) == label_names_of(dsd["test"])
    assert tags_of(dsd["test"]) == [["B-LOC"]]


# ---------------------------------------------------------------------------------------------- column counts


def test_odd_column_count_fails_on_its_line_or_is_skipped_and_recorded(tmp_path):
    text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ O\nGerman JJ B-NP B-MISC\n\n" \
           "Peter NNP B-NP B-PER\nBlackburn NNP I-NP extra I-PER\n"
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(text if split == "train" else CONLL)
    raises(lambda: load_local(tmp_path), f"{tmp_path / 'train.txt'}:4: expected 4 columns (like line 3), found 3: "
                                         f"'rejects VBZ O'", "data.skip_malformed=true")
    report = LoadReport()
    dsd = load_local(tmp_path, skip_malformed=True, report=report)
    assert dsd["train"]["tokens"] == [["EU", "German"], ["Peter"]]
    assert report.skipped_lines == {str(tmp_path / "train.txt"): [4, 8]} and report.num_skipped == 2
    dsd, info = build_dataset(DataConfig(source=str(tmp_path), skip_malformed=True))
    assert info.build.skipped_lines == 2
    assert "skipped 2 malformed lines (data.skip_malformed): train.txt lines 4, 8" in info.build.steps
    (tmp_path / "train.txt").write_text(CONLL)
    _, clean = build_dataset(DataConfig(source=str(tmp_path), skip_malformed=True))
    assert clean.build.skipped_lines == 0 and not any("malformed" in s for s in clean.build.steps)


def test_expected_count_is_the_files_majority(tmp_path):
    path = _file(tmp_path, "train.tsv", b"EU\tNNP\tB-ORG\nrejects\tO\ncall\tO\n\nPeter\tB-PER\n")
    raises(lambda: load_local(path), f"{path}:1: expected 2 columns (like line 2), found 3")
    empty_tag = _file(tmp_path / "e", "train.tsv", b"EU\tB-ORG\nrejects\t \n")
    raises(lambda: load_local(empty_tag), f"{empty_tag}:2: empty tag column")
    one_column = _file(tmp_path / "one", "train.txt", b"EU\nrejects\n")
    raises(lambda: load_local(one_column), f"{one_column}:1: the token lines have 1 column(s)")


def test_wnut_style_stray_mark_line(tmp_path):
    """WNUT-17's dev file ends with a line holding only U+FEFF: a 1-column line in a 2-column file."""
    path = _file(tmp_path, "dev.conll", "Discovery\tB-corporation\n!\tO\n\n\ufeff\n".encode())
    raises(lambda: load_local(path), f"{path}:4: expected 2 columns (like line 1), found 1: '\\ufeff'")
    parsed = read_column_file(path, skip_malformed=True)
    assert (parsed.tokens, parsed.skipped, parsed.columns) == ([["Discovery", "!"]], [4], 2)


# ---------------------------------------------------------------------------------------------- empty input


def test_column_files_separators_and_empty_files(tmp_path):
    path = _file(tmp_path, "train.txt", b"-DOCSTART- O\n\n\n\nEU B-ORG\n-DOCSTART- O\nsays O\n\n\n-DOCSTART- O\n\n")
    assert load_local(path)["train"]["tokens"] == [["EU"], ["says"]]
    only_markers = _file(tmp_path / "m", "train.txt", b"-DOCSTART- -X- -X- O\n\n\n")
    raises(lambda: load_local(only_markers), f"{only_markers}: no sentence found")
    raises(lambda: load_local(_file(tmp_path / "z", "train.txt", b"")), "no sentence found")


def test_empty_sentence_in_tabular_data_names_split_row_field(tmp_path):
    rows = [ROWS[0], {"tokens": [], "ner_tags": []}]
    jsonl = write_jsonl(tmp_path / "train.jsonl", rows)
    raises(lambda: load_local(jsonl), f"{jsonl} split 'train', row 1 (line 2): empty sentence (field 'tokens'")
    parquet = write_parquet(tmp_path / "test.parquet", pa.Table.from_pylist(rows), features=None)
    raises(lambda: load_local(parquet), f"{parquet} split 'test', row 1: empty sentence")
    hub = DatasetDict({"validation": Dataset.from_dict({"tokens": [["a"], []], "ner_tags": [[0], []]},
                                                       features=FEATURES)})
    raises(lambda: normalize(hub, source="org/data"), "org/data split 'validation', row 1: empty sentence")
    raises(lambda: load_local(_file(tmp_path / "e", "train.jsonl", b"\n\n")), "no rows (the file is empty)")


def test_empty_brat_document_is_named(tmp_path):
    (tmp_path / "a.txt").write_text("Київ є столиця .\n", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tLOC 0 4\tКиїв\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "b.ann").write_text("", encoding="utf-8")
    split = tmp_path / "split.txt"
    split.write_text("DEV\na\nTEST\nb\n")
    raises(lambda: load_brat_corpus(tmp_path, split), f"{tmp_path / 'b.txt'}: empty document (no token)")


def test_brat_bom_keeps_offsets_and_undecodable_bytes_are_named(tmp_path):
    txt, ann = tmp_path / "d.txt", tmp_path / "d.ann"
    txt.write_bytes("\ufeffТарас живе у Києві .\r\n".encode())
    ann.write_bytes("\ufeffT1\tPERS 1 6\tТарас\r\nT2\tLOC 14 19\tКиєві\r\n".encode())  # brat counts the mark
    assert read_brat_document(txt, ann) == [(["Тарас", "живе", "у", "Києві", "."],
                                             ["B-PERS", "O", "O", "B-LOC", "O"])]
    txt.write_bytes("Тарас живе\n".encode("cp1251"))
    raises(lambda: read_brat_document(txt, ann), f"{txt}:1: byte offset 0: cannot decode")


# ---------------------------------------------------------------------------------------------- JSON lines


@pytest.mark.parametrize("lines, message", [
    (['{"tokens": ["a"], "ner_tags": ["O"]}', '{"tokens": ["b"], "ner_tags": ["O"'], ":2: invalid JSON at column"),
    (['{"tokens": ["a"], "ner_tags": ["O"]}', '["b", "O"]'], ":2: expected a JSON object per row, found list"),
    (['{"tokens": ["a"], "ner_tags": ["O"]}', '{"tokens": ["b"], "ner_tags": [0]}'],
     ":2: field 'ner_tags' is list of number, but list of string on line 1"),
    (['{"tokens": ["a", 1], "ner_tags": ["O", "O"]}'], ":1: field 'tokens' is a list mixing number and string"),
])
def test_broken_json_lines_name_the_line(tmp_path, lines, message):
    path = write_jsonl(tmp_path / "train.jsonl", [])
    path.write_text("\n".join(lines) + "\n")
    raises(lambda: load_local(path), f"{path}{message}")


@pytest.mark.parametrize("row, message", [
    ({"tokens": "a b", "ner_tags": ["O", "O"]}, "field 'tokens' must be a list per row, found string"),
    ({"tokens": ["a", None], "ner_tags": ["O", "O"]}, "row 0 (line 1): field 'tokens' position 1: null token"),
    ({"tokens": ["a"], "ner_tags": [None]}, "field 'ner_tags' position 0: null tag"),
    ({"tokens": ["a"], "ner_tags": [1.5]}, "field 'ner_tags' must hold tag names or integer ids, found double"),
    ({"tokens": ["a", "b"], "ner_tags": ["O"]}, "row 0 (line 1): 'tokens' has 2 items but 'ner_tags' has 1"),
    ({"words": ["a"], "ner_tags": ["O"]}, "missing column 'tokens'; columns are ['words', 'ner_tags']"),
])
def test_malformed_rows_name_split_row_and_field(tmp_path, row, message):
    path = write_jsonl(tmp_path / "train.jsonl", [row])
    raises(lambda: load_local(path), f"{path} split 'train'", message)


# ---------------------------------------------------------------------------------------------- commands


def test_hubtools_data_json_summary(tmp_path, capsys):
    (tmp_path / "train.txt").write_text("Loan I-ORG\nCorp I-ORG\nBank B-ORG\n\nJohn I-PER\nbad\n")
    (tmp_path / "test.txt").write_text("Mary I-PER\n")
    assert cli.main(["data", str(tmp_path), "data.skip_malformed=true", "--json", "--head", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scheme"] == "IOB1" and summary["converted_to"] == "IOB2" and not summary["scheme_given"]
    assert summary["label_names"] == ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert summary["skipped_lines"] == {"total": 1, "files": {str(tmp_path / "train.txt"): [6]}}
    assert list(summary["splits"]) == ["train", "test"]
    assert summary["splits"]["train"] == {"sentences": 2, "words": 4, "entities": {"ORG": 2, "PER": 1},
                                          "head": [{"tokens": ["Loan", "Corp", "Bank"],
                                                    "tags": ["B-ORG", "I-ORG", "B-ORG"]}]}


def test_hubtools_data_text_summary_and_build():
    cfg = data_config("generate:conll2003", ["data.generate={num_sentences: 60, seed: 1}"])
    text = format_summary(summarize(cfg, head=2))
    assert "source   generate:conll2003 (generated)" in text
    assert "scheme   IOB2 (detected), converted to IOB2" in text and "skipped  0 malformed line(s)" in text
    assert "train: first 2 rows" in text and "entity type" in text
    built = summarize(data_config("generate:conll2003", ["data.generate={num_sentences: 60, seed: 1}",
                                                         "data.max_samples={train: 5}"]), build=True)
    assert built["splits"]["train"]["sentences"] == 5 and "capped train at 5 sentences" in built["build_steps"]
    with pytest.raises(ConfigError, match="only data.key=value settings"):
        data_config("x", ["training.seed=1"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in data: \['skip_malformed_lines'\]"):
        data_config("x", ["data.skip_malformed_lines=true"])


def test_bad_source_prints_one_line_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HUBTOOLS_DEBUG", raising=False)
    path = _file(tmp_path, "train.conll", b"EU B-ORG\nPeter X-PER\n")
    with pytest.raises(SystemExit) as info:
        cli.main(["data", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"hubtools data: error: {path}:2: tag 'X-PER': unknown prefix 'X-': prefixes are B-, E-, I-, L-, " \
                  f"S-, U-\n"
    for argv, env in ((["data", str(path), "--debug"], None), (["--debug", "data", str(path)], None),
                      (["data", str(path)], "1")):
        if env:
            monkeypatch.setenv("HUBTOOLS_DEBUG", env)
        with pytest.raises(SystemExit):
            cli.main(argv)
        err = capsys.readouterr().err
        assert "Traceback" in err and err.splitlines()[-1].startswith("hubtools data: error:")


def test_push_errors_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HUBTOOLS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        cli.main(["push", str(tmp_path), "--repo-id", "acme/x", "--dry-run"])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("hubtools push: error: ")


def test_run_reporting_errors_lets_bugs_through(capsys):
    assert run_reporting_errors("prog", lambda: 7) == 7
    with pytest.raises(ZeroDivisionError):
        run_reporting_errors("prog", lambda: 1 / 0)
    with pytest.raises(SystemExit):
        run_reporting_errors("prog", lambda: (_ for _ in ()).throw(DataError("a\nb")))
    assert capsys.readouterr().err == "prog: error: a b\n"


# ---------------------------------------------------------------------------------------------- dataset card


@pytest.mark.slow
def test_dataset_card_renders_skipped_lines_only_when_some(exported_finer_run, tmp_path):
    import shutil

    from hubtools.cards import check_cards, render_cards
    from hubtools.run import read_results

    run = shutil.copytree(exported_finer_run, tmp_path / "run")
    results = read_results(run)
    build = results.dataset.build
    build.skipped_lines = 1
    build.steps.insert(1, "skipped 1 malformed line (data.skip_malformed): emerging.dev.conll line 16742")
    render_cards(run, results)
    text = (run / "dataset" / "README.md").read_text()
    assert ("- Malformed source lines skipped (`data.skip_malformed`): 1; where is listed in the steps below.\n"
            f"- Sentences without any selected entity dropped: {build.dropped_without_entities}.\n") in text
    assert "1. skipped 1 malformed line (data.skip_malformed): emerging.dev.conll line 16742\n" in text
    build.skipped_lines = 0
    render_cards(run, results)
    assert "Malformed source lines" not in (run / "dataset" / "README.md").read_text()
    assert check_cards(run) == []
