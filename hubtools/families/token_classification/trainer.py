"""The token-classification Trainer: word-level metrics, token-budget batches, evaluation in dataset order.

Everything goes through the transformers Trainer, so ``accelerate launch`` with 1 or N processes, CPU or
CUDA, works unchanged: evaluation uses the Trainer's loop (which gathers with ``gather_for_metrics``, so no
sentence is duplicated or dropped), metrics are computed on words after merging windows. The distillation
and RNN-tagger families build on :class:`NerTrainer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
from datasets import Dataset
from torch.utils.data import DataLoader
from transformers import (
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import EvalLoopOutput, has_length, seed_worker

from hubtools.metrics import entity_scores, ids_to_tags
from hubtools.tokenization import merge_word_predictions
from hubtools.training.arguments import apply_environment
from hubtools.training.batching import TokenBudgetBatchSampler, feature_lengths


def argmax_logits(logits, labels):
    """``preprocess_logits_for_metrics``: keep only label ids, not full logits, across evaluation."""
    if isinstance(logits, tuple):
        logits = logits[0]
    return logits.argmax(dim=-1)


class NerTrainer(Trainer):
    """The Trainer for word-level token classification.

    Training batches hold at most ``max_tokens_per_batch`` padded tokens when that is set
    (:mod:`hubtools.training.batching`). Evaluation and prediction read features longest first, so a batch
    pads to rows of about its own length, and hand predictions back in dataset order (to ``compute_metrics``
    and to the caller): word-level metrics merge predictions back to sentences by position, and
    ``gather_for_metrics`` returns every feature exactly once with 1 or N processes.
    """

    def __init__(self, *args, max_tokens_per_batch: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_tokens_per_batch = max_tokens_per_batch

    def get_train_dataloader(self) -> DataLoader:
        if not self.max_tokens_per_batch or not isinstance(self.train_dataset, Dataset):
            return super().get_train_dataloader()
        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        sampler = TokenBudgetBatchSampler(
            feature_lengths(dataset), self.max_tokens_per_batch,
            seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            pad_to_multiple_of=getattr(self.data_collator, "pad_to_multiple_of", None))
        workers = self.args.dataloader_num_workers
        loader = DataLoader(
            dataset, batch_sampler=sampler, collate_fn=self.data_collator, num_workers=workers,
            pin_memory=self.args.dataloader_pin_memory, persistent_workers=self.args.dataloader_persistent_workers,
            prefetch_factor=self.args.dataloader_prefetch_factor,
            worker_init_fn=partial(seed_worker, num_workers=workers, rank=self.args.process_index))
        return self.accelerator.prepare(loader)

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or not has_length(eval_dataset):
            return None
        return length_order(eval_dataset) if isinstance(eval_dataset, Dataset) else range(len(eval_dataset))

    def evaluation_loop(self, dataloader: DataLoader, *args, **kwargs) -> EvalLoopOutput:
        dataset = getattr(dataloader, "dataset", None)
        if not isinstance(dataset, Dataset):
            return super().evaluation_loop(dataloader, *args, **kwargs)
        restore = np.argsort(length_order(dataset), kind="stable")
        compute_metrics = self.compute_metrics
        if compute_metrics is not None:
            self.compute_metrics = lambda pred: compute_metrics(type(pred)(
                predictions=in_order(pred.predictions, restore), label_ids=in_order(pred.label_ids, restore)))
        try:
            output = super().evaluation_loop(dataloader, *args, **kwargs)
        finally:
            self.compute_metrics = compute_metrics
        return output._replace(predictions=in_order(output.predictions, restore),
                               label_ids=in_order(output.label_ids, restore))


def length_order(features: Dataset) -> list[int]:
    """Row indices longest first (stable): the order evaluation reads features in."""
    return np.argsort([-n for n in feature_lengths(features)], kind="stable").tolist()


def in_order(rows, restore: np.ndarray):
    """Rows read in :func:`length_order` put back in dataset order (``None`` stays ``None``)."""
    return None if rows is None else rows[restore]


class WordMetrics:
    """``compute_metrics`` on words: merges window predictions of ``features`` back to sentences and scores
    them against the gold tags with seqeval."""

    def __init__(self, features: Dataset, gold: Sequence[Sequence[int]], label_names: Sequence[str]):
        self.features = features.select_columns(["example_index", "word_index", "window_start", "window_end"])
        self.gold_tags = ids_to_tags(gold, label_names)
        self.lengths = [len(g) for g in gold]
        self.label_names = list(label_names)

    def word_predictions(self, predictions: np.ndarray) -> list[list[int]]:
        """Per-sentence predicted label ids from the Trainer's (padded) feature predictions."""
        return merge_word_predictions(predictions, self.features, self.lengths)

    def __call__(self, eval_pred) -> dict[str, float]:
        pred_ids = self.word_predictions(eval_pred.predictions)
        scores = entity_scores(self.gold_tags, ids_to_tags(pred_ids, self.label_names))
        return {k: scores[k] for k in ("precision", "recall", "f1", "accuracy")}


def build_trainer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, args: TrainingArguments,
                  train_features: Dataset, eval_features: Dataset | None, eval_metrics: WordMetrics | None,
                  trainer_cls: type[Trainer] = NerTrainer, callbacks: list | None = None,
                  **trainer_kwargs) -> Trainer:
    """A Trainer (by default :class:`NerTrainer`) with the token-classification collator and word-level
    metrics; token-budget batches when ``args.max_tokens_per_batch`` is set (or passed among
    ``trainer_kwargs``), early stopping when ``args.early_stopping_patience`` is."""
    apply_environment(args)
    patience = getattr(args, "early_stopping_patience", None)
    if patience and eval_features is not None:
        callbacks = [*(callbacks or []), EarlyStoppingCallback(early_stopping_patience=patience)]
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if args.fp16 else None)
    budget = getattr(args, "max_tokens_per_batch", None)
    if budget and issubclass(trainer_cls, NerTrainer):
        trainer_kwargs.setdefault("max_tokens_per_batch", budget)
    return trainer_cls(
        model=model,
        args=args,
        train_dataset=train_features,
        eval_dataset=eval_features,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=eval_metrics,
        preprocess_logits_for_metrics=argmax_logits,
        callbacks=callbacks,
        **trainer_kwargs,
    )
