"""Word-level evaluation of a trained model on a split, identical with 1 or N processes."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from datasets import Dataset
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
)

from hubtools.data.schemes import types_of
from hubtools.metrics import entity_scores, ids_to_tags, type_confusion
from hubtools.run import load_results
from hubtools.tokenization import tokenize_dataset
from hubtools.training.trainer import WordMetrics, argmax_logits


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


def evaluate_run(run_dir: str | Path, split: str = "test", batch_size: int = 32) -> dict:
    """Re-evaluate a finished run's saved model on one of its saved splits (``dataset/<split>.parquet``).

    Runs through the Trainer's prediction loop, so ``accelerate launch --num_processes N`` gives the same
    metrics as one process. Returns the entity scores with the confusion matrix (no predictions).
    """
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    data = Dataset.from_parquet(str(run_dir / "dataset" / f"{split}.parquet"))
    model = AutoModelForTokenClassification.from_pretrained(run_dir / "model")
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    label_names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    model_info = results.get("model", {})
    features = tokenize_dataset(data, tokenizer, model_info.get("max_length", 512), model_info.get("stride", 32),
                                desc=f"tokenize {split}")
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_eval_batch_size=batch_size, report_to="none")
        trainer = Trainer(model=model, args=args, data_collator=DataCollatorForTokenClassification(tokenizer),
                          preprocess_logits_for_metrics=argmax_logits)
        scores = evaluate_split(trainer, data, features, label_names)
    scores.pop("predictions")
    return scores
