"""Learning-rate schedulers compared for the ner-uk RNN taggers, built for a transformers Trainer.

Pass the pair to the Trainer: ``Trainer(..., optimizers=(optimizer, scheduler))``.

* ``onecycle``, ``cosine``, ``multistep``, ``constant`` are stepped once per optimizer step by the Trainer
  (transformers 4.57 ``_inner_training_loop`` calls ``lr_scheduler.step()`` after every optimizer step),
  so they are defined in optimizer steps (``multistep`` milestones are given in epochs and converted
  with ``steps_per_epoch``).
* ``plateau`` (``ReduceLROnPlateau``) is never stepped in the training loop. ``Trainer._evaluate`` steps
  any ``ReduceLROnPlateau`` -- the Trainer's own (``lr_scheduler_type="reduce_lr_on_plateau"``) or one
  passed through ``optimizers`` -- with ``metrics["eval_" + args.metric_for_best_model]`` after each
  evaluation. So the TrainingArguments need an ``eval_strategy`` other than ``"no"`` (otherwise the LR
  never changes) and an explicit ``metric_for_best_model``: it defaults to ``"loss"`` only when
  ``lr_scheduler_type="reduce_lr_on_plateau"`` or ``load_best_model_at_end``; with a custom scheduler
  and no metric, ``_evaluate`` fails on ``None.startswith``. ``mode`` must match the metric: ``"min"``
  for a loss, ``"max"`` for f1. ``patience`` counts evaluations, not epochs.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
)

SCHEDULERS = ("plateau", "onecycle", "cosine", "multistep", "constant")


def build_scheduler(
    name: str,
    optimizer: Optimizer,
    num_training_steps: int,
    steps_per_epoch: int,
    *,
    max_lr: float | None = None,
    milestones_epochs: tuple[int, ...] = (),
    gamma: float = 0.1,
    mode: str = "min",
    patience: int = 1,
    factor: float = 0.5,
) -> LRScheduler | ReduceLROnPlateau:
    """Scheduler ``name`` (one of ``SCHEDULERS``) for ``optimizer`` over ``num_training_steps`` steps.

    ``max_lr`` (onecycle) defaults to the optimizer's current lr; ``milestones_epochs`` (multistep)
    default to 1/2 and 3/4 of training; ``gamma`` is the multistep decay; ``mode``, ``patience`` and
    ``factor`` configure ``plateau``.
    """
    if num_training_steps < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"num_training_steps ({num_training_steps}) and steps_per_epoch ({steps_per_epoch}) must be >= 1"
        )
    if name == "plateau":
        return ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience)
    if name == "onecycle":
        peak = max_lr if max_lr is not None else optimizer.param_groups[0]["lr"]
        return OneCycleLR(optimizer, max_lr=peak, total_steps=num_training_steps)
    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=num_training_steps)
    if name == "multistep":
        epochs = math.ceil(num_training_steps / steps_per_epoch)
        milestones = milestones_epochs or (max(1, epochs // 2), max(1, 3 * epochs // 4))
        return MultiStepLR(
            optimizer, milestones=sorted({m * steps_per_epoch for m in milestones}), gamma=gamma
        )
    if name == "constant":
        return LambdaLR(optimizer, lambda _: 1.0)
    raise ValueError(f"unknown scheduler {name!r}; choose one of {SCHEDULERS}")
