"""Build a recipe's dataset: load, validate, select and remap types, drop, split, cap.

The result is a ``DatasetDict`` with ``train``/``validation``/``test`` splits in the normalized shape and a
``build`` record of every step for results.json and the dataset card.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from datasets import DatasetDict, concatenate_datasets

from hubtools.config import DataConfig
from hubtools.data.generate import generate_finer
from hubtools.data.generate_conll import generate_conll
from hubtools.data.labels import (
    DEFAULT_MAX_RATIO,
    SELECTION_RULES,
    drop_without_entities,
    label_statistics,
    remap_types,
    select_types,
)
from hubtools.data.loading import filter_rows, load_hub, load_local, normalize
from hubtools.data.schemes import types_of
from hubtools.data.split import stratified_split
from hubtools.data.validation import label_names_of, validate_dataset
from hubtools.errors import DataError

GENERATORS: dict[str, Callable[..., DatasetDict]] = {"finer-139": generate_finer, "conll2003": generate_conll}
SPLITS = ("train", "validation", "test")


def load_source(cfg: DataConfig) -> DatasetDict:
    """The source data, normalized to ``tokens`` + IOB2 ``ner_tags``: a generator, a local path or a Hub id."""
    if cfg.source.startswith("generate:"):
        name = cfg.source.split(":", 1)[1]
        if name not in GENERATORS:
            raise DataError(f"data.source {cfg.source!r}: unknown generator; known: {sorted(GENERATORS)}")
        dsd = GENERATORS[name](**cfg.generate)
        if cfg.filters:
            dsd = filter_rows(dsd, cfg.filters, source=cfg.source)
        return normalize(dsd, cfg.tokens_column, cfg.tags_column, cfg.scheme, source=cfg.source)
    path = Path(cfg.source).expanduser()
    if path.exists():
        return load_local(path, cfg.scheme, cfg.tokens_column, cfg.tags_column, cfg.skip_malformed_lines)
    if cfg.source.startswith((".", "/", "~")) or cfg.source.count("/") > 1:
        raise DataError(f"data.source {cfg.source!r}: no such file or folder")
    return load_hub(cfg.source, name=cfg.config_name, revision=cfg.revision, tokens_column=cfg.tokens_column,
                    tags_column=cfg.tags_column, scheme=cfg.scheme, filters=cfg.filters)


def fingerprint(dsd: DatasetDict) -> str:
    """A short hash of the built splits' fingerprints."""
    text = "|".join(f"{split}:{ds._fingerprint}" for split, ds in sorted(dsd.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_dataset(cfg: DataConfig) -> tuple[DatasetDict, dict]:
    """Load and build the dataset described by ``cfg``; returns it with the ``dataset`` info for results.json.

    Steps, each recorded: validate; optionally pool all splits (``split_ratios``); analyse labels; select
    ``types`` (or ``num_types`` by ``selection_rule``) and ``rename`` them (every other tag becomes O);
    drop sentences without entities; split stratified by type (or keep the source splits, carving a
    validation split from train when the source has none); cap with ``max_samples``.
    """
    dsd = load_source(cfg)
    validate_dataset(dsd, cfg.source)
    steps = [f"loaded {cfg.source}" + (f" ({cfg.config_name})" if cfg.config_name else "")
             + f": {', '.join(f'{s} {len(d)}' for s, d in dsd.items())} sentences"]
    if cfg.filters:
        steps.append(f"kept rows where {cfg.filters}")
    pooled = cfg.split_ratios is not None
    parts = DatasetDict({"all": concatenate_datasets(list(dsd.values()))}) if pooled else dsd
    analysis_ds = parts["all"] if pooled else parts.get("train", next(iter(parts.values())))
    stats = label_statistics(analysis_ds)
    build: dict = {"analysis": stats.to_dict(), "steps": steps}
    types = cfg.types
    if types is None and cfg.num_types is not None:
        types = select_types(stats, cfg.num_types, cfg.selection_rule)
        build["selection_rule"] = SELECTION_RULES[cfg.selection_rule].format(k=cfg.num_types,
                                                                             max_ratio=DEFAULT_MAX_RATIO)
        steps.append(f"selected {len(types)} types by the '{cfg.selection_rule}' rule: {', '.join(types)}")
    if types is not None:
        mapping = {t: cfg.rename.get(t, t) for t in types}
        parts = DatasetDict({s: remap_types(d, mapping) for s, d in parts.items()})
        build["remap"] = mapping
        steps.append(f"remapped {len(mapping)} types to {sorted(set(mapping.values()))}; other tags set to O")
    if cfg.drop_without_entities:
        dropped = 0
        kept = {}
        for split, ds in parts.items():
            kept[split], n = drop_without_entities(ds)
            dropped += n
        parts = DatasetDict(kept)
        build["dropped_without_entities"] = dropped
        steps.append(f"dropped {dropped} sentences without entities")
    if pooled:
        parts = stratified_split(parts["all"], tuple(cfg.split_ratios), seed=cfg.seed, names=SPLITS)
        build["split_method"] = (f"stratified by entity type, ratios {cfg.split_ratios}, seed {cfg.seed}")
    elif "validation" not in parts:
        if "train" not in parts or "test" not in parts:
            raise DataError(f"{cfg.source}: needs train and test splits (found {list(parts)}) or data.split_ratios")
        carved = stratified_split(parts["train"], (0.9, 0.1), seed=cfg.seed, names=("train", "validation"))
        parts = DatasetDict({"train": carved["train"], "validation": carved["validation"], "test": parts["test"]})
        build["split_method"] = f"source splits; validation = 10% of train, stratified by type, seed {cfg.seed}"
    else:
        build["split_method"] = "source splits"
    missing = [s for s in SPLITS if s not in parts]
    if missing:
        raise DataError(f"{cfg.source}: missing split(s) {missing} (found {list(parts)})")
    parts = DatasetDict({s: parts[s] for s in SPLITS})
    for split, cap in cfg.max_samples.items():
        if split not in parts:
            raise DataError(f"data.max_samples names unknown split {split!r}")
        parts[split] = parts[split].select(range(min(cap, len(parts[split]))))
        steps.append(f"capped {split} at {cap} sentences")
    steps.append(f"split sizes: {', '.join(f'{s} {len(d)}' for s, d in parts.items())}")
    for split, ds in parts.items():
        if len(ds) == 0:
            raise DataError(f"{cfg.source}: split {split!r} is empty after building")
    label_names = label_names_of(parts["train"])
    info = {
        "fingerprint": fingerprint(parts),
        "label_names": label_names,
        "entity_types": types_of(label_names),
        "splits": {s: len(d) for s, d in parts.items()},
        "entity_counts": {s: label_statistics(d).entity_counts for s, d in parts.items()},
        "build": build,
    }
    return parts, info
