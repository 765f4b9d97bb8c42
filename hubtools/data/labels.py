"""Label analysis, type selection, remapping by name and dropping sentences without entities.

Everything works on the flattened Arrow tag column (one numpy view of all tokens, the list offsets
and per-entity-token arrays), so a million-sentence corpus is analysed and relabelled in seconds, not the
minutes of a per-example loop.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from datasets import ClassLabel, Dataset, Features, Sequence
from datasets.fingerprint import Hasher

from hubtools.data.schemes import iob2_label_names, types_of
from hubtools.data.validation import label_names_of
from hubtools.errors import DataError

DEFAULT_MAX_RATIO = 3.0
SELECTION_RULES = {
    "balanced": (
        "Entity types are ranked by entity (span) count, ties by name. The {k} selected types are the first "
        "window of {k} consecutive types in that ranking whose largest count is at most {max_ratio:g} times "
        "its smallest, i.e. the most frequent types that are about equally represented; if no window "
        "qualifies, the window with the smallest max/min ratio (earliest on ties)."
    ),
    "top": "The {k} entity types with the most entities (spans), ties broken by name.",
}


@dataclass
class TagArrays:
    """A tag column flattened (tag id per token, list offsets) plus its entity tokens' positions."""

    labels: list[str]
    types: list[str]
    values: np.ndarray  # tag id per token
    offsets: np.ndarray  # list offsets, rebased to 0 (length num_rows + 1)
    type_of_label: np.ndarray  # type index per label id, -1 for O
    positions: np.ndarray  # flat index of every entity token
    rows: np.ndarray  # row of every entity token
    entity_type: np.ndarray  # type index of every entity token

    @property
    def num_rows(self) -> int:
        return len(self.offsets) - 1


@dataclass
class LabelStats:
    """Counts of a tag column: per tag, per entity type (spans and sentences), and overall."""

    token_counts: dict[str, int]
    entity_counts: dict[str, int]
    sentence_counts: dict[str, int]
    num_sentences: int
    total_tokens: int
    entity_tokens: int
    sentences_without_entities: int
    label_names: list[str] = field(repr=False)

    @property
    def entity_token_fraction(self) -> float:
        return self.entity_tokens / self.total_tokens if self.total_tokens else 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary for results.json (types sorted by entity count)."""
        order = sorted(self.entity_counts, key=lambda t: (-self.entity_counts[t], t))
        return {
            "num_sentences": self.num_sentences,
            "total_tokens": self.total_tokens,
            "entity_tokens": self.entity_tokens,
            "entity_token_fraction": round(self.entity_token_fraction, 6),
            "sentences_without_entities": self.sentences_without_entities,
            "num_types_present": sum(1 for t in order if self.entity_counts[t]),
            "entity_counts": {t: self.entity_counts[t] for t in order},
            "sentence_counts": {t: self.sentence_counts[t] for t in order},
            "token_counts": self.token_counts,
        }


def _label_names(ds: Dataset, column: str) -> list[str]:
    names = label_names_of(ds, column)
    bad = [n for n in names if n != "O" and not n.startswith(("B-", "I-"))]
    if bad:
        raise DataError(f"column {column!r}: labels must be O, B-TYPE or I-TYPE (IOB2), got {bad[:5]}")
    return names


def tag_arrays(ds: Dataset, tags_column: str = "ner_tags") -> TagArrays:
    """Flattened view of a ClassLabel sequence column (zero-copy where Arrow allows).

    Only entity tokens get per-token row and type arrays, so the full-length work is one gather.
    """
    labels = _label_names(ds, tags_column)
    lists = ds.select_columns([tags_column]).with_format("arrow")[:].column(0).combine_chunks()
    if lists.null_count:
        raise DataError(f"column {tags_column!r}: {lists.null_count} rows have no tag list")
    offsets = lists.offsets.to_numpy()
    values = lists.values.to_numpy()[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    types = types_of(labels)
    type_index = {t: i for i, t in enumerate(types)}
    type_of_label = np.array([-1 if n == "O" else type_index[n[2:]] for n in labels], dtype=np.int64)
    positions = np.flatnonzero((type_of_label >= 0)[values])
    rows = np.searchsorted(offsets, positions, side="right") - 1
    return TagArrays(labels, types, values, offsets, type_of_label, positions, rows,
                     type_of_label[values[positions]])


def span_starts(arr: TagArrays) -> np.ndarray:
    """Per entity token: True where an entity starts, i.e. a B- tag or an I- tag not continuing the
    same type (as seqeval does)."""
    is_b = np.char.startswith(np.array(arr.labels), "B-")[arr.values[arr.positions]]
    first_in_row = arr.offsets[arr.rows] == arr.positions
    prev = arr.type_of_label[arr.values[np.maximum(arr.positions - 1, 0)]]
    return is_b | first_in_row | (prev != arr.entity_type)


def label_statistics(ds: Dataset, tags_column: str = "ner_tags") -> LabelStats:
    """Token, entity and sentence counts of a tag column."""
    arr = tag_arrays(ds, tags_column)
    n_types = len(arr.types)
    token_counts = np.bincount(arr.values, minlength=len(arr.labels))
    entity_counts = np.bincount(arr.entity_type[span_starts(arr)], minlength=n_types)
    pairs = np.unique(arr.rows * n_types + arr.entity_type)
    sentence_counts = np.bincount(pairs % n_types, minlength=n_types)
    return LabelStats(
        token_counts={n: int(c) for n, c in zip(arr.labels, token_counts, strict=True)},
        entity_counts={t: int(c) for t, c in zip(arr.types, entity_counts, strict=True)},
        sentence_counts={t: int(c) for t, c in zip(arr.types, sentence_counts, strict=True)},
        num_sentences=arr.num_rows,
        total_tokens=len(arr.values),
        entity_tokens=len(arr.positions),
        sentences_without_entities=arr.num_rows - len(np.unique(pairs // n_types)),
        label_names=arr.labels,
    )


def select_types(stats: LabelStats, k: int, rule: str = "balanced",
                 max_ratio: float = DEFAULT_MAX_RATIO) -> list[str]:
    """k entity types chosen by ``rule`` (see SELECTION_RULES), in ranking order."""
    if rule not in SELECTION_RULES:
        raise ValueError(f"select_types: unknown rule {rule!r}; choose one of {sorted(SELECTION_RULES)}")
    ranked = sorted((t for t, c in stats.entity_counts.items() if c > 0),
                    key=lambda t: (-stats.entity_counts[t], t))
    if not 1 <= k <= len(ranked):
        raise DataError(f"select_types: k={k} but only {len(ranked)} entity types occur in the data")
    if rule == "top":
        return ranked[:k]
    counts = np.array([stats.entity_counts[t] for t in ranked], dtype=np.float64)
    ratios = counts[: len(counts) - k + 1] / counts[k - 1 :]
    ok = np.flatnonzero(ratios <= max_ratio)
    start = int(ok[0]) if ok.size else int(np.argmin(ratios))
    return ranked[start : start + k]


def check_types(names: Iterable[str], known: list[str], what: str) -> None:
    """DataError naming every unknown type with its closest known names."""
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = "; ".join(f"{n!r} (close: {difflib.get_close_matches(n, known, n=3, cutoff=0.5)})"
                          for n in unknown)
        raise DataError(f"{what}: unknown entity type(s) {hints}; the data has {len(known)} types")


def derive(ds: Dataset, table: pa.Table, features: Features, op: str, *args) -> Dataset:
    """In-memory Dataset from ``table`` with a fingerprint that follows ``ds``'s and the operation."""
    info = ds.info.copy()
    info.features = features
    return Dataset(table, info=info, fingerprint=Hasher.hash([ds._fingerprint, op, *args]))


def remap_types(ds: Dataset, mapping: dict[str, str], tags_column: str = "ner_tags") -> Dataset:
    """Keeps the source types named in ``mapping`` (source type -> new type), sets all other tags to O.

    The new ClassLabel is ``["O", "B-T1", "I-T1", "B-T2", ...]`` with the new types in order of first
    appearance among the mapping's values; several source types may map to one new type.
    """
    arr = tag_arrays(ds, tags_column)
    check_types(mapping, arr.types, f"remap_types({tags_column!r})")
    new_labels = iob2_label_names(list(dict.fromkeys(mapping.values())))
    new_id = {n: i for i, n in enumerate(new_labels)}
    lut = np.array([0 if n == "O" or n[2:] not in mapping else new_id[f"{n[:2]}{mapping[n[2:]]}"]
                    for n in arr.labels], dtype=np.int64)
    tags = pa.ListArray.from_arrays(pa.array(arr.offsets.astype(np.int32)), pa.array(lut[arr.values]))
    table = ds.with_format("arrow")[:]
    table = table.set_column(table.schema.get_field_index(tags_column), tags_column, tags)
    features = ds.features.copy()
    features[tags_column] = Sequence(ClassLabel(names=new_labels))
    return derive(ds, table.cast(features.arrow_schema), features, "remap_types", mapping, tags_column)


def drop_without_entities(ds: Dataset, tags_column: str = "ner_tags") -> tuple[Dataset, int]:
    """The rows with at least one entity tag, and how many rows were dropped."""
    arr = tag_arrays(ds, tags_column)
    keep = np.zeros(arr.num_rows, dtype=bool)
    keep[arr.rows] = True
    table = ds.with_format("arrow")[:].filter(pa.array(keep))
    return derive(ds, table, ds.features, "drop_without_entities", tags_column), int((~keep).sum())
