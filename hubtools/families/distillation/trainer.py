"""The student's side of distillation: the loss, a collator that pads teacher logits, the Trainer, the search.

``DistillationTrainer`` mixes cross-entropy on the gold labels with the temperature-scaled KL divergence to
the teacher's word logits (attached by :func:`hubtools.families.distillation.model.attach_teacher_logits`) on the
labelled word positions; :func:`grid_search` picks alpha and the temperature on validation F1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DataCollatorForTokenClassification

from hubtools.errors import ConfigError, DataError
from hubtools.families.token_classification.trainer import NerTrainer
from hubtools.tokenization import IGNORE


def _check_alpha_temperature(alpha: float, temperature: float) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"distillation alpha must be in [0, 1], got {alpha}")
    if not temperature > 0.0:
        raise ConfigError(f"distillation temperature must be > 0, got {temperature}")


def word_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over the positions where ``labels != -100`` (0 when there are none)."""
    mask = labels != IGNORE
    return F.cross_entropy(logits[mask].float(), labels[mask], reduction="sum") / mask.sum().clamp(min=1)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    """``alpha * CE(student, gold) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T))``.

    Logits are ``[batch, seq, num_labels]`` (teacher already in dataset label order), labels
    ``[batch, seq]``. Both terms only use positions where ``labels != -100`` and are averaged over
    those N positions (KL "batchmean" with the N positions as the batch); the T^2 factor keeps the
    gradient scale of the soft term roughly independent of T. A batch without labelled positions
    gives 0.
    """
    _check_alpha_temperature(alpha, temperature)
    if student_logits.shape != teacher_logits.shape:
        raise DataError(
            f"teacher_logits shape {tuple(teacher_logits.shape)} differs from the student logits "
            f"{tuple(student_logits.shape)}"
        )
    mask = labels != IGNORE
    kl = F.kl_div(
        F.log_softmax(student_logits[mask].float() / temperature, dim=-1),
        F.log_softmax(teacher_logits[mask].float() / temperature, dim=-1),
        reduction="sum",
        log_target=True,
    )
    soft = temperature**2 * kl / mask.sum().clamp(min=1)
    return alpha * word_cross_entropy(student_logits, labels) + (1.0 - alpha) * soft


class DistillationDataCollator(DataCollatorForTokenClassification):
    """Token-classification collator that also pads ``teacher_logits`` (with zeros) like the labels."""

    def torch_call(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        if "teacher_logits" not in features[0]:
            return super().torch_call(features)
        teacher = [torch.as_tensor(feature["teacher_logits"], dtype=torch.float32) for feature in features]
        batch = super().torch_call(
            [{k: v for k, v in feature.items() if k != "teacher_logits"} for feature in features]
        )
        length = batch["labels"].shape[1]
        padded = torch.zeros(len(teacher), length, teacher[0].shape[-1])
        for row, logits in enumerate(teacher):
            if self.tokenizer.padding_side == "right":
                padded[row, : len(logits)] = logits
            else:
                padded[row, length - len(logits) :] = logits
        batch["teacher_logits"] = padded
        return batch


class DistillationTrainer(NerTrainer):
    """Trainer whose loss is ``distillation_loss`` when the batch carries ``teacher_logits``.

    Batches without them (evaluation and prediction sets) use plain cross-entropy, so evaluation
    needs no teacher. The ``teacher_logits`` column survives ``remove_unused_columns``, and a plain
    ``DataCollatorForTokenClassification`` (as ``families.token_classification.trainer.build_trainer`` passes) is
    replaced by
    a ``DistillationDataCollator`` with the same settings.
    """

    def __init__(self, *args: Any, alpha: float = 0.5, temperature: float = 2.0, **kwargs: Any) -> None:
        _check_alpha_temperature(alpha, temperature)
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self.temperature = temperature
        if type(self.data_collator) is DataCollatorForTokenClassification:
            settings = {
                field.name: getattr(self.data_collator, field.name) for field in fields(self.data_collator)
            }
            self.data_collator = DistillationDataCollator(**settings)
        # The loss is a mean over this batch's labelled positions; Trainer divides it by the number
        # of gradient-accumulation steps instead of passing num_items_in_batch to the model.
        self.model_accepts_loss_kwargs = False

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if "teacher_logits" not in self._signature_columns:
            self._signature_columns.append("teacher_logits")

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        if teacher_logits is None:
            loss = word_cross_entropy(outputs.logits, labels)
        else:
            loss = distillation_loss(outputs.logits, teacher_logits, labels, self.alpha, self.temperature)
        return (loss, outputs) if return_outputs else loss


def search_pairs(alphas: Iterable[float], temperatures: Iterable[float],
                 budget: int | None = None) -> list[tuple[float, float]]:
    """The (alpha, temperature) pairs a search runs: ``itertools.product`` order (alpha-major), at most
    ``budget``."""
    pairs = list(itertools.product(alphas, temperatures))
    if not pairs:
        raise ConfigError("grid_search needs at least one alpha and one temperature")
    if budget is not None:
        if budget < 1:
            raise ConfigError(f"grid_search budget must be >= 1, got {budget}")
        pairs = pairs[:budget]
    for alpha, temperature in pairs:
        _check_alpha_temperature(alpha, temperature)
    return pairs


def grid_search(
    train_fn: Callable[[float, float], float],
    alphas: Iterable[float],
    temperatures: Iterable[float],
    budget: int | None = None,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Score (alpha, temperature) pairs with ``train_fn`` (higher is better), e.g. validation F1.

    Pairs run in ``itertools.product(alphas, temperatures)`` order (alpha-major), at most ``budget``
    of them. Returns the best row (the first one on ties; NaN scores never win) and the table of all
    rows ``{"alpha", "temperature", "score"}`` in run order, ready for results.json.
    """
    table = [
        {"alpha": alpha, "temperature": temperature, "score": float(train_fn(alpha, temperature))}
        for alpha, temperature in search_pairs(alphas, temperatures, budget)
    ]
    best = max(table, key=lambda row: -math.inf if math.isnan(row["score"]) else row["score"])
    return best, table
