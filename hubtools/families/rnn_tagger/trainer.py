"""Weight averaging over the last epochs for the RNN taggers (stochastic weight averaging without a separate
learning rate): one model, the mean of the weights the model had at the end of each of the last
``average_last`` epochs.

:class:`AveragingTrainer` adds the averaging to :class:`hubtools.families.token_classification.trainer.NerTrainer`.
After training
(and after the Trainer has loaded the best checkpoint) the averaged weights are scored on the validation split;
they replace the best checkpoint only if their validation score is at least as good, so the choice is made on
validation like the choice of the best epoch. The outcome is ``trainer.averaging``
(:class:`hubtools.results.WeightAveraging`); the weights not kept stay in ``trainer.set_aside`` so that the
recipe can score them on the test split too. The sums live in memory: a run resumed from a checkpoint averages
the epochs it trained itself.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from hubtools.families.token_classification.trainer import NerTrainer
from hubtools.results import WeightAveraging


class _EpochSums(TrainerCallback):
    """Adds the weights to the trainer's sums at the end of each of the last ``average_last`` epochs."""

    def __init__(self, trainer: AveragingTrainer):
        self.trainer = trainer

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        epoch = round(state.epoch)
        if epoch > math.ceil(args.num_train_epochs) - self.trainer.average_last:
            self.trainer.accumulate(epoch)


class AveragingTrainer(NerTrainer):
    """NerTrainer that averages the weights of the last ``average_last`` epochs (0: none; see the module
    docstring)."""

    def __init__(self, *args: Any, average_last: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.average_last = average_last
        self.averaging: WeightAveraging | None = None
        self.set_aside: dict[str, torch.Tensor] | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._epochs: list[int] = []
        if average_last:
            self.add_callback(_EpochSums(self))

    def accumulate(self, epoch: int) -> None:
        """Add the current floating-point weights to the sums."""
        for name, value in self.model.state_dict().items():
            if torch.is_floating_point(value):
                value = value.detach().to(torch.float64)
                self._sums[name] = self._sums[name] + value if name in self._sums else value.clone()
        self._epochs.append(epoch)

    def train(self, *args: Any, **kwargs: Any):
        output = super().train(*args, **kwargs)
        if self._epochs:
            self.use_average_if_better()
        return output

    def use_average_if_better(self) -> None:
        """Score the averaged weights on the validation split; keep them if they score at least as well as the
        weights the Trainer ended with (the best checkpoint)."""
        metric = self.args.metric_for_best_model
        key = metric if metric.startswith("eval_") else f"eval_{metric}"
        current = {name: value.detach().clone() for name, value in self.model.state_dict().items()}
        reference = self._score(key)
        averaged = {name: (self._sums[name] / len(self._epochs)).to(value.dtype) if name in self._sums else value
                    for name, value in current.items()}
        self.model.load_state_dict(averaged)
        score = self._score(key)
        better = score >= reference if self.args.greater_is_better else score <= reference
        if not better:
            self.model.load_state_dict(current)
        self.set_aside = current if better else averaged
        self.averaging = WeightAveraging(epochs=list(self._epochs), metric=metric, averaged_validation=score,
                                         best_checkpoint_validation=reference, kept=bool(better))

    def _score(self, key: str) -> float:
        """The validation metric of the current weights, without logging it or stepping a scheduler."""
        output = self.evaluation_loop(self.get_eval_dataloader(), description="Weight averaging",
                                      metric_key_prefix="eval")
        return float(output.metrics[key])
