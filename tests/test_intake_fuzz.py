"""Property-based intake tests: valid files of every local format, corrupted at random (bytes, columns, tags,
lengths, encodings, truncation), go through the recipe's data path (``build_dataset``). The only exception
allowed out is a one-line DataError whose message starts with the file (or folder) it is about, and nothing
appears beside the data (no run folder, no partial output). Plus: the vectorized scheme detection and
conversion equal the per-sentence reference.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hubtools.config import DataConfig
from hubtools.data.build import build_dataset
from hubtools.data.schemes import (
    SCHEMES,
    detect_scheme,
    detect_scheme_ids,
    invalid_tags,
    tag_problem,
    to_iob2,
    to_iob2_ids,
)
from hubtools.data.validation import label_names_of, validate_dataset
from hubtools.errors import DataError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPES = ("PER", "LOC", "ORG")
LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
SPLITS = ("train", "dev", "test")
FORMATS = ("conll", "tsv", "jsonl", "jsonl-ids", "parquet", "brat")

words = st.text(alphabet="abcdefghKLMNOäöüЖЯ.,'", min_size=1, max_size=6)
tags = st.sampled_from(LABELS)
sentence = st.lists(st.tuples(words, tags), min_size=1, max_size=5)
corpus = st.lists(sentence, min_size=2, max_size=4)
junk_tag = st.one_of(st.sampled_from(["X-PER", "B_PER", "b-per", "PER-B", "o", "", "B-", "S-LOC", "I PER", "7"]),
                     st.text(max_size=6))


def _conll(sentences, sep: str) -> str:
    return "\n".join("".join(f"{w}{sep}{'NN' + sep if sep == ' ' else ''}{t}\n" for w, t in s)
                     for s in sentences)


def _rows(sentences, ids: bool = False) -> list[dict]:
    return [{"tokens": [w for w, _ in s], "ner_tags": [LABELS.index(t) if ids else t for _, t in s]}
            for s in sentences]


def _parquet(sentences) -> bytes:
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    buf = io.BytesIO()
    pq.write_table(Dataset.from_list(_rows(sentences, ids=True), features=features).data.table, buf)
    return buf.getvalue()


def _brat(sentences, name: str) -> dict[str, bytes]:
    """One brat document: a sentence per line, a T line per entity (IOB2 tags read as spans)."""
    text, spans = "", []
    for sent in sentences:
        current = None
        for w, t in sent:
            start = len(text)
            text += w + " "
            if t == "O":
                current = None
            elif t.startswith("B-") or current is None or current[2] != t[2:]:
                current = [start, start + len(w), t[2:]]
                spans.append(current)
            else:
                current[1] = start + len(w)
        text = text[:-1] + "\n"
    ann = "".join(f"T{i}\t{typ} {a} {b}\t{text[a:b]}\n" for i, (a, b, typ) in enumerate(spans, start=1))
    return {f"{name}.txt": text.encode(), f"{name}.ann": ann.encode()}


def write_corpus(folder: Path, fmt: str, splits: dict[str, list]) -> dict:
    """Write the splits in ``fmt`` under ``folder``; returns the DataConfig keywords that read them."""
    files: dict[str, bytes] = {}
    if fmt == "brat":
        for split, sentences in splits.items():  # 10 copies: train keeps enough to carve a validation split
            files.update(_brat(sentences * 10, split))
        dev = "\n".join(s for s in splits if s != "test")
        files["dev-test-split.txt"] = f"DEV\n{dev}\nTEST\ntest\n".encode()
    for split, sentences in splits.items():
        if fmt == "conll":
            files[f"{split}.conll"] = ("-DOCSTART- NN O\n\n" + _conll(sentences, " ")).encode()
        elif fmt == "tsv":
            files[f"{split}.tsv"] = _conll(sentences, "\t").encode()
        elif fmt in ("jsonl", "jsonl-ids"):
            rows = _rows(sentences, ids=fmt == "jsonl-ids")
            files[f"{split}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        elif fmt == "parquet":
            files[f"{split}.parquet"] = _parquet(sentences)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {"label_names": LABELS} if fmt == "jsonl-ids" else {}


@st.composite
def row_corruption(draw, sentences: list) -> list:
    """Sentences with one token's tag or word replaced, a tag dropped, or a sentence emptied."""
    sentences = [list(s) for s in sentences]
    i = draw(st.integers(0, len(sentences) - 1))
    j = draw(st.integers(0, len(sentences[i]) - 1))
    kind = draw(st.sampled_from(["tag", "word", "drop", "empty", "none"]))
    word, tag = sentences[i][j]
    if kind == "tag":
        sentences[i][j] = (word, draw(junk_tag))
    elif kind == "word":
        sentences[i][j] = (draw(st.text(max_size=4)), tag)
    elif kind == "drop":
        sentences[i][j] = (word, None)
    elif kind == "empty":
        sentences[i] = []
    return sentences


def _drop_tags(folder: Path) -> None:
    """Make a ``None`` tag mean "missing": drop it from JSON rows, drop the tag column from column files."""
    for path in folder.iterdir():
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            for r in rows:
                r["ner_tags"] = [t for t in r["ner_tags"] if t is not None]
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        elif path.suffix in (".conll", ".tsv"):
            path.write_text(re.sub(r"[ \t]None$", "", path.read_text(), flags=re.M))


@st.composite
def byte_corruption(draw, data: bytes) -> bytes:
    """Flipped or inserted bytes, a cut, another encoding, a byte-order mark or CRLF line ends."""
    kind = draw(st.sampled_from(["flip", "insert", "truncate", "encode", "bom", "crlf", "none"]))
    if not data or kind == "none":
        return data
    pos = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1:]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=4)) + data[pos:]
    if kind == "truncate":
        return data[:pos]
    if kind == "encode":
        text = data.decode("utf-8", errors="replace")
        return text.encode(draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-32"])), errors="replace")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    return data.replace(b"\n", b"\r\n")


def snapshot(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*"))


def assert_intake(root: Path, folder: Path, **config) -> None:
    """build_dataset either succeeds with a valid IOB2 dataset or raises a located one-line DataError; nothing
    is written under ``root``."""
    before = snapshot(root)
    try:
        dsd, _ = build_dataset(DataConfig(source=str(folder), **config))
    except DataError as err:
        message = str(err)
        event("DataError: " + re.sub(r"[0-9]+|/\S*|'[^']*'", "", message)[:50])
        assert "\n" not in message, message
        assert message.startswith(str(folder)), message
        named = Path(re.split(r"(?::\d+)?[: ]", message[len(str(folder)):], maxsplit=1)[0].join([str(folder), ""]))
        assert named.exists(), (named, message)
    else:
        event("loaded")
        validate_dataset(dsd)
        for ds in dsd.values():
            assert all(n == "O" or n[:2] in ("B-", "I-") for n in label_names_of(ds))
    assert snapshot(root) == before


@FUZZ
@given(fmt=st.sampled_from(FORMATS), data=st.data(), sentences=st.lists(corpus, min_size=3, max_size=3),
       skip=st.booleans())
def test_row_corruption_in_any_format(fmt, data, sentences, skip):
    splits = dict(zip(SPLITS, sentences, strict=True))
    target = data.draw(st.sampled_from(SPLITS))
    splits[target] = data.draw(row_corruption(splits[target]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "data"
        folder.mkdir()
        if fmt == "parquet" or fmt == "jsonl-ids" or fmt == "brat":  # tags are ids or spans: keep them valid
            splits = {s: [[(w, t if t in LABELS else "O") for w, t in sent] for sent in v] for s, v in splits.items()}
        config = write_corpus(folder, fmt, splits)
        _drop_tags(folder)
        assert_intake(root, folder, skip_malformed=skip, **config)


@FUZZ
@given(fmt=st.sampled_from(FORMATS), data=st.data(), sentences=st.lists(corpus, min_size=3, max_size=3),
       encoding=st.sampled_from(["utf-8", "utf-8", "latin-1", "cp1252", "utf-16"]), skip=st.booleans())
def test_byte_corruption_in_any_format(fmt, data, sentences, encoding, skip):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "data"
        folder.mkdir()
        config = write_corpus(folder, fmt, dict(zip(SPLITS, sentences, strict=True)))
        files = sorted(p for p in folder.iterdir())
        for _ in range(data.draw(st.integers(1, 2))):
            path = data.draw(st.sampled_from(files))
            path.write_bytes(data.draw(byte_corruption(path.read_bytes())))
        assert_intake(root, folder, encoding=encoding, skip_malformed=skip, **config)


@FUZZ
@given(data=st.data(), sentences=st.lists(corpus, min_size=3, max_size=3))
def test_line_and_column_corruption_of_column_files(data, sentences):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "data"
        folder.mkdir()
        write_corpus(folder, data.draw(st.sampled_from(["conll", "tsv"])), dict(zip(SPLITS, sentences, strict=True)))
        path = data.draw(st.sampled_from(sorted(folder.iterdir())))
        lines = path.read_text().split("\n")
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["drop column", "add column", "delete line", "duplicate", "junk line"]))
        sep = "\t" if path.suffix == ".tsv" else " "
        if kind == "drop column":
            lines[i] = sep.join(lines[i].split(sep)[1:])
        elif kind == "add column":
            lines[i] = lines[i] + sep + data.draw(words)
        elif kind == "delete line":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines.insert(i, data.draw(st.text(max_size=8)))
        path.write_text("\n".join(lines))
        skip = data.draw(st.booleans())
        assert_intake(root, folder, skip_malformed=skip)


# ---------------------------------------------------------------------------------------------- schemes

valid_type = st.from_regex(r"[A-Za-z]{2,6}(-[A-Za-z/]{2,8})?", fullmatch=True)


@FUZZ
@given(prefix=st.sampled_from("BIESLU"), typ=valid_type)
def test_tag_syntax(prefix, typ):
    assert tag_problem(f"{prefix}-{typ}", "BIOES") is None and tag_problem(typ, "IO") is None
    assert tag_problem(f"{prefix}_{typ}") and tag_problem(f"{prefix.lower()}-{typ}")
    assert tag_problem(f"{typ}-{prefix}") and tag_problem(f"X-{typ}") and tag_problem(f"{prefix}-{typ}", "IO") \
        or prefix == "I"


ALL_NAMES = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "L-B", "U-B", "I-C"]


@settings(max_examples=100, deadline=None)
@given(scheme=st.sampled_from(SCHEMES),
       sentences=st.lists(st.lists(st.sampled_from(ALL_NAMES + ["A", "c-d"]), max_size=6), min_size=1, max_size=5))
def test_vectorized_conversion_and_detection_match_the_reference(scheme, sentences):
    names = sorted({t for s in sentences for t in s}) or ["O"]
    values = np.array([names.index(t) for s in sentences for t in s], dtype=np.int64)
    offsets = np.cumsum([0] + [len(s) for s in sentences])
    new, new_names = to_iob2_ids(names, values, offsets, scheme)
    assert [new_names[i] for i in new] == [t for s in sentences for t in to_iob2(s, scheme)]
    if not invalid_tags(names):
        assert detect_scheme_ids(names, values, offsets) == detect_scheme(sentences)


def test_fuzz_helpers_write_valid_corpora(tmp_path):
    """The generators of the properties above write data that loads (so corruption is what fails)."""
    sentences = [[("Anna", "B-PER"), ("Berg", "I-PER"), ("ging", "O")], [("nach", "O"), ("Köln", "B-LOC")]]
    for fmt in FORMATS:
        folder = tmp_path / fmt
        folder.mkdir()
        config = write_corpus(folder, fmt, {s: sentences for s in SPLITS})
        dsd, _ = build_dataset(DataConfig(source=str(folder), **config))
        names = label_names_of(dsd["test"])
        assert [[names[i] for i in row] for row in dsd["test"]["ner_tags"][:2]] == [["B-PER", "I-PER", "O"],
                                                                                     ["O", "B-LOC"]], fmt
