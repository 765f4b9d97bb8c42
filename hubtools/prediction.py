"""``hubtools predict``: tag a dataset or a text file with a model and write one JSON object per sentence.

Input: ``--data SRC`` (anything ``data.source`` accepts; every split unless ``--split`` names one) or ``--text
FILE`` (UTF-8 or ``--encoding``; one sentence per line, split into words at whitespace; blank lines are skipped
but keep their number). The model's family tags the words (:class:`hubtools.decoding.Decoder`): every word gets
a tag, long sentences of a token classifier in windows as in training, merged back.

Output (JSON lines, written atomically), in input order::

    {"split": "test", "index": 0, "tokens": [...], "tags": [...], "entities": [...]}   --data
    {"line": 3, "text": "...", "tokens": [...], "tags": [...], "entities": [...]}      --text

``tags`` are IOB2 tags, one per token (a SpanMarker model's spans as IOB2 tags); each entity is ``{"type",
"start", "end", "text"}`` with ``start``/``end`` word indices (end exclusive) and, for ``--text``,
``start_char``/``end_char`` in the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset

from hubtools.data.reading import read_text, split_lines
from hubtools.decoding import Decoder
from hubtools.errors import DataError
from hubtools.metrics import ids_to_tags
from hubtools.run import atomic_write_text

_WORD = re.compile(r"\S+")


def entities(tokens: Sequence[str], tags: Sequence[str], offsets: Sequence[tuple[int, int]] | None = None,
             line: str | None = None) -> list[dict[str, Any]]:
    """The entities of one sentence's IOB2 tags (seqeval's chunking): type, word span, text, and the character
    span when ``offsets`` gives each token's ``(start, end)`` in ``line`` (the text is then the line's own)."""
    from seqeval.metrics.sequence_labeling import get_entities  # loads scikit-learn (~1 s): when tagging

    out = []
    for typ, start, last in get_entities(list(tags)):
        entity: dict[str, Any] = {"type": typ, "start": start, "end": last + 1,
                                  "text": " ".join(tokens[start:last + 1])}
        if offsets is not None:
            entity.update(start_char=offsets[start][0], end_char=offsets[last][1])
            if line is not None:
                entity["text"] = line[entity["start_char"]:entity["end_char"]]
        out.append(entity)
    return out


def read_text_file(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file; DataError when every one is blank."""
    lines = split_lines(read_text(Path(path), encoding))
    if not any(line.strip() for line in lines):
        raise DataError(f"--text {path}: no sentence (every line is blank)")
    return lines


def text_sentences(texts: Iterable[str]) -> tuple[Dataset, list[tuple[int, str]]]:
    """The non-blank texts as sentences (``tokens`` split at whitespace), with their numbers (from 1) and text."""
    lines = [(number, text) for number, text in enumerate(texts, start=1) if text.strip()]
    return Dataset.from_dict({"tokens": [line.split() for _, line in lines]}), lines


def tagged(tagger: Decoder, ds: Dataset, pool: Sequence[Dataset] = ()) -> Iterator[tuple[list[str], list[str]]]:
    """``(tokens, tags)`` of every sentence of ``ds``."""
    tags = ids_to_tags(tagger.tag(ds, pool), tagger.label_names)
    return zip(ds["tokens"], tags, strict=True)


def dataset_rows(tagger: Decoder, splits: Mapping[str, Dataset], only: str | None = None) -> Iterator[dict[str, Any]]:
    """The output objects of ``--data``: every sentence of every split (or of the split ``only``); the other
    splits are the document context pool of a model that reads one."""
    for split, ds in splits.items():
        if only not in (None, split):
            continue
        pool = [other for name, other in splits.items() if name != split]
        for index, (tokens, tags) in enumerate(tagged(tagger, ds, pool)):
            yield {"split": split, "index": index, "tokens": tokens, "tags": tags,
                   "entities": entities(tokens, tags)}


def text_rows(tagger: Decoder, ds: Dataset, lines: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    """The output objects of ``--text``: every non-blank line, with character spans."""
    for (number, line), (tokens, tags) in zip(lines, tagged(tagger, ds), strict=True):
        offsets = [m.span() for m in _WORD.finditer(line)]
        yield {"line": number, "text": line, "tokens": tokens, "tags": tags,
               "entities": entities(tokens, tags, offsets, line)}


def write_jsonl(path: str | Path, rows: Iterator[dict[str, Any]]) -> int:
    """Write ``rows`` as JSON lines atomically; returns how many."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))
    return len(lines)
