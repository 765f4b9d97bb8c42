"""The one conversion every source goes through: checked as read, then IOB2 ``ner_tags`` ClassLabel sequences.

:func:`normalize` checks everything before it converts anything: the source columns as read
(:func:`hubtools.data.validation.check_source_split`), then every distinct tag against the scheme's syntax
(:func:`hubtools.data.schemes.invalid_tags`), then detects the scheme (IOB1, IOB2, BIOES, IO) and converts to
IOB2, vectorized. A malformed input therefore fails with one :class:`~hubtools.errors.DataError` whose message
names where the problem is (through a :class:`~hubtools.data.validation.Locator`), never with an exception from
inside a conversion. Integer tags need names: a ClassLabel, or ``label_names``. A ``document_column`` becomes
``document_id`` (prefixed with the split, so ids stay unique when splits are pooled) and ``sentence_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, DatasetInfo, Features, Value
from datasets import Sequence as SequenceFeature
from datasets.fingerprint import Hasher

from hubtools.data.schemes import (
    SCHEMES,
    detect_scheme_ids,
    invalid_tags,
    split_tag,
    to_iob2_ids,
)
from hubtools.data.validation import (
    DOCUMENT,
    SENTENCE,
    TAGS,
    TOKENS,
    Locator,
    arrow_table,
    check_source_split,
    flat_values,
)
from hubtools.errors import DataError

if TYPE_CHECKING:
    from hubtools.data.loading import LoadReport

_SCHEME_ORDER = ("BIOES", "IO", "IOB1", "IOB2")  # the first one any split shows wins


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
