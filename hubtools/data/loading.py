"""Load NER data from the Hub or local files into one normalized shape: where a source's splits come from.

Every loader returns a ``DatasetDict`` whose splits have ``tokens`` (``Sequence(string)``) and ``ner_tags``
(``Sequence(ClassLabel)``) in IOB2, whatever the source scheme, through :func:`hubtools.data.normalize.normalize`
(checks, then conversion). Messages name the file and line for column files and brat, the split, row and
field for tabular data (plus the file, and the line for JSON lines).

Local formats: ``.parquet``; ``.jsonl`` / ``.json`` (JSON lines, or one array of objects); anything else is a
column file (:mod:`hubtools.data.columns`). In a folder, split files are found by name (``train``, ``dev``,
``valid``, ``test``... with a column-file or tabular extension, or none at all).

Documents: a split may also carry ``document_id`` (string) and ``sentence_id`` (the sentence's position in its
document), SpanMarker's column names: column files whose ``-DOCSTART-`` lines open documents (numbered),
brat corpora (the document's name) and, with ``data.document_column``, tabular and Hub sources (sentences of a
document in row order). Ids are prefixed with the source split (``train/3``), so they stay unique when splits
are pooled. Sources without documents have neither column.

Integer tags need names: a ClassLabel (Hub, parquet written by ``datasets``), or ``data.label_names`` /
``data.labels_file`` for plain integers.

Empty sentences and empty documents, one rule for every format:

* column files: blank lines and ``-DOCSTART-`` lines separate sentences, and a run of them is one
  separator, so there is no empty sentence to report; a file without any token line is an error naming it.
* tabular data (JSON lines, JSON, parquet, Hub, generated): a row whose token list is empty is an error
  naming the split, row and field; a split without rows is an error naming the split.
* brat: blank text lines separate sentences, as in column files; a document whose ``.txt`` holds no token
  is an error naming that file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from datasets import Dataset, DatasetDict, load_dataset

from hubtools.data.columns import COLUMN_EXTENSIONS, ColumnLocator, column_dataset, read_column_file
from hubtools.data.normalize import normalize
from hubtools.data.reading import read_bytes, read_text, split_lines
from hubtools.data.tabular import (
    TABULAR_SUFFIXES,
    content_hash,
    features_of,
    read_json_table,
    read_parquet_table,
    table_dataset,
)
from hubtools.data.validation import DOCUMENT, TAGS, TOKENS, Locator
from hubtools.errors import DataError

SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "validation", "valid": "validation",
                 "validation": "validation", "val": "validation", "test": "test", "testa": "validation",
                 "testb": "test"}


@dataclass
class LoadReport:
    """What loading found, for the build record and ``hubtools data``.

    Attributes:
        format: ``column files``, ``JSON lines``, ``parquet``, ``brat``, ``Hub`` or ``generated``.
        files: split -> file it was read from (local sources).
        scheme: the source's tagging scheme (given as ``data.scheme`` or detected); the result is IOB2.
        scheme_given: True when ``data.scheme`` named it, False when it was detected.
        skipped_lines: file -> line numbers skipped as malformed (``data.skip_malformed``).
    """

    format: str = ""
    files: dict[str, str] = field(default_factory=dict)
    scheme: str | None = None
    scheme_given: bool = False
    skipped_lines: dict[str, list[int]] = field(default_factory=dict)

    @property
    def num_skipped(self) -> int:
        return sum(len(lines) for lines in self.skipped_lines.values())

    def skipped_summary(self, limit: int = 5) -> str:
        """``FILE line 3, 9 (2); ...``: where lines were skipped, at most ``limit`` numbers per file."""
        parts = []
        for file, lines in self.skipped_lines.items():
            shown = ", ".join(map(str, lines[:limit])) + (", ..." if len(lines) > limit else "")
            parts.append(f"{Path(file).name} line{'s' if len(lines) > 1 else ''} {shown}")
        return "; ".join(parts)


# ---------------------------------------------------------------------------------------------- tabular files


class TabularLocator(Locator):
    """Names the file, split and row (and the line, for JSON lines) of a row of a local tabular file."""

    def __init__(self, source: str, files: Mapping[str, Path],
                 line_of: Mapping[str, Callable[[int], int] | None]) -> None:
        super().__init__(source)
        self.files, self.line_of = dict(files), dict(line_of)

    def split(self, split: str) -> str:
        return f"{self.files[split]} split {split!r}"

    def row(self, split: str, row: int) -> str:
        line_of = self.line_of.get(split)
        return f"{self.split(split)}, row {row}" + (f" (line {line_of(row)})" if line_of else "")


def _read_tabular(file: Path, fmt: str, encoding: str) -> tuple[Dataset, Callable[[int], int] | None]:
    data = read_bytes(file)
    if fmt == "parquet":
        table, features = read_parquet_table(file, data)
        line_of = None
    else:
        table, line_of = read_json_table(file, data, encoding)
        features = features_of(table, file)
    return table_dataset(table, features, file, content_hash(data)), line_of


# ---------------------------------------------------------------------------------------------- local sources


def _split_name(path: Path) -> str | None:
    stem = path.name.split(".")[0].lower()
    for part in (stem, stem.split("_")[-1], stem.split("-")[-1]):
        if part in SPLIT_ALIASES:
            return SPLIT_ALIASES[part]
    return None


def file_format(path: Path) -> str:
    """``parquet``, ``JSON lines`` or ``column files``, by extension (anything else is a column file)."""
    if path.suffix == ".parquet":
        return "parquet"
    if path.suffix in (".jsonl", ".json"):
        return "JSON lines"
    return "column files"


def _local_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        return {_split_name(path) or "train": path}
    files: dict[str, Path] = {}
    for child in sorted(path.iterdir()):
        split = _split_name(child)
        if child.is_file() and split and child.suffix in COLUMN_EXTENSIONS + TABULAR_SUFFIXES + ("",):
            if split in files:
                raise DataError(f"{path}: two files for split {split!r}: {files[split].name}, {child.name}")
            files[split] = child
    if not files:
        raise DataError(f"{path}: no train/validation/test file found (names like train.txt, dev.conll, "
                        f"test.parquet, or data.data_files)")
    return _in_split_order(files)


def _in_split_order(files: Mapping[str, Path]) -> dict[str, Path]:
    order = ("train", "validation", "test")
    return dict(sorted(files.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))


def load_local(path: str | Path, scheme: str = "auto", tokens_column: str = TOKENS, tags_column: str = TAGS,
               skip_malformed: bool = False, data_files: dict[str, str] | None = None, *,
               encoding: str = "utf-8", label_names: Sequence[str] | None = None,
               label_where: Callable[[int], str] | None = None, report: LoadReport | None = None,
               document_column: str | None = None) -> DatasetDict:
    """Load a local file or folder (parquet, JSON lines, CoNLL/IOB column files) as a normalized DatasetDict.

    Split files are found by name (train/dev/valid/test...); ``data_files`` maps split names to file names
    (relative to ``path``) for folders that name them otherwise (e.g. ``{"train": "FIN5.txt"}``).
    ``label_names`` names integer tags (``label_where(i)`` says where name ``i`` was given); ``report``
    receives the format, files, scheme and skipped lines. Column files keep their ``-DOCSTART-`` documents;
    ``document_column`` names the document column of tabular files.
    """
    path = Path(path)
    report = report if report is not None else LoadReport()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if data_files and not path.is_dir():
        raise DataError(f"{path}: data.data_files needs data.source to be a folder")
    files = _in_split_order({split: path / name for split, name in data_files.items()}) if data_files \
        else _local_files(path)
    for split, file in files.items():
        if not file.is_file():
            raise DataError(f"{file}: no such file (data_files[{split!r}])")
    formats = {file_format(f) for f in files.values()}
    if len(formats) > 1:
        raise DataError(f"{path}: mixed file formats {sorted({f.suffix or '(none)' for f in files.values()})}; "
                        f"use one format for all splits")
    report.format = formats.pop()
    report.files = {split: str(f) for split, f in files.items()}
    if report.format == "column files":
        if (tokens_column, tags_column) != (TOKENS, TAGS) or document_column:
            raise DataError(f"{path}: data.tokens_column / data.tags_column / data.document_column name columns "
                            f"of tabular data; column files have the token first and the tag last, and "
                            f"-DOCSTART- lines for documents")
        parsed = {split: read_column_file(f, skip_malformed=skip_malformed, encoding=encoding)
                  for split, f in files.items()}
        report.skipped_lines = {str(p.path): p.skipped for p in parsed.values() if p.skipped}
        documents = any(p.documents is not None for p in parsed.values())
        dsd = DatasetDict({split: column_dataset(p, split, documents) for split, p in parsed.items()})
        where: Locator = ColumnLocator(str(path), parsed)
        document_column = DOCUMENT if documents else None
    else:
        read = {split: _read_tabular(f, report.format, encoding) for split, f in files.items()}
        dsd = DatasetDict({split: ds for split, (ds, _) in read.items()})
        where = TabularLocator(str(path), files, {split: line_of for split, (_, line_of) in read.items()})
    return normalize(dsd, tokens_column, tags_column, scheme, source=str(path), label_names=label_names,
                     where=where, label_where=label_where, report=report, document_column=document_column)


def read_labels_file(path: str | Path, encoding: str = "utf-8") -> tuple[list[str], Callable[[int], str]]:
    """The label names of a labels file (one per line, in id order; blank lines ignored) and a function
    naming the line of label ``i``."""
    path = Path(path).expanduser()
    names, lines = [], []
    for lineno, line in enumerate(split_lines(read_text(path, encoding)), start=1):
        if line.strip():
            names.append(line.strip())
            lines.append(lineno)
    if not names:
        raise DataError(f"{path}: no label name (the labels file names one label per line, in id order)")
    return names, lambda i: f"{path}:{lines[i]}"


# ---------------------------------------------------------------------------------------------- the Hub


def load_hub(dataset_id: str, *, name: str | None = None, revision: str | None = None,
             tokens_column: str = TOKENS, tags_column: str = TAGS, scheme: str = "auto",
             filters: Mapping[str, object] | None = None, label_names: Sequence[str] | None = None,
             label_where: Callable[[int], str] | None = None, report: LoadReport | None = None,
             document_column: str | None = None) -> DatasetDict:
    """Load a Hub dataset (``datasets.load_dataset`` with config and revision) and normalize it."""
    from datasets.exceptions import DatasetNotFoundError

    try:
        dsd = load_dataset(dataset_id, name, revision=revision)
    except (DatasetNotFoundError, FileNotFoundError, ConnectionError) as err:
        raise DataError(f"data.source {dataset_id!r}: cannot load from the Hub: {' '.join(str(err).split())}") \
            from None
    except ValueError as err:
        message = config_error(err, dataset_id, name)
        if message is None:
            raise
        raise DataError(message) from None
    if report is not None:
        report.format = "Hub"
    if filters:
        dsd = filter_rows(dsd, filters, source=dataset_id)
    return normalize(dsd, tokens_column, tags_column, scheme, source=dataset_id, label_names=label_names,
                     label_where=label_where, report=report, document_column=document_column)


def config_error(err: ValueError, dataset_id: str, name: str | None) -> str | None:
    """The one-line message of ``datasets.load_dataset``'s error for a configuration the dataset does not have
    (``data.config_name``), naming the ones it has; None for another ValueError."""
    text = str(err)
    available = re.search(r"\[[^\]]*\]", text)
    names = re.findall(r"'([^']*)'", available.group(0)) if available else []
    configs = f" (its configurations: {', '.join(names)})" if names else ""
    if "BuilderConfig" in text and "not found" in text:
        return f"data.config_name {name!r}: {dataset_id} has no such configuration{configs}"
    if text.startswith("Config name is missing"):
        return f"data.config_name: {dataset_id} has several configurations; choose one{configs}"
    return None


def filter_rows(dsd: DatasetDict, filters: Mapping[str, object], source: str = "dataset") -> DatasetDict:
    """Keep rows whose columns equal the given values (e.g. ``{"lang": "en"}``), with Arrow compute."""
    out = {}
    for split, ds in dsd.items():
        mask = None
        for column, value in filters.items():
            if column not in ds.column_names:
                raise DataError(f"{source} split {split!r}: filter column {column!r} missing; "
                                f"columns are {ds.column_names}")
            cond = pc.equal(ds.data.table.column(column), value)
            mask = cond if mask is None else pc.and_(mask, cond)
        keep = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        out[split] = ds.select(keep)
    return DatasetDict(out)
