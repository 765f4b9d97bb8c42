"""Build a recipe's dataset: load, validate, select and remap types, drop, split, cap.

The result is a ``DatasetDict`` with ``train``/``validation``/``test`` splits in the normalized shape and the
run's typed ``dataset`` section (:class:`~hubtools.results.DatasetResult`) with a record of every step for
the dataset card (``skipped_lines``: column-file lines skipped as malformed under ``data.skip_malformed``, also
named in a step).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from datasets import DatasetDict

from hubtools.data.brat import load_brat_corpus
from hubtools.data.generate import generate_finer
from hubtools.data.generate_conll import generate_conll
from hubtools.data.generate_fewnerd import generate_fewnerd
from hubtools.data.generate_multinerd import generate_multinerd
from hubtools.data.generate_ner_uk import generate_ner_uk
from hubtools.data.labels import (
    DEFAULT_MAX_RATIO,
    SELECTION_RULES,
    drop_without_entities,
    label_statistics,
    remap_types,
    select_types,
)
from hubtools.data.loading import LoadReport, filter_rows, load_hub, load_local, read_labels_file
from hubtools.data.normalize import normalize, strip_token_prefix
from hubtools.data.schemes import SCHEMES, types_of
from hubtools.data.split import build_selected_dataset, stratified_split
from hubtools.data.validation import label_names_of, validate_dataset
from hubtools.errors import ConfigError, DataError
from hubtools.paths import portable
from hubtools.results import BuildRecord, DatasetResult

if TYPE_CHECKING:  # the configuration is passed in; data never imports it at run time
    from hubtools.config import DataConfig

GENERATORS: dict[str, Callable[..., DatasetDict]] = {
    "finer-139": generate_finer, "conll2003": generate_conll, "few-nerd": generate_fewnerd,
    "multinerd": generate_multinerd, "ner-uk": generate_ner_uk}
BRAT_SPLIT_FILE = "dev-test-split.txt"  # marks a ner-uk brat folder (lang-uk v1.0 / v2.0)
SPLITS = ("train", "validation", "test")


def load_source(cfg: DataConfig, report: LoadReport | None = None) -> DatasetDict:
    """The source data, checked and normalized to ``tokens`` + IOB2 ``ner_tags``: a generator, a local path (a
    folder with a ``dev-test-split.txt`` is a brat corpus) or a Hub id. ``report`` receives what loading found
    (format, scheme, skipped lines)."""
    report = report if report is not None else LoadReport()
    label_names, label_where = cfg.label_names, (lambda i: f"data.label_names[{i}]")
    if cfg.labels_file:
        label_names, label_where = read_labels_file(cfg.labels_file, cfg.encoding)
    if cfg.source.startswith("generate:"):
        name = cfg.source.split(":", 1)[1]
        if name not in GENERATORS:
            raise DataError(f"data.source {cfg.source!r}: unknown generator; known: {sorted(GENERATORS)}")
        dsd = GENERATORS[name](**cfg.generate)
        if cfg.filters:
            dsd = filter_rows(dsd, cfg.filters, source=cfg.source)
        report.format = "generated"
        return normalize(dsd, cfg.tokens_column, cfg.tags_column, cfg.scheme, source=cfg.source,
                         label_names=label_names, label_where=label_where, report=report)
    path = Path(cfg.source).expanduser()
    if (path / BRAT_SPLIT_FILE).is_file():
        report.format = "brat"
        corpus = load_brat_corpus(path, path / BRAT_SPLIT_FILE, encoding=cfg.encoding)
        return normalize(corpus, scheme="IOB2", source=cfg.source, report=report, document_column="document")
    if path.exists():
        return load_local(path, cfg.scheme, cfg.tokens_column, cfg.tags_column, cfg.skip_malformed,
                          cfg.data_files or None, encoding=cfg.encoding, label_names=label_names,
                          label_where=label_where, report=report, document_column=cfg.document_column)
    if cfg.source.startswith((".", "/", "~")) or cfg.source.count("/") > 1:
        raise DataError(f"data.source {cfg.source!r}: no such file or folder")
    return load_hub(cfg.source, name=cfg.config_name, revision=cfg.revision, tokens_column=cfg.tokens_column,
                    tags_column=cfg.tags_column, scheme=cfg.scheme, filters=cfg.filters,
                    label_names=label_names, label_where=label_where, report=report,
                    document_column=cfg.document_column)


def load_validated(cfg: DataConfig, report: LoadReport | None = None) -> DatasetDict:
    """:func:`load_source` and :func:`validate_dataset`: the source splits exactly as a recipe reads them,
    before any selection, remapping or splitting (what ``hubtools data`` shows)."""
    if cfg.scheme != "auto" and cfg.scheme not in SCHEMES:
        raise ConfigError(f"data.scheme must be auto or one of {SCHEMES}, got {cfg.scheme!r}")
    dsd = load_source(cfg, report)
    if cfg.strip_token_prefix:
        dsd = DatasetDict({split: strip_token_prefix(ds, cfg.strip_token_prefix, f"{cfg.source} split {split!r}")
                           for split, ds in dsd.items()})
    validate_dataset(dsd, cfg.source)
    return dsd


def default_name(source: str) -> str:
    """The dataset's name when ``data.name`` is not given: ``NAME-generated`` for ``generate:NAME``, else the
    last part of the Hub id or path (a file's name without its extension)."""
    if source.startswith("generate:"):
        return f"{source.split(':', 1)[1]}-generated"
    path = Path(source.rstrip("/"))
    return path.stem if path.suffix and Path(source).expanduser().is_file() else path.name


def fingerprint(dsd: DatasetDict) -> str:
    """A short hash of the built splits' fingerprints."""
    text = "|".join(f"{split}:{ds._fingerprint}" for split, ds in sorted(dsd.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dataset(cfg: DataConfig, report: LoadReport | None = None) -> tuple[DatasetDict, DatasetResult]:
    """Load and build the dataset described by ``cfg``; returns it with the run's ``dataset`` section.

    With ``split_ratios`` all source splits are pooled and go through
    :func:`hubtools.data.split.build_selected_dataset` (analysis, type selection by rule or ``types``,
    remap, drop, stratified split). Otherwise the source splits are kept: ``types`` are remapped (every
    other tag becomes O), sentences without entities are dropped if asked, and a validation split is carved
    from train (stratified) when the source has none. ``max_samples`` caps splits last. ``report`` receives
    what loading found (:class:`hubtools.data.loading.LoadReport`).
    """
    report = report if report is not None else LoadReport()
    dsd = load_validated(cfg, report)
    loaded = f"loaded {portable(cfg.source)}" + (f" ({cfg.config_name})" if cfg.config_name else "") + ": " + \
        ", ".join(f"{s} {len(d)}" for s, d in dsd.items()) + " sentences"
    filtered = [f"kept rows where {cfg.filters}"] if cfg.filters else []
    if report.num_skipped:
        filtered.append(f"skipped {report.num_skipped} malformed line{'s' if report.num_skipped > 1 else ''} "
                        f"(data.skip_malformed): {report.skipped_summary()}")
    if cfg.split_ratios is not None:
        parts, build = build_selected_dataset(
            dsd, k=cfg.num_types, types=cfg.types, rename=cfg.rename, drop_empty=cfg.drop_without_entities,
            ratios=tuple(cfg.split_ratios), seed=cfg.seed, rule=cfg.selection_rule)
        build["steps"] = [loaded, *filtered, *build["steps"]]
    else:
        parts, build = _keep_source_splits(dsd, cfg)
        build["steps"] = [loaded, *filtered, *build["steps"]]
    if "train" not in parts:
        raise DataError(f"{cfg.source}: no train split (found {list(parts)}); name the files train/dev/test or "
                        f"set data.data_files")
    parts = DatasetDict({s: parts[s] for s in SPLITS if s in parts})
    for split, cap in cfg.max_samples.items():
        if split not in parts:
            raise DataError(f"data.max_samples names unknown split {split!r}")
        parts[split] = parts[split].select(range(min(cap, len(parts[split]))))
        build["steps"].append(f"capped {split} at {cap} sentences")
    for split, ds in parts.items():
        if len(ds) == 0:
            raise DataError(f"{cfg.source}: split {split!r} is empty after building")
    label_names = label_names_of(parts["train"])
    known = BuildRecord.__dataclass_fields__
    record = BuildRecord(**{k: v for k, v in build.items() if k in known}, filters=cfg.filters or None,
                         skipped_lines=report.num_skipped)
    return parts, DatasetResult(
        name=cfg.name or default_name(cfg.source), source=portable(cfg.source), source_config=cfg.config_name,
        revision=cfg.revision, license=cfg.license or "unknown", license_name=cfg.license_name,
        license_link=cfg.license_link,
        language=list(cfg.language), fingerprint=fingerprint(parts),
        label_names=label_names, entity_types=types_of(label_names), splits={s: len(d) for s, d in parts.items()},
        entity_counts={s: label_statistics(d).entity_counts for s, d in parts.items()}, build=record)


def _keep_source_splits(dsd: DatasetDict, cfg: DataConfig) -> tuple[DatasetDict, dict]:
    """Relabel and filter each source split in place of a re-split."""
    stats = label_statistics(dsd["train"] if "train" in dsd else next(iter(dsd.values())))
    build: dict = {"analysis": stats.to_dict(), "steps": []}
    types = cfg.types
    if types is None and cfg.num_types is not None:
        types = select_types(stats, cfg.num_types, cfg.selection_rule)
        build["selection_rule"] = SELECTION_RULES[cfg.selection_rule].format(k=cfg.num_types,
                                                                             max_ratio=DEFAULT_MAX_RATIO)
    if types is not None:
        mapping = {t: cfg.rename.get(t, t) for t in types}
        dsd = DatasetDict({s: remap_types(d, mapping) for s, d in dsd.items()})
        build.update(remap=mapping, selected_types=list(types))
        build.setdefault("selection_rule", f"Entity types given by the recipe: {', '.join(types)}.")
        build["steps"].append(f"kept {len(types)} types ({', '.join(types)}); every other tag set to O")
    else:
        build["selection_rule"] = "Every entity type of the source."
    build["dropped_without_entities"] = 0
    if cfg.drop_without_entities:
        kept = {}
        for split, ds in dsd.items():
            kept[split], n = drop_without_entities(ds)
            build["dropped_without_entities"] += n
        dsd = DatasetDict(kept)
        build["steps"].append(f"dropped {build['dropped_without_entities']} sentences without entities")
    if "validation" in dsd or "train" not in dsd:
        build["split_method"] = "the source's splits" + ("" if "test" in dsd else " (no test split)")
    else:
        carved = stratified_split(dsd["train"], (0.9, 0.1), seed=cfg.seed, names=("train", "validation"))
        dsd = DatasetDict({**carved, **({"test": dsd["test"]} if "test" in dsd else {})})
        build["split_method"] = (f"the source's train{'/test' if 'test' in dsd else ' (no test split)'}; "
                                 f"validation = 10% of train, stratified by type, seed {cfg.seed}")
        build["steps"].append("carved a validation split from train")
    return dsd, build
