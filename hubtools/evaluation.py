"""Word-level evaluation of a trained model on a split, identical with 1 or N processes."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
from hubtools.metrics import ids_to_tags, test_scores
from hubtools.results import TestScores
from hubtools.run import read_results
from hubtools.tokenization import tokenize_dataset
from hubtools.training.trainer import WordMetrics, argmax_logits


@dataclass
class Evaluation:
    """The scores of a split, the predicted tag names per sentence and the seconds it took."""

    scores: TestScores
    predictions: list[list[str]]
    seconds: float


def evaluate_split(trainer: Trainer, split: Dataset, features: Dataset, label_names: Sequence[str]) -> Evaluation:
    """Predict every word of ``split`` (windows merged) and score it on words.

    The Trainer's prediction loop gathers with ``gather_for_metrics``, so every process sees every sentence
    exactly once and gets the same scores.
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
    scores = test_scores(ids_to_tags(gold, label_names), pred_tags, types_of(label_names))
    return Evaluation(scores, pred_tags, round(time.time() - start, 3))


def evaluate_run(run_dir: str | Path, split: str = "test", batch_size: int = 32) -> TestScores:
    """Re-evaluate a finished run's saved model on one of its saved splits (``dataset/<split>.parquet``).

    Runs through the Trainer's prediction loop, so ``accelerate launch --num_processes N`` gives the same
    scores as one process.
    """
    run_dir = Path(run_dir)
    results = read_results(run_dir)
    data = Dataset.from_parquet(str(run_dir / "dataset" / f"{split}.parquet"))
    remote = {"trust_remote_code": True} if results.model.remote_code else {}
    model = AutoModelForTokenClassification.from_pretrained(run_dir / "model", **remote)
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    label_names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    features = tokenize_dataset(data, tokenizer, results.model.max_length, results.model.stride or 0,
                                desc=f"tokenize {split}")
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_eval_batch_size=batch_size, report_to="none")
        trainer = Trainer(model=model, args=args, data_collator=DataCollatorForTokenClassification(tokenizer),
                          preprocess_logits_for_metrics=argmax_logits)
        return evaluate_split(trainer, data, features, label_names).scores
