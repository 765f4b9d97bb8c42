"""Load NER data from the Hub or local files into one normalized shape.

Every loader returns a ``DatasetDict`` whose splits have ``tokens`` (``Sequence(string)``) and ``ner_tags``
(``Sequence(ClassLabel)``) in IOB2, whatever the source scheme (IOB1, IOB2, BIOES, IO).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, load_dataset
from datasets import Sequence as SequenceFeature

from hubtools.data.schemes import SCHEMES, detect_scheme, iob2_label_names, split_tag, to_iob2, types_of
from hubtools.data.validation import TAGS, TOKENS, label_names_of, tags_as_arrow
from hubtools.errors import DataError

COLUMN_EXTENSIONS = (".txt", ".conll", ".iob", ".bio", ".tsv")
SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "validation", "valid": "validation",
                 "validation": "validation", "val": "validation", "test": "test", "testa": "validation",
                 "testb": "test"}


def read_conll(path: str | Path, token_col: int = 0, tag_col: int = -1,
               skip_malformed: bool = False) -> tuple[list[list[str]], list[list[str]]]:
    """Read a CoNLL / IOB column file: one token per line, blank lines between sentences.

    Columns are split on tabs when the line has one, else on whitespace; ``-DOCSTART-`` lines are skipped.
    A line with too few columns raises DataError naming the file and line, unless ``skip_malformed``.
    """
    path = Path(path)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    cur_tok: list[str] = []
    cur_tag: list[str] = []
    needed = max(token_col, tag_col) + 1 if tag_col >= 0 else max(token_col + 1, 2)
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if cur_tok:
                    sentences.append(cur_tok)
                    tags.append(cur_tag)
                    cur_tok, cur_tag = [], []
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if cols[0] == "-DOCSTART-":
                continue
            if len(cols) < needed:
                if skip_malformed:
                    continue
                raise DataError(f"{path}:{lineno}: expected at least {needed} columns (token ... tag), "
                                f"found {len(cols)}: {line!r}")
            cur_tok.append(cols[token_col])
            cur_tag.append(cols[tag_col].strip())
    if cur_tok:
        sentences.append(cur_tok)
        tags.append(cur_tag)
    if not sentences:
        raise DataError(f"{path}: no sentence found")
    return sentences, tags


def dataset_from_string_tags(tokens: list[list[str]], tags: list[list[str]], scheme: str = "auto",
                             label_names: Sequence[str] | None = None, source: str = "data") -> Dataset:
    """Build a normalized Dataset from string tags, converted to IOB2.

    ``label_names`` fixes the ClassLabel (it must cover every tag); otherwise the types are sorted.
    """
    scheme = detect_scheme(tags) if scheme == "auto" else scheme
    if scheme not in SCHEMES:
        raise DataError(f"{source}: unknown tagging scheme {scheme!r}; expected auto or one of {SCHEMES}")
    iob2 = [to_iob2(t, scheme) for t in tags] if scheme != "IOB2" else [list(t) for t in tags]
    if label_names is None:
        found = sorted({split_tag(t)[1] for seq in iob2 for t in seq} - {None})
        label_names = iob2_label_names(found)
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for row, seq in enumerate(iob2):
        try:
            ids.append([index[t] for t in seq])
        except KeyError as err:
            raise DataError(f"{source}, row {row}: field 'ner_tags' has tag {err.args[0]!r}, "
                            f"not among the labels {list(label_names)}") from None
    features = Features({TOKENS: SequenceFeature(Value("string")),
                         TAGS: SequenceFeature(ClassLabel(names=list(label_names)))})
    return Dataset.from_dict({TOKENS: tokens, TAGS: ids}, features=features)


def _split_name(path: Path) -> str | None:
    stem = path.name.split(".")[0].lower()
    for part in (stem, stem.split("_")[-1], stem.split("-")[-1]):
        if part in SPLIT_ALIASES:
            return SPLIT_ALIASES[part]
    return None


def _local_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        return {_split_name(path) or "train": path}
    files: dict[str, Path] = {}
    for child in sorted(path.iterdir()):
        split = _split_name(child)
        if child.is_file() and split and (child.suffix in COLUMN_EXTENSIONS + (".parquet", ".jsonl", ".json")):
            if split in files:
                raise DataError(f"{path}: two files for split {split!r}: {files[split].name}, {child.name}")
            files[split] = child
    if not files:
        raise DataError(f"{path}: no train/validation/test file found (names like train.txt, dev.conll, "
                        f"test.parquet)")
    return files


def load_local(path: str | Path, scheme: str = "auto", tokens_column: str = TOKENS, tags_column: str = TAGS,
               skip_malformed: bool = False, data_files: dict[str, str] | None = None) -> DatasetDict:
    """Load a local file or folder (parquet, JSON lines, CoNLL/IOB column files) as a normalized DatasetDict.

    Split files are found by name (train/dev/valid/test...); ``data_files`` maps split names to file names
    (relative to ``path``) for folders that name them otherwise (e.g. ``{"train": "FIN5.txt"}``).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    files = {split: path / name for split, name in data_files.items()} if data_files else _local_files(path)
    for split, file in files.items():
        if not file.is_file():
            raise DataError(f"{file}: no such file (data_files[{split!r}])")
    suffixes = {f.suffix for f in files.values()}
    if suffixes <= set(COLUMN_EXTENSIONS):
        parsed = {split: read_conll(f, skip_malformed=skip_malformed) for split, f in files.items()}
        all_tags = [t for _, tags in parsed.values() for t in tags]
        scheme = detect_scheme(all_tags) if scheme == "auto" else scheme
        types = sorted({split_tag(t)[1] for s in all_tags for t in to_iob2(s, scheme)} - {None})
        names = iob2_label_names(types)
        return DatasetDict({
            split: dataset_from_string_tags(tok, tags, scheme, names, source=str(files[split]))
            for split, (tok, tags) in parsed.items()
        })
    if len(suffixes) > 1:
        raise DataError(f"{path}: mixed file formats {sorted(suffixes)}; use one format for all splits")
    builder = "parquet" if suffixes == {".parquet"} else "json"
    dsd = load_dataset(builder, data_files={k: str(v) for k, v in files.items()})
    return normalize(dsd, tokens_column, tags_column, scheme, source=str(path))


def load_hub(dataset_id: str, *, name: str | None = None, revision: str | None = None,
             tokens_column: str = TOKENS, tags_column: str = TAGS, scheme: str = "auto",
             filters: Mapping[str, object] | None = None, label_names: Sequence[str] | None = None) -> DatasetDict:
    """Load a Hub dataset (``datasets.load_dataset`` with config and revision) and normalize it."""
    dsd = load_dataset(dataset_id, name, revision=revision)
    if filters:
        dsd = filter_rows(dsd, filters, source=dataset_id)
    return normalize(dsd, tokens_column, tags_column, scheme, source=dataset_id, label_names=label_names)


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


def normalize(dsd: DatasetDict, tokens_column: str = TOKENS, tags_column: str = TAGS, scheme: str = "auto",
              source: str = "dataset", label_names: Sequence[str] | None = None) -> DatasetDict:
    """Rename columns to ``tokens``/``ner_tags``, make tags an IOB2 ClassLabel sequence, drop other columns.

    ``label_names`` names integer tag ids of a source without a ClassLabel (``Babelscape/multinerd``)."""
    out = {}
    for split, ds in dsd.items():
        for column in (tokens_column, tags_column):
            if column not in ds.column_names:
                raise DataError(f"{source} split {split!r}: missing column {column!r}; "
                                f"columns are {ds.column_names}")
        ds = ds.select_columns([tokens_column, tags_column])
        if tokens_column != TOKENS:
            ds = ds.rename_column(tokens_column, TOKENS)
        if tags_column != TAGS:
            ds = ds.rename_column(tags_column, TAGS)
        inner = getattr(ds.features[TAGS], "feature", None)
        if label_names and isinstance(inner, Value) and inner.dtype.startswith(("int", "uint")):
            ds = ds.cast_column(TAGS, SequenceFeature(ClassLabel(names=list(label_names))))
            inner = ds.features[TAGS].feature
        if isinstance(inner, ClassLabel):
            ds = _classlabel_to_iob2(ds, scheme, source=f"{source} split {split!r}")
        elif isinstance(inner, Value) and inner.dtype == "string":
            ds = dataset_from_string_tags(ds[TOKENS], ds[TAGS], scheme, source=f"{source} split {split!r}")
        else:
            raise DataError(f"{source} split {split!r}: field {tags_column!r} must hold tag names or a "
                            f"ClassLabel sequence, found {ds.features[TAGS]!r}")
        out[split] = ds
    return DatasetDict(out)


def detect_classlabel_scheme(ds: Dataset) -> str:
    """Detect the scheme of a ClassLabel tag column, vectorized over the flattened Arrow tags."""
    names = label_names_of(ds)
    if any(split_tag(n)[0] in {"E", "S", "L", "U"} for n in names):
        return "BIOES"
    if all(not n.startswith("B-") for n in names):
        return "IO"
    tags = tags_as_arrow(ds)
    flat = pc.list_flatten(tags).to_numpy(zero_copy_only=False)
    if flat.size == 0:
        return "IOB2"
    types = types_of(names)
    type_of = np.array([types.index(split_tag(n)[1]) + 1 if n != "O" else 0 for n in names])
    is_inside = np.array([split_tag(n)[0] == "I" for n in names])
    starts = np.zeros(flat.size, dtype=bool)
    offsets = tags.offsets.to_numpy()
    starts[offsets[:-1][offsets[:-1] < flat.size]] = True
    prev_type = np.concatenate([[0], type_of[flat[:-1]]])
    prev_type[starts] = 0
    iob1_start = is_inside[flat] & (type_of[flat] != prev_type)
    return "IOB1" if iob1_start.any() else "IOB2"


def _classlabel_to_iob2(ds: Dataset, scheme: str, source: str) -> Dataset:
    names = label_names_of(ds)
    scheme = detect_classlabel_scheme(ds) if scheme == "auto" else scheme
    if scheme == "IOB2":
        return ds
    new_names = iob2_label_names(types_of(names))
    index = {n: i for i, n in enumerate(new_names)}

    def convert(batch: dict) -> dict:
        return {TAGS: [[index[t] for t in to_iob2([names[i] for i in seq], scheme)] for seq in batch[TAGS]]}

    features = ds.features.copy()
    features[TAGS] = SequenceFeature(ClassLabel(names=new_names))
    return ds.map(convert, batched=True, features=features, desc=f"{scheme} -> IOB2 ({source})")
