"""Word-level evaluation of a trained model on a split, identical with 1 or N processes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from datasets import Dataset
from transformers import Trainer

from hubtools.data.schemes import types_of
from hubtools.metrics import entity_scores, ids_to_tags, type_confusion
from hubtools.training.trainer import WordMetrics


def evaluate_split(trainer: Trainer, split: Dataset, features: Dataset, label_names: Sequence[str]) -> dict:
    """Predict every word of ``split`` (windows merged) and score it.

    Returns entity scores (``precision``, ``recall``, ``f1``, ``accuracy``, ``per_type``, ``num_sentences``,
    ``num_words``), the type ``confusion`` matrix, the predicted tags and the seconds taken. The Trainer's
    prediction loop gathers with ``gather_for_metrics``, so every process sees every sentence exactly once.
    """
    start = time.time()
    gold = split["ner_tags"]
    metrics = WordMetrics(features, gold, label_names)
    saved, trainer.compute_metrics = trainer.compute_metrics, None
    try:
        output = trainer.predict(features, metric_key_prefix="test")
    finally:
        trainer.compute_metrics = saved
    pred_tags = ids_to_tags(metrics.word_predictions(output.predictions), label_names)
    gold_tags = ids_to_tags(gold, label_names)
    scores = entity_scores(gold_tags, pred_tags)
    scores["confusion"] = type_confusion(gold_tags, pred_tags, types_of(label_names))
    scores["predictions"] = pred_tags
    scores["seconds"] = round(time.time() - start, 3)
    return scores
