"""Load NER data from the Hub or local files into one normalized shape.

Every loader returns a ``DatasetDict`` whose splits have ``tokens`` (``Sequence(string)``) and ``ner_tags``
(``Sequence(ClassLabel)``) in IOB2, whatever the source scheme (IOB1, IOB2, BIOES, IO).

Every path (Hub, parquet, JSON lines, column files, brat, generated data) goes through :func:`normalize`,
which checks everything before it converts anything: the source columns as read
(:func:`hubtools.data.validation.check_source_split`), then every distinct tag against the scheme's syntax
(:func:`hubtools.data.schemes.invalid_tags`), then detects the scheme and converts to IOB2, vectorized. A
malformed input therefore fails with one :class:`DataError` whose message names where the problem is: the
file and line for column files and brat, the split, row and field for tabular data (plus the file, and the
line for JSON lines), never with an exception from inside a conversion.

Local formats: ``.parquet``; ``.jsonl`` / ``.json`` (JSON lines, or one array of objects); anything else is a
column file (CoNLL / IOB: one token per line, columns split on tabs when the line has one, else on
whitespace; the token is the first column, the tag the last). In a folder, split files are found by name
(``train``, ``dev``, ``valid``, ``test``... with a column-file or tabular extension, or none at all).
Decoding, byte-order marks, line ends and binary files: :mod:`hubtools.data.reading`.

Documents: a split may also carry ``document_id`` (string) and ``sentence_id`` (the sentence's position in its
document), SpanMarker's column names: column files whose ``-DOCSTART-`` lines open documents (numbered),
brat corpora (the document's name) and, with ``data.document_column``, tabular and Hub sources (sentences of a
document in row order). Ids are prefixed with the source split (``train/3``), so they stay unique when splits
are pooled. Sources without documents have neither column.

Integer tags need names: a ClassLabel (Hub, parquet written by ``datasets``), or ``data.label_names`` /
``data.labels_file`` for plain integers.

Column files: the file's column count is the one most of its token lines have; the first line with another
count (or an empty token or tag field) fails, naming its line, the count expected and found, unless
``skip_malformed`` is set, which skips such lines and records their numbers (:class:`LoadReport`).

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
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value, load_dataset
from datasets import Sequence as SequenceFeature
from datasets.fingerprint import Hasher

from hubtools.data.reading import decode, read_bytes, read_text, split_lines
from hubtools.data.schemes import (
    SCHEMES,
    detect_scheme_ids,
    invalid_tags,
    split_tag,
    to_iob2_ids,
)
from hubtools.data.tabular import (
    TABULAR_SUFFIXES,
    content_hash,
    features_of,
    read_json_table,
    read_parquet_table,
    table_dataset,
)
from hubtools.data.validation import TAGS, TOKENS, Locator, arrow_table, check_source_split, flat_values
from hubtools.errors import DataError

COLUMN_EXTENSIONS = (".txt", ".conll", ".iob", ".bio", ".tsv")
SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "validation", "valid": "validation",
                 "validation": "validation", "val": "validation", "test": "test", "testa": "validation",
                 "testb": "test"}
_SCHEME_ORDER = ("BIOES", "IO", "IOB1", "IOB2")  # the first one any split shows wins
DOCSTART = "-DOCSTART-"
DOCUMENT, SENTENCE = "document_id", "sentence_id"


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


# ---------------------------------------------------------------------------------------------- column files


@dataclass
class ColumnFile:
    """A column file as read: sentences, their tags, the line of every token and the lines skipped."""

    path: Path
    tokens: list[list[str]]
    tags: list[list[str]]
    token_lines: array  # line number of every token, sentence after sentence
    columns: int
    skipped: list[int]
    digest: str
    documents: list[int] | None = None  # document number of every sentence (None: no -DOCSTART- line)


def _columns(line: str) -> list[str] | None:
    """The columns of a token line, None for a separator (blank or ``-DOCSTART-``)."""
    if not line.strip():
        return None
    cols = line.split("\t") if "\t" in line else line.split()
    return None if cols[0] == DOCSTART else cols


def read_column_file(path: str | Path, token_col: int = 0, tag_col: int = -1, skip_malformed: bool = False,
                     encoding: str = "utf-8") -> ColumnFile:
    """Read a CoNLL / IOB column file: one token per line, blank lines between sentences.

    Columns are split on tabs when the line has one, else on whitespace; ``-DOCSTART-`` lines separate
    sentences like blank lines and open a document (sentences before the first one are document 0). The
    expected column count is the one most token lines have; a line with another count or an empty token or
    tag raises DataError naming the file and line, unless ``skip_malformed``, which skips it and records its
    number.
    """
    path = Path(path)
    data = read_bytes(path)
    lines = split_lines(decode(data, path, encoding))
    counts: Counter[int] = Counter()
    first_line: dict[int, int] = {}
    for lineno, line in enumerate(lines, start=1):
        cols = _columns(line)
        if cols is not None:
            counts[len(cols)] += 1
            first_line.setdefault(len(cols), lineno)
    if not counts:
        raise DataError(f"{path}: no sentence found (no token line)")
    expected = max(counts, key=lambda n: (counts[n], -first_line[n]))
    needed = max(token_col, tag_col) + 1 if tag_col >= 0 else max(token_col + 1, 2)
    if expected < needed:
        raise DataError(f"{path}:{first_line[expected]}: the token lines have {expected} column(s); a column file "
                        f"needs {needed} (token ... tag)")
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    token_lines = array("q")
    skipped: list[int] = []
    documents: list[int] = []
    document, has_documents = 0, False
    cur_tok: list[str] = []
    cur_tag: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        cols = _columns(line)
        if cols is None:
            if cur_tok:
                sentences.append(cur_tok)
                tags.append(cur_tag)
                documents.append(document)
                cur_tok, cur_tag = [], []
            if line.split(maxsplit=1)[:1] == [DOCSTART]:
                document += has_documents or bool(sentences)
                has_documents = True
            continue
        problem = None
        if len(cols) != expected:
            problem = f"expected {expected} columns (like line {first_line[expected]}), found {len(cols)}"
        elif not cols[token_col].strip():
            problem = "empty token column"
        elif not cols[tag_col].strip():
            problem = "empty tag column"
        if problem is not None:
            if skip_malformed:
                skipped.append(lineno)
                continue
            raise DataError(f"{path}:{lineno}: {problem}: {line!r} (data.skip_malformed=true skips such lines)")
        cur_tok.append(cols[token_col])
        cur_tag.append(cols[tag_col].strip())
        token_lines.append(lineno)
    if cur_tok:
        sentences.append(cur_tok)
        tags.append(cur_tag)
        documents.append(document)
    if not sentences:
        raise DataError(f"{path}: no sentence left after skipping {len(skipped)} malformed line(s)")
    digest = Hasher.hash([content_hash(data), token_col, tag_col, skip_malformed, encoding])
    return ColumnFile(path, sentences, tags, token_lines, expected, skipped, digest,
                      documents if has_documents else None)


def read_conll(path: str | Path, token_col: int = 0, tag_col: int = -1, skip_malformed: bool = False,
               encoding: str = "utf-8") -> tuple[list[list[str]], list[list[str]]]:
    """Sentences and their tags of a column file (see :func:`read_column_file`)."""
    parsed = read_column_file(path, token_col, tag_col, skip_malformed, encoding)
    return parsed.tokens, parsed.tags


class ColumnLocator(Locator):
    """Names the file and line of a token of a column file."""

    def __init__(self, source: str, files: Mapping[str, ColumnFile]) -> None:
        super().__init__(source)
        self.files = dict(files)
        self.starts = {s: np.cumsum([0] + [len(t) for t in f.tokens]) for s, f in self.files.items()}

    def split(self, split: str) -> str:
        return f"{self.files[split].path} (split {split!r})"

    def row(self, split: str, row: int) -> str:
        return self.token(split, row, 0, TOKENS)

    def token(self, split: str, row: int, position: int, field: str) -> str:
        file = self.files[split]
        return f"{file.path}:{file.token_lines[int(self.starts[split][row]) + position]}"


def _column_dataset(parsed: ColumnFile, split: str, documents: bool) -> Dataset:
    """The file's sentences; with ``documents``, their ``document_id`` (a file without ``-DOCSTART-`` among
    files with it: one document per sentence)."""
    features = Features({TOKENS: SequenceFeature(Value("string")), TAGS: SequenceFeature(Value("string"))})
    columns = {TOKENS: pa.array(parsed.tokens, pa.list_(pa.string())),
               TAGS: pa.array(parsed.tags, pa.list_(pa.string()))}
    if documents:
        numbers = parsed.documents if parsed.documents is not None else range(len(parsed.tokens))
        features[DOCUMENT] = Value("string")
        columns[DOCUMENT] = pa.array([str(d) for d in numbers], pa.string())
    return table_dataset(pa.table(columns), features, parsed.path, parsed.digest)


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
        dsd = DatasetDict({split: _column_dataset(p, split, documents) for split, p in parsed.items()})
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


def strip_token_prefix(ds: Dataset, prefix: str, where: str) -> Dataset:
    """``ds`` with ``prefix`` removed from every token that starts with it (WikiANN's ``en:``); a token that
    is nothing but the prefix is an error naming its row."""
    tokens = arrow_table(ds.select_columns([TOKENS])).column(0).combine_chunks()
    flat = pc.list_flatten(tokens)
    if pc.any(pc.equal(flat, prefix)).as_py():
        row = int(pc.list_parent_indices(tokens).to_numpy()[np.flatnonzero(
            pc.equal(flat, prefix).to_numpy(zero_copy_only=False))[0]])
        raise DataError(f"{where}, row {row}: field {TOKENS!r} holds a token that is only the prefix {prefix!r} "
                        f"(data.strip_token_prefix)")
    stripped = pc.if_else(pc.starts_with(flat, prefix), pc.utf8_slice_codeunits(flat, len(prefix)), flat)
    column = pa.ListArray.from_arrays(pc.subtract(tokens.offsets, tokens.offsets[0]), stripped)
    table = arrow_table(ds)
    table = table.set_column(table.schema.get_field_index(TOKENS), TOKENS, column.cast(table.schema.field(TOKENS).type))
    return Dataset(table, info=DatasetInfo(features=ds.features), fingerprint=Hasher.hash([ds._fingerprint, prefix]))


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


# ---------------------------------------------------------------------------------------------- normalize


@dataclass
class _Split:
    ds: Dataset
    tokens: pa.Array
    tags: pa.Array
    kind: str  # "string" or "int"
    classlabel: list[str] | None


def _first_use(splits: Mapping[str, _Split], where: Locator, tags_column: str,
               mask_of: Callable[[pa.Array], np.ndarray]) -> tuple[str, int] | None:
    """``(location, flat position's value index)`` of the first token whose tag ``mask_of`` marks."""
    for split, part in splits.items():
        values, offsets = flat_values(part.tags)
        mask = mask_of(values)
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            row = int(np.searchsorted(offsets, pos, side="right") - 1)
            return where.token(split, row, pos - int(offsets[row]), tags_column), values[pos].as_py()
    return None


def _check_label_set(splits: Mapping[str, _Split], names: list[str], kind: str, scheme: str, where: Locator,
                     tags_column: str, label_where: Callable[[int], str] | None) -> None:
    """DataError at the first use of an invalid tag (or at its definition when no token uses it)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            place = label_where(i) if label_where else f"{where.split(next(iter(splits)))}: field {tags_column!r}"
            raise DataError(f"{place}: label name {name!r} given twice (ids {seen[name]} and {i})")
        seen[name] = i
    bad = invalid_tags(names, scheme)
    if not bad:
        return
    if kind == "string":
        bad_values = pa.array(list(bad), pa.string())
        found = _first_use(splits, where, tags_column,
                           lambda v: pc.is_in(v, value_set=bad_values).to_numpy(zero_copy_only=False))
        location, tag = found
        raise DataError(f"{location}: tag {tag!r}: {bad[tag]}")
    bad_ids = np.array([i for i, n in enumerate(names) if n in bad])
    found = _first_use(splits, where, tags_column,
                       lambda v: np.isin(v.to_numpy(zero_copy_only=False), bad_ids))
    if found is not None:
        location, i = found
        raise DataError(f"{location}: tag {names[i]!r} (label id {i}): {bad[names[i]]}")
    i = int(bad_ids[0])
    place = label_where(i) if label_where else f"{where.split(next(iter(splits)))}: field {tags_column!r} ClassLabel"
    raise DataError(f"{place}: label name {names[i]!r} (id {i}): {bad[names[i]]}")


def normalize(dsd: DatasetDict, tokens_column: str = TOKENS, tags_column: str = TAGS, scheme: str = "auto",
              source: str = "dataset", label_names: Sequence[str] | None = None, *, where: Locator | None = None,
              label_where: Callable[[int], str] | None = None, report: LoadReport | None = None,
              document_column: str | None = None) -> DatasetDict:
    """Check every split, then rename columns to ``tokens``/``ner_tags``, make tags an IOB2 ClassLabel
    sequence and drop other columns (see the module docstring for the order of checks); ``document_column``
    becomes ``document_id`` (strings) with each sentence's position in its document as ``sentence_id``.

    ``label_names`` names integer tag ids of a source without a ClassLabel (``Babelscape/multinerd``; for a
    source with one, they must equal its names); ``where`` names files and lines in messages;
    ``report.scheme`` receives the source scheme.
    """
    if scheme != "auto" and scheme not in SCHEMES:
        raise DataError(f"{source}: unknown tagging scheme {scheme!r}; expected auto or one of {SCHEMES}")
    where = where or Locator(source)
    label_names = list(label_names) if label_names else None
    splits: dict[str, _Split] = {}
    for split, ds in dsd.items():
        for column in (tokens_column, tags_column, document_column):
            if column is not None and column not in ds.column_names:
                raise DataError(f"{where.split(split)}: missing column {column!r}; columns are {ds.column_names}")
        inner = getattr(ds.features[tags_column], "feature", None)
        classlabel = list(inner.names) if isinstance(inner, ClassLabel) else None
        if classlabel is not None and label_names is not None and classlabel != label_names:
            raise DataError(f"{where.split(split)}: field {tags_column!r} is a ClassLabel with names "
                            f"{classlabel[:6]}{'...' if len(classlabel) > 6 else ''}, which data.label_names "
                            f"contradicts ({label_names[:6]}{'...' if len(label_names) > 6 else ''})")
        names = classlabel or label_names
        table = arrow_table(ds.select_columns(list(dict.fromkeys([tokens_column, tags_column]))))
        tokens = table.column(tokens_column).combine_chunks()
        tags = table.column(tags_column).combine_chunks()
        kind = check_source_split(tokens, tags, split, where, (tokens_column, tags_column),
                                  num_labels=len(names) if names else None)
        if kind == "int" and names is None:
            raise DataError(f"{where.split(split)}: field {tags_column!r} holds integer tag ids but nothing names "
                            f"them: set data.label_names=[O, B-PER, I-PER, ...] or data.labels_file=FILE (one "
                            f"name per line, in id order)")
        if kind == "string" and label_names is not None:
            raise DataError(f"{where.split(split)}: field {tags_column!r} holds tag names; data.label_names "
                            f"(or data.labels_file) is for integer tag ids: remove it")
        splits[split] = _Split(ds, tokens, tags, kind, classlabel)
    if not splits:
        raise DataError(f"{source}: no split")
    kinds = {part.kind for part in splits.values()}
    if len(kinds) > 1:
        raise DataError(f"{source}: field {tags_column!r} holds tag names in some splits and integer ids in "
                        f"others ({ {s: p.kind for s, p in splits.items()} })")
    kind = kinds.pop()
    if kind == "int":
        lists = {s: p.classlabel or label_names for s, p in splits.items()}
        names = next(iter(lists.values()))
        for split, other in lists.items():
            if other != names:
                raise DataError(f"{where.split(split)}: field {tags_column!r} has labels {other}, other splits "
                                f"{names}")
        values = {s: flat_values(p.tags) for s, p in splits.items()}
        values = {s: (v.to_numpy(zero_copy_only=False).astype(np.int64), o) for s, (v, o) in values.items()}
    else:
        found = pa.chunked_array([pc.unique(flat_values(p.tags)[0]) for p in splits.values()])
        names = sorted(pc.unique(found).to_pylist())
        value_set = pa.array(names, pa.string())
        values = {}
        for split, part in splits.items():
            flat, offsets = flat_values(part.tags)
            values[split] = (pc.index_in(flat, value_set=value_set).to_numpy(zero_copy_only=False)
                             .astype(np.int64), offsets)
    _check_label_set(splits, names, kind, scheme, where, tags_column, label_where)
    if scheme == "auto":
        detected = {detect_scheme_ids(names, v, o) for v, o in values.values()}
        used = next(s for s in _SCHEME_ORDER if s in detected)
    else:
        used = scheme
    if report is not None:
        report.scheme, report.scheme_given = used, scheme != "auto"
    types = sorted({split_tag(n)[1] for n in names} - {None}) if kind == "string" else None
    out = {}
    for split, part in splits.items():
        if part.classlabel is not None and used == "IOB2":  # already IOB2 ids: keep the source's ClassLabel
            ds = part.ds.select_columns(list(dict.fromkeys([tokens_column, tags_column])))
            ds = ds.rename_columns({c: n for c, n in ((tokens_column, TOKENS), (tags_column, TAGS)) if c != n})
        else:
            flat, offsets = values[split]
            if kind == "int" and used == "IOB2":
                new, new_names = flat, list(names)
            else:
                new, new_names = to_iob2_ids(names, flat, offsets, used, types)
            ds = _normalized(part, new, offsets, new_names,
                             [part.ds._fingerprint, "normalize", used, tokens_column, tags_column, names])
        out[split] = _with_documents(ds, part.ds, document_column, where, split) if document_column else ds
    return DatasetDict(out)


def _with_documents(ds: Dataset, source: Dataset, column: str, where: Locator, split: str) -> Dataset:
    """``ds`` with ``document_id`` (``SPLIT/`` and the source's ``column`` as a string) and ``sentence_id`` (the
    row's position among the rows of its document, in row order)."""
    ids = arrow_table(source.select_columns([column])).column(0).combine_chunks()
    if ids.null_count:
        row = int(np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{where.row(split, row)}: field {column!r} (the document id) is null")
    ids = pc.binary_join_element_wise(f"{split}/", pc.cast(ids, pa.string()), "")
    codes = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    positions = np.empty(len(codes), dtype=np.int64)
    positions[order] = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    table = arrow_table(ds).append_column(DOCUMENT, ids).append_column(SENTENCE, pa.array(positions, pa.int32()))
    features = ds.features.copy()
    features[DOCUMENT], features[SENTENCE] = Value("string"), Value("int32")
    return Dataset(table.cast(features.arrow_schema), info=DatasetInfo(features=features),
                   fingerprint=Hasher.hash([ds._fingerprint, "documents", column]))


def _normalized(part: _Split, values: np.ndarray, offsets: np.ndarray, names: list[str], key: list) -> Dataset:
    features = Features({TOKENS: SequenceFeature(Value("string")), TAGS: SequenceFeature(ClassLabel(names=names))})
    offset_type = pa.int32() if offsets[-1] < 2**31 else pa.int64()
    list_type = pa.ListArray if offset_type == pa.int32() else pa.LargeListArray
    tags = list_type.from_arrays(pa.array(offsets, offset_type), pa.array(values, pa.int64()))
    table = pa.table({TOKENS: part.tokens, TAGS: tags}).cast(features.arrow_schema)
    return Dataset(table, info=DatasetInfo(features=features), fingerprint=Hasher.hash(key))


def detect_classlabel_scheme(ds: Dataset) -> str:
    """Detect the scheme of a ClassLabel tag column, vectorized over the flattened Arrow tags."""
    inner = getattr(ds.features.get(TAGS), "feature", None)
    if not isinstance(inner, ClassLabel):
        raise DataError(f"column {TAGS!r} must be a sequence of ClassLabel, found {ds.features.get(TAGS)!r}")
    values, offsets = flat_values(arrow_table(ds).column(TAGS).combine_chunks())
    return detect_scheme_ids(list(inner.names), values.to_numpy(zero_copy_only=False).astype(np.int64), offsets)
