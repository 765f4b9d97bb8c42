"""Stratified train/validation/test split by entity type, and the whole dataset build pipeline."""

from __future__ import annotations

import numpy as np
from datasets import Dataset, DatasetDict, concatenate_datasets

from hubtools.data.labels import (
    DEFAULT_MAX_RATIO,
    SELECTION_RULES,
    check_types,
    derive,
    drop_without_entities,
    label_statistics,
    remap_types,
    select_types,
    tag_arrays,
)
from hubtools.data.schemes import types_of
from hubtools.data.validation import label_names_of
from hubtools.errors import DataError

SPLIT_METHOD = (
    "Stratified by entity type: each sentence's stratum is the rarest entity type it contains (fewest "
    "sentences overall, ties by name), or 'none'. Within each stratum sentences are shuffled with seed "
    "{seed} and cut by the ratios {ratios}; leftover sentences go to the splits with the largest "
    "remainders so that split sizes match the ratios within one sentence."
)


def _targets(total: int, ratios: np.ndarray) -> np.ndarray:
    """Largest-remainder rounding of ``total * ratios`` (sums to total; ties to the earlier split)."""
    exact = total * ratios
    out = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - out), kind="stable")
    out[order[: total - out.sum()]] += 1
    return out


def _allocate(stratum_sizes: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Sentences per (stratum, split): proportional in every stratum, exact overall targets."""
    exact = stratum_sizes[:, None] * ratios[None, :]
    counts = np.floor(exact).astype(np.int64)
    room = _targets(int(stratum_sizes.sum()), ratios) - counts.sum(axis=0)
    left = stratum_sizes - counts.sum(axis=1)
    frac = exact - counts
    for flat in np.argsort(-frac, axis=None, kind="stable"):  # at most (strata x splits) steps
        k, s = divmod(int(flat), len(ratios))
        if left[k] and room[s]:
            counts[k, s] += 1
            left[k] -= 1
            room[s] -= 1
    for k in np.flatnonzero(left):  # only when a stratum's best splits were already full
        for s in np.flatnonzero(room):
            take = min(left[k], room[s])
            counts[k, s] += take
            left[k] -= take
            room[s] -= take
    return counts


def sentence_strata(ds: Dataset, tags_column: str = "ner_tags") -> tuple[np.ndarray, list[str]]:
    """Stratum per row (index into the returned names; the last name is "none") by rarest type present."""
    arr = tag_arrays(ds, tags_column)
    n_types = len(arr.types)
    pairs = np.unique(arr.rows * n_types + arr.entity_type)
    sentences = np.bincount(pairs % n_types, minlength=n_types)
    rank = np.empty(n_types, dtype=np.int64)
    rank[sorted(range(n_types), key=lambda i: (sentences[i], arr.types[i]))] = np.arange(n_types)
    by_rank = np.full(arr.num_rows, n_types, dtype=np.int64)
    np.minimum.at(by_rank, pairs // n_types, rank[pairs % n_types])
    names = [arr.types[i] for i in np.argsort(rank)] + ["none"]
    return by_rank, names


def stratified_split(
    ds: Dataset,
    ratios: tuple[float, ...] = (0.8, 0.1, 0.1),
    seed: int = 42,
    names: tuple[str, ...] = ("train", "validation", "test"),
    tags_column: str = "ner_tags",
) -> DatasetDict:
    """Split rows by ``ratios`` so every entity type is spread proportionally (see SPLIT_METHOD).

    Rows keep their original order inside each split; the same seed gives the same split.
    """
    r = np.asarray(ratios, dtype=np.float64)
    if len(r) != len(names) or len(set(names)) != len(names) or (r <= 0).any() or abs(r.sum() - 1) > 1e-6:
        raise DataError(f"stratified_split: need one positive ratio per distinct split name, summing to 1; "
                        f"got ratios={tuple(ratios)} names={tuple(names)}")
    strata, _ = sentence_strata(ds, tags_column)
    order = np.lexsort((np.random.default_rng(seed).random(len(strata)), strata))
    sorted_strata = strata[order]
    uniq, starts, sizes = np.unique(sorted_strata, return_index=True, return_counts=True)
    cum = np.cumsum(_allocate(sizes, r), axis=1)
    k = np.searchsorted(uniq, sorted_strata)
    pos = np.arange(len(order)) - starts[k]
    split_of = (pos[:, None] >= cum[k]).sum(axis=1)
    table = ds.with_format("arrow")[:]
    out = {}
    for s, name in enumerate(names):
        rows = np.sort(order[split_of == s])
        out[name] = derive(ds, table.take(rows), ds.features, "stratified_split", name, tuple(ratios), seed)
    return DatasetDict(out)


def _merge(dsd_or_ds: Dataset | DatasetDict) -> tuple[Dataset, dict[str, int]]:
    if isinstance(dsd_or_ds, Dataset):
        return dsd_or_ds, {"all": len(dsd_or_ds)}
    sizes = {name: len(ds) for name, ds in dsd_or_ds.items()}
    return concatenate_datasets(list(dsd_or_ds.values())), sizes


def build_selected_dataset(
    dsd_or_ds: Dataset | DatasetDict,
    *,
    k: int | None = 4,
    types: list[str] | None = None,
    rename: dict[str, str] | None = None,
    drop_empty: bool = True,
    ratios: tuple[float, ...] = (0.8, 0.1, 0.1),
    seed: int = 42,
    rule: str = "balanced",
    tags_column: str = "ner_tags",
) -> tuple[DatasetDict, dict]:
    """Analysis -> type selection (``k`` by ``rule``, the given ``types``, or all when both are None) -> remap
    -> drop empty -> stratified split.

    All source splits are pooled first. ``rename`` maps selected source types to new names. Returns the
    splits and the build info for results.json ``dataset.build``.
    """
    ds, source_sizes = _merge(dsd_or_ds)
    stats = label_statistics(ds, tags_column)
    present = [t for t, c in stats.entity_counts.items() if c > 0]
    if types is None and k is None:
        selected = types_of(label_names_of(ds, tags_column))
        rule_text = "Every entity type of the source is kept."
    elif types is None:
        selected = select_types(stats, k, rule)
        rule_text = SELECTION_RULES[rule].format(k=k, max_ratio=DEFAULT_MAX_RATIO)
    else:
        check_types(types, present, "build_selected_dataset(types)")
        selected, rule_text = list(types), f"Entity types given by the recipe: {', '.join(types)}."
    rename = rename or {}
    check_types(rename, selected, "build_selected_dataset(rename)")
    mapping = {t: rename.get(t, t) for t in selected}
    out = remap_types(ds, mapping, tags_column)
    dropped = 0
    if drop_empty:
        out, dropped = drop_without_entities(out, tags_column)
    dsd = stratified_split(out, ratios, seed, tags_column=tags_column)
    names = tuple(dsd)
    split_stats = {name: label_statistics(split, tags_column) for name, split in dsd.items()}
    steps = ["analyse labels", "select types", "remap types to a new ClassLabel"]
    steps += ["drop sentences without entities"] * drop_empty + ["stratified split"]
    info = {
        "steps": steps,
        "source_splits": source_sizes,
        "analysis": stats.to_dict(),
        "selection_rule": rule_text,
        "selected_types": selected,
        "remap": mapping,
        "label_names": label_names_of(dsd[names[0]], tags_column),
        "dropped_without_entities": dropped,
        "split_method": SPLIT_METHOD.format(seed=seed, ratios=tuple(ratios)),
        "sizes": {name: len(split) for name, split in dsd.items()},
        "entity_counts": {name: st.entity_counts for name, st in split_stats.items()},
    }
    return dsd, info

