"""brat standoff reader for ner-uk (lang-uk): `*.txt` + `*.ann` pairs -> IOB2 sentences.

The text file holds one sentence per line with tokens separated by whitespace; `T` lines of the
annotation file give character offsets into the whole file. Both layouts are read:

* v1.0: ``T1<TAB>ORG 1128 1136<TAB>text``
* v2.0: ``T1<TAB>ORG<TAB>1128<TAB>1136<TAB>text``

Policy:

* An entity covers every token that shares at least one character with its span, so an offset inside
  a token (``[Київ]ської``) widens the entity to whole tokens; the annotated text is not compared.
* Rejected with :class:`DataError` (the message names the file, annotation ids and line):
  discontinuous spans (``0 4;9 12``), spans crossing a line break, spans covering only whitespace,
  offsets outside the text, and two entities that share a token (overlapping or nested annotations).
* Lines other than ``T`` lines (relations, events, attributes, notes) are ignored; empty lines are skipped.
* Empty text lines separate sentences (as blank lines in column files); a document whose ``.txt`` holds no
  token at all is rejected, naming the file.
* Files are decoded by :mod:`hubtools.data.reading` (``data.encoding``; undecodable bytes name the file,
  line and byte offset). A byte-order mark at the start of a ``.txt`` counts as one character for the
  offsets, as brat reads it, and belongs to no token; one at the start of an ``.ann`` is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from hubtools.data.reading import read_text, split_lines
from hubtools.data.schemes import iob2_label_names
from hubtools.errors import DataError

_TOKEN = re.compile(r"\S+")
SPLIT_NAMES = {"DEV": "train", "TEST": "test"}


@dataclass(frozen=True)
class BratEntity:
    """One text-bound annotation: id, type, character span and its line in the .ann file."""

    ann_id: str
    label: str
    start: int
    end: int
    ann_line: int


def _parse_offsets(ann_path: Path, lineno: int, ann_id: str, offsets: list[str]) -> tuple[int, int]:
    where = f"{ann_path} line {lineno} ({ann_id})"
    if any(";" in part for part in offsets):
        raise DataError(f"{where}: discontinuous span {' '.join(offsets)!r} is not supported")
    if len(offsets) != 2:
        raise DataError(f"{where}: expected 'TYPE START END', got offsets {offsets!r}")
    try:
        start, end = int(offsets[0]), int(offsets[1])
    except ValueError:
        raise DataError(f"{where}: offsets {offsets!r} are not integers") from None
    if not 0 <= start < end:
        raise DataError(f"{where}: invalid span {start}-{end}")
    return start, end


def read_brat_annotations(ann_path: str | Path, encoding: str = "utf-8") -> list[BratEntity]:
    """Parse the `T` lines of a brat `.ann` file (v1.0 or v2.0 layout); other lines are ignored."""
    ann_path = Path(ann_path)
    entities = []
    for lineno, line in enumerate(split_lines(read_text(ann_path, encoding)), start=1):
        if not line.startswith("T"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{ann_path} line {lineno}: text-bound annotation without a tab: {line!r}")
        ann_id = fields[0]
        if " " in fields[1]:  # v1.0: "TYPE START END" (or "TYPE S E;S E")
            label, *offsets = fields[1].split(" ")
        else:  # v2.0: TYPE, START, END in separate fields, the text last
            label, offsets = fields[1], fields[2:4]
        start, end = _parse_offsets(ann_path, lineno, ann_id, offsets)
        if not label or any(c.isspace() for c in label):
            raise DataError(f"{ann_path} line {lineno} ({ann_id}): missing or malformed entity type {label!r}")
        entities.append(BratEntity(ann_id, label, start, end, lineno))
    return entities


def read_brat_document(
    txt_path: str | Path, ann_path: str | Path, types: Collection[str] | None = None, encoding: str = "utf-8"
) -> list[tuple[list[str], list[str]]]:
    """Read one brat document into ``(tokens, IOB2 tags)`` per non-empty text line.

    ``types`` keeps only entities of those types (others are dropped before the overlap check).
    """
    txt_path, ann_path = Path(txt_path), Path(ann_path)
    text = read_text(txt_path, encoding, bom="space")  # line ends kept: "\r\n" is 2 offset characters
    if not text.strip():
        raise DataError(f"{txt_path}: empty document (no token); remove it from the split file or give it text")
    # tokens as (line number, start, end); offsets are into the whole file
    lines: list[list[tuple[int, int]]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        lines.append([(offset + m.start(), offset + m.end()) for m in _TOKEN.finditer(line)])
        offset += len(line)
    starts = [(start, li, ti) for li, toks in enumerate(lines) for ti, (start, _) in enumerate(toks)]
    tags = [["O"] * len(toks) for toks in lines]
    owner: dict[tuple[int, int], BratEntity] = {}
    for ent in read_brat_annotations(ann_path, encoding):
        if types is not None and ent.label not in types:
            continue
        where = f"{ann_path} line {ent.ann_line} ({ent.ann_id} {ent.label} {ent.start}-{ent.end})"
        if ent.end > len(text):
            raise DataError(f"{where}: span ends after the end of {txt_path} ({len(text)} characters)")
        if "\n" in text[ent.start : ent.end].rstrip("\r\n"):
            raise DataError(f"{where}: span crosses a line break in {txt_path}")
        covered = [(li, ti) for s, li, ti in starts if s < ent.end and lines[li][ti][1] > ent.start]
        if not covered:
            raise DataError(f"{where}: span covers no token of {txt_path}")
        for position in covered:
            if position in owner:
                other = owner[position]
                raise DataError(
                    f"{ann_path}: overlapping annotations {other.ann_id} (line {other.ann_line}) and "
                    f"{ent.ann_id} (line {ent.ann_line}) share token {position[1] + 1} of text line "
                    f"{position[0] + 1} in {txt_path}; nested or overlapping entities are not supported"
                )
            owner[position] = ent
        for k, (li, ti) in enumerate(covered):
            tags[li][ti] = ("B-" if k == 0 else "I-") + ent.label
    return [
        ([text[s:e] for s, e in toks], line_tags) for toks, line_tags in zip(lines, tags, strict=True) if toks
    ]


def read_split_file(split_file: str | Path, encoding: str = "utf-8") -> dict[str, list[str]]:
    """Read a ner-uk ``dev-test-split.txt``: ``DEV``/``TEST`` headers followed by document names."""
    split_file = Path(split_file)
    splits: dict[str, list[str]] = {}
    current = None
    for lineno, raw in enumerate(split_lines(read_text(split_file, encoding)), start=1):
        name = raw.strip()
        if not name:
            continue
        if name in SPLIT_NAMES:
            current = SPLIT_NAMES[name]
            splits.setdefault(current, [])
        elif current is None:
            raise DataError(f"{split_file} line {lineno}: document {name!r} before a DEV/TEST header")
        else:
            splits[current].append(name)
    if not splits:
        raise DataError(f"{split_file}: no DEV or TEST section")
    return splits


def _index_documents(data_dir: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for path in sorted(data_dir.rglob("*.txt")):
        index.setdefault(path.name[: -len(".txt")], []).append(path)
    return index


def _resolve(index: dict[str, list[Path]], name: str, split_file: Path, split: str) -> tuple[Path, Path]:
    paths = index.get(name, [])
    if len(paths) != 1:
        problem = "not found" if not paths else f"ambiguous ({', '.join(map(str, paths))})"
        raise DataError(f"{split_file}: document {name!r} of split {split!r}: {problem}")
    txt = paths[0]
    ann = txt.with_name(f"{name}.ann")
    if not ann.is_file():
        raise DataError(f"{split_file}: document {name!r} of split {split!r}: {ann} is missing")
    return txt, ann


def load_brat_corpus(
    data_dir: str | Path, split_file: str | Path, types: list[str] | None = None, encoding: str = "utf-8"
) -> DatasetDict:
    """Load the ner-uk brat corpus as ``DatasetDict(train=DEV documents, test=TEST documents)``.

    Columns: ``tokens`` (Sequence(string)), ``ner_tags`` (Sequence(ClassLabel), IOB2 over the sorted
    types), ``document`` (the name from the split file). Documents are looked up recursively under
    ``data_dir`` as ``NAME.txt``/``NAME.ann``. ``types=None`` uses every type found; otherwise only the
    listed types are kept and the label set is built from them.
    """
    data_dir, split_file = Path(data_dir), Path(split_file)
    index = _index_documents(data_dir)
    rows: dict[str, list[tuple[list[str], list[str], str]]] = {}
    for split, names in read_split_file(split_file, encoding).items():
        rows[split] = []
        for name in names:
            txt, ann = _resolve(index, name, split_file, split)
            rows[split].extend((toks, tags, name) for toks, tags in read_brat_document(txt, ann, types, encoding))
        if not rows[split]:
            raise DataError(f"{split_file}: split {split!r} names no document")
    found = {
        tag[2:] for split_rows in rows.values() for _, tags, _ in split_rows for tag in tags if tag != "O"
    }
    names = iob2_label_names(sorted(set(found if types is None else types)))
    features = Features(
        {
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=names)),
            "document": Value("string"),
        }
    )
    label_id = {name: i for i, name in enumerate(names)}
    return DatasetDict(
        {
            split: Dataset.from_dict(
                {
                    "tokens": [toks for toks, _, _ in split_rows],
                    "ner_tags": [[label_id[t] for t in tags] for _, tags, _ in split_rows],
                    "document": [doc for _, _, doc in split_rows],
                },
                features=features,
            )
            for split, split_rows in rows.items()
        }
    )
