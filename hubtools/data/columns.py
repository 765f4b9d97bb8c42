"""CoNLL / IOB column files: one token per line, blank lines between sentences, ``-DOCSTART-`` lines opening
documents.

Columns are split on tabs when the line has one, else on whitespace; the token is the first column, the tag
the last. The file's column count is the one most of its token lines have; the first line with another count
(or an empty token or tag field) fails, naming its line, the count expected and found, unless
``skip_malformed`` is set, which skips such lines and records their numbers. Blank lines and ``-DOCSTART-``
lines separate sentences, and a run of them is one separator, so there is no empty sentence to report; a file
without any token line is an error naming it. Decoding, byte-order marks, line ends and binary files:
:mod:`hubtools.data.reading`.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasets import Dataset, Features, Value
from datasets import Sequence as SequenceFeature
from datasets.fingerprint import Hasher

from hubtools.data.reading import decode, read_bytes, split_lines
from hubtools.data.tabular import content_hash, table_dataset
from hubtools.data.validation import DOCUMENT, TAGS, TOKENS, Locator
from hubtools.errors import DataError

COLUMN_EXTENSIONS = (".txt", ".conll", ".iob", ".bio", ".tsv")
DOCSTART = "-DOCSTART-"


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


def column_dataset(parsed: ColumnFile, split: str, documents: bool) -> Dataset:
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
