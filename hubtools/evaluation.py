"""Word-level evaluation: a split of the run's own data during a recipe, and any model on any dataset
(``hubtools evaluate``), identical with 1 or N processes.

Cross-dataset evaluation matches entity types by name: the model's types against the data's, with an explicit
``--label-map MODEL=DATA,...`` for types named otherwise (several model types may map to one data type, never
one model type to several). Only the matched types are scored. A model type without a data type is set to
``O`` in the predictions and reported with the number of entities the model predicted of it; a data type
without a model type is set to ``O`` in the gold tags and reported with its number of gold entities. So neither
counts as a hit nor as a miss, and both are in the printed table, the JSON, results.json and the card.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from datasets import Dataset

from hubtools.config import DataConfig
from hubtools.data.build import default_name
from hubtools.data.schemes import split_tag, types_of
from hubtools.data.validation import label_names_of
from hubtools.errors import UsageError
from hubtools.metrics import ids_to_tags, test_scores
from hubtools.paths import portable
from hubtools.results import DatasetEvaluation, TestScores
from hubtools.run import machine_description, update_results
from hubtools.tagging import ModelSource, chosen_split, load_data, resolve_model


@dataclass
class Evaluation:
    """The scores of a split, the predicted tag names per sentence and the seconds it took."""

    scores: TestScores
    predictions: list[list[str]]
    seconds: float


# ------------------------------------------------------------------------------------------ label matching


@dataclass
class TypeMatch:
    """Which model type is scored as which data type, and the types of either side left unscored."""

    label_map: dict[str, str]
    model_only: list[str]
    data_only: list[str]

    @property
    def scored_types(self) -> list[str]:
        """The data types scored, each once, in the order the map names them."""
        return list(dict.fromkeys(self.label_map.values()))


def parse_label_map(text: str | None) -> dict[str, str]:
    """``"PER=person,LOC=location"`` as ``{model type: data type}``; UsageError naming ``--label-map`` when an
    item is not ``MODEL=DATA`` or a model type is mapped twice."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        model, sep, data = (part.strip() for part in item.partition("="))
        if not sep or not model or not data:
            raise UsageError(f"--label-map {text!r}: {item!r} is not MODEL_TYPE=DATA_TYPE")
        if model in mapping:
            raise UsageError(f"--label-map {text!r}: model type {model!r} is mapped twice")
        mapping[model] = data
    return mapping


def match_types(model_types: Sequence[str], data_types: Sequence[str], label_map: Mapping[str, str],
                data_argument: str = "--data") -> TypeMatch:
    """Match model types to data types by name and through ``label_map`` (see the module docstring);
    UsageError when the map names a type that does not exist or no type is shared."""
    unknown = [t for t in label_map if t not in model_types]
    if unknown:
        raise UsageError(f"--label-map names model type(s) {unknown} that the model does not have; its types: "
                         f"{', '.join(model_types)}")
    unknown = [t for t in label_map.values() if t not in data_types]
    if unknown:
        raise UsageError(f"--label-map names data type(s) {unknown} that {data_argument} does not have; its "
                         f"types: {', '.join(data_types)}")
    scored = {m: label_map.get(m, m) for m in model_types if label_map.get(m, m) in data_types}
    if not scored:
        raise UsageError(f"{data_argument}: no entity type in common with the model (model: {', '.join(model_types)}; "
                         f"data: {', '.join(data_types) or 'none'}); map them with --label-map MODEL=DATA,...")
    return TypeMatch(scored, [m for m in model_types if m not in scored],
                     [d for d in data_types if d not in scored.values()])


def relabel(tags: Sequence[Sequence[str]], mapping: Mapping[str, str]) -> list[list[str]]:
    """IOB2 tags with every type renamed by ``mapping``; a type it lacks becomes ``O``."""
    def rename(tag: str) -> str:
        prefix, typ = split_tag(tag)
        return f"{prefix}-{mapping[typ]}" if typ in mapping else "O"

    table = {tag: rename(tag) for tag in {t for seq in tags for t in seq}}
    return [[table[t] for t in seq] for seq in tags]


def entity_counts(tags: Sequence[Sequence[str]], types: Sequence[str]) -> dict[str, int]:
    """Entities of each of ``types`` in IOB2 tag sequences (seqeval's chunking: a stray ``I-`` opens one)."""
    from seqeval.metrics.sequence_labeling import get_entities  # loads scikit-learn (~1 s): when counting

    counts = Counter(typ for seq in tags for typ, _, _ in get_entities(list(seq)))
    return {t: counts.get(t, 0) for t in types}


def score_matched(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], match: TypeMatch,
                  split: str = "test") -> tuple[TestScores, dict[str, int], dict[str, int]]:
    """Scores of the matched types on ``split``, and the entities removed before scoring: predicted ones of the
    model-only types, gold ones of the data-only types."""
    scores = test_scores(relabel(gold, {t: t for t in match.scored_types}), relabel(predicted, match.label_map),
                         match.scored_types, split)
    return scores, entity_counts(predicted, match.model_only), entity_counts(gold, match.data_only)


# ------------------------------------------------------------------------------------------ evaluate


def run_dataset(source: ModelSource) -> tuple[DataConfig, dict[str, Dataset]]:
    """The run's own saved splits (``RUN/dataset/*.parquet``) read as the recipe scored them (their document
    columns kept, so a document-context model reads the same neighbours), under the run's dataset name."""
    if source.run_dir is None or source.results is None:
        raise UsageError(f"--data is needed: {source.argument} is not a run folder with saved splits")
    folder = source.run_dir / "dataset"
    splits = {path.stem: Dataset.from_parquet(str(path)) for path in sorted(folder.glob("*.parquet"))}
    return DataConfig(source=str(folder), name=source.results.dataset.name), splits


def evaluate_model(model: str | ModelSource, data: DataConfig | None = None, split: str | None = None,
                   label_map: str | None = None, variant: str = "pytorch", batch_size: int = 32,
                   revision: str | None = None,
                   trust_remote_code: bool = False) -> tuple[DatasetEvaluation, ModelSource]:
    """Score ``model`` (a run folder, model folder or Hub repo: :func:`hubtools.tagging.resolve_model`, or the
    source it resolved to for ``variant``) on a split
    of ``data`` (default: the run's own saved splits); ``split`` defaults to the split the run was scored on when
    ``data`` is its own, else to the only split of a source that has one (a single file), else to ``test``
    (:func:`hubtools.tagging.chosen_split`). Every argument is checked before any scoring; PyTorch scores
    identically with 1 or N processes."""
    start = time.time()
    source = model if isinstance(model, ModelSource) else resolve_model(model, variant, revision, trust_remote_code)
    if data is None:
        (cfg, splits), hub = run_dataset(source), False
        split = split or source.results.test.split
    else:
        (splits, report), cfg = load_data(data), data
        hub = report.format == "Hub"
    split = chosen_split(splits, split, cfg.source)
    ds = splits[split]
    data_names = label_names_of(ds)
    tagger = source.decoder(variant, batch_size)
    match = match_types(types_of(tagger.label_names), types_of(data_names), parse_label_map(label_map),
                        f"--data {cfg.source}")
    predicted = ids_to_tags(tagger.tag(ds, [other for name, other in splits.items() if name != split]),
                            tagger.label_names)
    scores, model_only, data_only = score_matched(ids_to_tags(ds["ner_tags"], data_names), predicted, match, split)
    evaluation = DatasetEvaluation(
        dataset=cfg.name or default_name(cfg.source), source=portable(cfg.source), split=split, variant=variant,
        label_map=match.label_map, model_only=model_only, data_only=data_only, scores=scores, model=source.name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), machine=machine_description(),
        seconds=round(time.time() - start, 2), hub_id=cfg.source if hub else None,
        source_config=cfg.config_name if hub else None, revision=cfg.revision if hub else None,
        model_revision=source.revision)
    return evaluation, source


def evaluate_run(run_dir: str | Path, split: str | None = None, batch_size: int = 32) -> TestScores:
    """Re-score a finished run's saved model on one of its saved splits (``dataset/<split>.parquet``, default the
    one it was scored on) with its family's decoder (a token classifier through the Trainer's prediction loop:
    ``accelerate launch --num_processes N`` gives the same scores)."""
    return evaluate_model(str(run_dir), split=split, batch_size=batch_size)[0].scores


def record_evaluation(run_dir: Path, evaluation: DatasetEvaluation) -> None:
    """Add ``evaluation`` to the run's results.json (replacing the same variant on the same dataset split)."""
    update_results(run_dir, lambda results: results.with_evaluation(evaluation))


def format_evaluation(evaluation: DatasetEvaluation) -> str:
    """The readable table ``hubtools evaluate`` prints: overall and per type with the label mapping, then the
    types left unscored with their entity counts."""
    e, s = evaluation, evaluation.scores
    where = e.hub_id or e.source
    lines = [f"{e.model} ({e.variant}) on {e.dataset} ({where}{', ' + e.source_config if e.source_config else ''}), "
             f"split {e.split}: {s.num_sentences} sentences, {s.num_words} words, {e.seconds} s", ""]
    rows = [(e.matched(t), r.precision, r.recall, r.f1, r.support) for t, r in s.per_type.items()]
    rows.append(("overall (micro)", s.precision, s.recall, s.f1, sum(r.support for r in s.per_type.values())))
    width = max(len("type (model -> data)"), *(len(r[0]) for r in rows))
    lines.append(f"{'type (model -> data)':<{width}}  precision  recall      f1  support")
    lines += [f"{name:<{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {n:7d}" for name, p, r, f, n in rows]
    lines.append(f"{'word accuracy':<{width}}  {s.accuracy:9.4f}")
    groups = [("model types the dataset lacks (entities the model predicted)", e.model_only),
              ("dataset types the model lacks (gold entities)", e.data_only)]
    if e.model_only or e.data_only:
        lines += ["", "not scored (set to O before scoring, neither hits nor misses):"]
    for title, counts in groups:
        if counts:
            lines.append(f"  {title}:")
            lines += [f"  {n:7d}  {t}" for t, n in counts.items()]
    return "\n".join(lines)


