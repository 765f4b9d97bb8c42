"""SpanMarker's Trainer with validation scored on words by hubtools.

span_marker's own metrics call ``evaluate.load("seqeval")``, which needs the Hub (it fails offline), and
score spans in its own way (its model-card callback reads those names). Here each evaluation keeps
SpanMarker's validation loss and adds word-level seqeval scores of ``predict``
(:func:`hubtools.families.span_marker.decode.evaluate_predictions`), so the history and the best-model choice use
the same numbers as the test split and the other recipes.
"""

from __future__ import annotations

from collections.abc import Sequence

from datasets import Dataset
from span_marker import Trainer
from span_marker.model_card import ModelCardCallback

from hubtools.families.span_marker.decode import evaluate_predictions

SCORES = ("precision", "recall", "f1", "accuracy")


class WordScoredTrainer(Trainer):
    """``span_marker.Trainer`` whose ``evaluate`` returns ``eval_loss`` plus word-level ``eval_f1`` etc."""

    def __init__(self, *args, entity_types: Sequence[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.compute_metrics = None  # loss only from the loop; scores come from predict below
        self.remove_callback(ModelCardCallback)  # reads span_marker's metric names; hubtools renders the cards
        self.entity_types = list(entity_types)

    def evaluate(self, eval_dataset: Dataset | None = None, ignore_keys: list[str] | None = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        metrics = super().evaluate(dataset, ignore_keys, metric_key_prefix)
        predictions = self.model.predict(list(dataset["tokens"]), batch_size=self.args.per_device_eval_batch_size)
        scores, _ = evaluate_predictions(dataset, predictions, self.entity_types)
        word_metrics = {f"{metric_key_prefix}_{name}": getattr(scores, name) for name in SCORES}
        self.log(word_metrics)
        return {**metrics, **word_metrics}
