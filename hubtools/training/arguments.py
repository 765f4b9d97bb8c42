"""The ``training`` section of a recipe: transformers' ``TrainingArguments`` with nerhub's defaults and additions.

Every Trainer option is a key of the section (``training.lr_scheduler_type=cosine``,
``training.gradient_checkpointing=true``, ...), documented by transformers itself. What nerhub changes:

- defaults for word-level NER runs: evaluate, save and log every epoch, keep the best checkpoint by validation
  entity F1, at most 2 checkpoints, batches of 16 (training) and 32 (evaluation), no reporting integrations;
- ``fp16`` and ``bf16`` also take ``auto``: fp16 mixed precision where CUDA is available, bf16 autocast on a
  CPU-only run whose CPU computes bf16 natively (AVX512-BF16 or AMX);
- ``max_tokens_per_batch``: training batches hold at most this many padded tokens instead of
  ``per_device_train_batch_size`` sentences (:mod:`hubtools.training.batching`);
- ``early_stopping_patience``: stop when validation entity F1 has not improved for this many evaluations
  (transformers' ``EarlyStoppingCallback``; the best checkpoint is the model);
- on a machine without CUDA the processes of ``accelerate launch`` train on the CPU together (gloo).

Parsing the section leaves ``os.environ`` as it was: the variables transformers writes there for Accelerate (mixed
precision, torch compile) are kept on the arguments and set by :func:`apply_environment` when a Trainer is built.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import TrainingArguments

from hubtools.errors import ConfigError

PRECISION_CHOICES = ("auto", True, False)


def cpu_has_native_bf16() -> bool:
    """The CPU computes bf16 natively (AVX512-BF16 or AMX, as oneDNN reports it)."""
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(fp16: bool | str, bf16: bool | str) -> tuple[bool, bool]:
    """(fp16, bf16) for this machine: ``auto`` is fp16 on CUDA, bf16 on a CPU with native bf16, else off."""
    for name, value in (("fp16", fp16), ("bf16", bf16)):
        if value not in PRECISION_CHOICES:
            raise ConfigError(f"training.{name} must be auto, true or false, got {value!r}")
    if fp16 is True and bf16 is True:
        raise ConfigError("training.fp16 and training.bf16 cannot both be true")
    cuda = torch.cuda.is_available()
    if fp16 is True and not cuda:
        raise ConfigError("training.fp16=true needs a CUDA device; use auto or false on CPU")
    use_fp16 = cuda if fp16 == "auto" else bool(fp16)
    use_bf16 = not use_fp16 and ((not cuda and cpu_has_native_bf16()) if bf16 == "auto" else bool(bf16))
    return use_fp16, use_bf16


@contextlib.contextmanager
def environment_kept() -> Iterator[dict[str, str]]:
    """Undo what the block writes in ``os.environ``; the mapping yielded receives the variables it set."""
    before = dict(os.environ)
    written: dict[str, str] = {}
    try:
        yield written
    finally:
        for name in set(os.environ) | set(before):
            if os.environ.get(name) == before.get(name):
                continue
            if name in os.environ:
                written[name] = os.environ[name]
            if name in before:
                os.environ[name] = before[name]
            else:
                del os.environ[name]


@dataclass
class NerTrainingArguments(TrainingArguments):
    """``TrainingArguments`` with nerhub's defaults, ``auto`` mixed precision and token-budget batches."""

    output_dir: str | None = field(default="checkpoints", metadata={"help": "Set by the recipe to the run's "
                                                                          "checkpoints folder."})
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 32
    eval_strategy: str = "epoch"
    save_strategy: str = "epoch"
    logging_strategy: str = "epoch"
    load_best_model_at_end: bool | None = True
    metric_for_best_model: str | None = "f1"
    save_total_limit: int | None = 2
    report_to: str | list[str] | None = "none"
    disable_tqdm: bool | None = False
    fp16: bool | str = field(default="auto", metadata={"help": "auto: fp16 mixed precision where CUDA is "
                                                                "available; true or false."})
    bf16: bool | str = field(default="auto", metadata={"help": "auto: bf16 autocast on a CPU with native bf16 "
                                                                "(no CUDA); true or false."})
    max_tokens_per_batch: int | None = field(default=None, metadata={
        "help": "Token-budget training batches of at most this many padded tokens (per_device_train_batch_size "
                "is then unused for training)."})

    early_stopping_patience: int | None = field(default=None, metadata={
        "help": "Stop when the best-model metric has not improved for this many evaluations."})

    def __post_init__(self) -> None:
        self.requested_precision = {"fp16": self.fp16, "bf16": self.bf16}
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError(f"training.early_stopping_patience must be at least 1, got "
                              f"{self.early_stopping_patience}")
        self.fp16, self.bf16 = resolve_precision(self.fp16, self.bf16)
        if self.learning_rate <= 0:
            raise ConfigError(f"training.learning_rate must be positive, got {self.learning_rate}")
        if self.num_train_epochs <= 0:
            raise ConfigError(f"training.num_train_epochs must be positive, got {self.num_train_epochs}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"training.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {getattr(self, name)}")
        if self.max_tokens_per_batch is not None and self.max_tokens_per_batch < 16:
            raise ConfigError(f"training.max_tokens_per_batch must be at least 16, got {self.max_tokens_per_batch}")
        if not torch.cuda.is_available():
            self.use_cpu = True  # the launched processes form a CPU (gloo) group instead of looking for GPUs
        with environment_kept() as written:  # TrainingArguments hands settings to Accelerate in os.environ
            try:
                super().__post_init__()
            except (ValueError, TypeError) as err:
                raise ConfigError(f"training: {' '.join(str(err).split())}") from None
        self.accelerate_environment = written

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> NerTrainingArguments:
        """The section from a mapping of YAML values (unknown keys raise ConfigError naming them)."""
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) in training: {unknown}; the section takes transformers' "
                              "TrainingArguments (see their documentation), max_tokens_per_batch and "
                              "early_stopping_patience")
        try:
            args = cls(**values)
        except TypeError as err:
            raise ConfigError(f"training: {err}") from None
        args.given = dict(values)
        return args

    def given_values(self) -> dict[str, Any]:
        """The values set by the configuration (what results.json records as ``config.training``)."""
        return dict(getattr(self, "given", {}))

    def for_run(self, output_dir: str | os.PathLike) -> NerTrainingArguments:
        """A copy writing its checkpoints to ``output_dir``; mixed precision resolved again from the request."""
        copy = dataclasses.replace(self, output_dir=str(output_dir), logging_dir=None, **self.requested_precision)
        copy.given = self.given_values()
        return copy


def apply_environment(args: TrainingArguments) -> None:
    """Right before a Trainer is built: set the variables through which ``args`` reach Accelerate (those
    transformers wrote while the section was parsed, and the mixed precision of ``args`` whatever an earlier run
    in the process left there) and forget the process-wide state of earlier Trainers (several runs share a
    process in the distillation recipe)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=False)
    os.environ.update(getattr(args, "accelerate_environment", {}))
    os.environ["ACCELERATE_MIXED_PRECISION"] = "fp16" if args.fp16 else "bf16" if args.bf16 else "no"


def reset_mixed_precision() -> None:
    """Forget the mixed precision of earlier Trainers in this process (the variable transformers leaves behind
    and Accelerate's process-wide state)."""
    from accelerate.state import AcceleratorState

    os.environ.pop("ACCELERATE_MIXED_PRECISION", None)
    AcceleratorState._reset_state(reset_partial_state=True)
