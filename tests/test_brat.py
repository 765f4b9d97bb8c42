"""brat standoff reader on generated ner-uk-like documents."""

from pathlib import Path

import pytest

from hubtools.data.brat import load_brat_corpus, read_brat_document
from hubtools.errors import DataError

TEXT = "Тарас Шевченко народився у Моринцях .\n\nВін навчався у Академії мистецтв у Петербурзі .\n"


def _span(text: str, phrase: str) -> tuple[int, int]:
    start = text.index(phrase)
    return start, start + len(phrase)


def _write(tmp_path: Path, name: str, text: str, ann_lines: list[str]) -> tuple[Path, Path]:
    txt, ann = tmp_path / f"{name}.txt", tmp_path / f"{name}.ann"
    txt.write_text(text, encoding="utf-8")
    ann.write_text("".join(line + "\n" for line in ann_lines), encoding="utf-8")
    return txt, ann


def _t(ann_id: str, label: str, text: str, phrase: str, v2: bool = False) -> str:
    start, end = _span(text, phrase)
    return (
        f"{ann_id}\t{label}\t{start}\t{end}\t{phrase}" if v2 else f"{ann_id}\t{label} {start} {end}\t{phrase}"
    )


def test_offsets_multi_token_entities_and_ignored_lines(tmp_path):
    txt, ann = _write(
        tmp_path,
        "doc.tok",
        TEXT,
        [
            _t("T1", "PERS", TEXT, "Тарас Шевченко"),
            _t("T2", "LOC", TEXT, "Моринцях"),
            _t("T3", "ORG", TEXT, "Академії мистецтв у Петербурзі"),
            "R1\tPart-of Arg1:T2 Arg2:T3",
            "#1\tAnnotatorNotes T1\tпоет",
        ],
    )
    sentences = read_brat_document(txt, ann)
    assert sentences == [
        (
            ["Тарас", "Шевченко", "народився", "у", "Моринцях", "."],
            ["B-PERS", "I-PERS", "O", "O", "B-LOC", "O"],
        ),
        (
            ["Він", "навчався", "у", "Академії", "мистецтв", "у", "Петербурзі", "."],
            ["O", "O", "O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"],
        ),
    ]


def test_v2_tab_layout_and_partial_token_offsets_widen_to_tokens(tmp_path):
    start, _ = _span(TEXT, "Моринцях")
    txt, ann = _write(
        tmp_path,
        "v2",
        TEXT,
        [_t("T1", "PERS", TEXT, "Шевченко", v2=True), f"T2\tLOC\t{start + 2}\t{start + 5}\tрин"],
    )
    tokens, tags = read_brat_document(txt, ann)[0]
    assert tags == ["O", "B-PERS", "O", "O", "B-LOC", "O"]
    assert read_brat_document(txt, ann, types=["LOC"])[0][1] == ["O", "O", "O", "O", "B-LOC", "O"]


def test_crlf_offsets_count_both_characters(tmp_path):
    text = TEXT.replace("\n", "\r\n")
    txt, ann = _write(tmp_path, "crlf", text, [_t("T1", "LOC", text, "Петербурзі")])
    txt.write_bytes(text.encode("utf-8"))  # write_text would translate newlines on some platforms
    assert read_brat_document(txt, ann)[1][1][-2:] == ["B-LOC", "O"]


@pytest.mark.parametrize(
    "second",
    [
        ("T2", "PERS", "Шевченко"),  # nested inside T1
        ("T2", "LOC", "Шевченко народився"),  # crossing T1's end
    ],
)
def test_overlapping_annotations_rejected_naming_file_ids_and_line(tmp_path, second):
    ann_id, label, phrase = second
    txt, ann = _write(
        tmp_path, "overlap", TEXT, [_t("T1", "PERS", TEXT, "Тарас Шевченко"), _t(ann_id, label, TEXT, phrase)]
    )
    with pytest.raises(DataError) as info:
        read_brat_document(txt, ann)
    message = str(info.value)
    assert str(ann) in message and "T1 (line 1)" in message and "T2 (line 2)" in message
    assert "text line 1" in message


def test_discontinuous_span_rejected(tmp_path):
    txt, ann = _write(tmp_path, "disc", TEXT, ["T1\tPERS 0 5;6 14\tТарас Шевченко", "T7\tLOC 1 2;3 4\tx y"])
    with pytest.raises(DataError, match=r"disc\.ann line 1 \(T1\): discontinuous span"):
        read_brat_document(txt, ann)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"T1\tLOC 0 {len(TEXT) + 5}\tx", "after the end"),
        (f"T1\tLOC {TEXT.index('.')} {TEXT.index('Він') + 3}\tx", "crosses a line break"),
        ("T1\tLOC 5 6\t ", "covers no token"),
        ("T1\tLOC 9 3\tx", "invalid span"),
    ],
)
def test_bad_spans_rejected(tmp_path, line, problem):
    txt, ann = _write(tmp_path, "bad", TEXT, [line])
    with pytest.raises(DataError, match=problem):
        read_brat_document(txt, ann)


def test_load_corpus_splits_features_and_subfolders(tmp_path):
    data = tmp_path / "data"
    (data / "ng").mkdir(parents=True)
    _write(data, "a.tok", TEXT, [_t("T1", "PERS", TEXT, "Тарас Шевченко")])
    _write(data / "ng", "b1", "Київ є столиця .\n", ["T1\tLOC\t0\t4\tКиїв"])
    _write(data, "unused", "Харків\n", ["T1\tLOC 0 6\tХарків"])
    split = tmp_path / "split.txt"
    split.write_text("DEV\na.tok\n\nTEST\nb1\n", encoding="utf-8")
    corpus = load_brat_corpus(data, split)
    assert corpus["train"].num_rows == 2 and corpus["test"].num_rows == 1  # the empty line is skipped
    names = corpus["train"].features["ner_tags"].feature.names
    assert names == ["O", "B-LOC", "I-LOC", "B-PERS", "I-PERS"]
    assert corpus["test"][0] == {
        "tokens": ["Київ", "є", "столиця", "."],
        "ner_tags": [1, 0, 0, 0],
        "document": "b1",
    }
    assert corpus["train"][0]["ner_tags"][:2] == [3, 4]
    restricted = load_brat_corpus(data, split, types=["PERS", "MISC"])
    assert restricted["test"][0]["ner_tags"] == [0, 0, 0, 0]
    assert restricted["train"].features["ner_tags"].feature.names == [
        "O",
        "B-MISC",
        "I-MISC",
        "B-PERS",
        "I-PERS",
    ]


def test_missing_document_named(tmp_path):
    (tmp_path / "data").mkdir()
    split = tmp_path / "split.txt"
    split.write_text("DEV\nabsent\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"document 'absent' of split 'train': not found"):
        load_brat_corpus(tmp_path / "data", split)
