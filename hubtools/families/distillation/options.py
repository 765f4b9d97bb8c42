"""The distillation family's options section (YAML key ``distillation``); its ``model`` keys are the
token-classification family's (a student is a token classifier)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hubtools.config import DataConfig
from hubtools.errors import ConfigError
from hubtools.families.token_classification.options import TokenClassificationModelOptions


@dataclass
class DistillationConfig:
    """Knowledge distillation of a teacher into the run's model (the student), see
    :mod:`hubtools.families.distillation.recipe`. Its YAML key is ``distillation``.

    Attributes:
        teacher: token-classification model id or folder; its labels are mapped to the dataset's by name.
            ``None`` trains the teacher first (as does ``train_teacher``).
        train_teacher: train the teacher with the same recipe into the sibling run ``OUTPUT_DIR-teacher``.
        teacher_model / teacher_training: values replacing the ``model`` / ``training`` sections for
            training the teacher (e.g. ``{name_or_path: ..., from_scratch: null}``).
        student_from_teacher: the student is ``build_student_from_teacher`` (teacher layers copied) with
            the teacher's tokenizer, instead of the ``model`` section.
        student_layers: layers of that student (None: half the teacher's).
        alphas / temperatures: the grid searched on validation F1 (alpha-major order).
        search_budget: at most this many (alpha, temperature) pairs (None: the whole grid).
        transfer: a transfer set: unlabelled sentences the teacher reads for the distilled students (its
            logits as soft targets, its argmax as their labels), added to the training split; ``{}`` for none.
            Keys: ``split`` (default ``train``), ``skip`` (leading sentences left out, e.g. the ones
            ``data.max_samples`` kept as labelled data), ``max_sentences``, and any ``data`` key (default:
            the ``data`` section without ``max_samples``). Gold tags there are never read.
        augment: copies of each training sentence with words replaced (``hubtools.families.distillation.features``) that
            the teacher reads for the distilled students like a transfer set (0: none).
        augment_rate: the share of words replaced in those copies.
    """

    SECTION: ClassVar[str] = "distillation"

    teacher: str | None = "dslim/bert-base-NER"
    train_teacher: bool = False
    teacher_model: dict[str, Any] = field(default_factory=dict)
    teacher_training: dict[str, Any] = field(default_factory=dict)
    student_from_teacher: bool = False
    student_layers: int | None = None
    alphas: list[float] = field(default_factory=lambda: [0.25, 0.5])
    temperatures: list[float] = field(default_factory=lambda: [2.0, 4.0])
    search_budget: int | None = None
    transfer: dict[str, Any] = field(default_factory=dict)
    augment: int = 0
    augment_rate: float = 0.3

    def __post_init__(self) -> None:
        known = {"split", "skip", "max_sentences"} | {f.name for f in dataclasses.fields(DataConfig)}
        unknown = sorted(set(self.transfer) - known)
        if unknown:
            raise ConfigError(f"distillation.transfer: unknown key(s) {unknown}; known: {sorted(known)}")
        if int(self.transfer.get("skip", 0)) < 0 or int(self.transfer.get("max_sentences", 1)) < 1:
            raise ConfigError(f"distillation.transfer: skip must be >= 0 and max_sentences >= 1, got {self.transfer}")
        if not self.alphas or not self.temperatures:
            raise ConfigError("distillation.alphas and distillation.temperatures need at least one value each")
        if any(not 0 <= a <= 1 for a in self.alphas) or any(t <= 0 for t in self.temperatures):
            raise ConfigError(f"distillation: alphas must be in [0, 1] and temperatures > 0, got "
                              f"{self.alphas} and {self.temperatures}")
        if self.augment < 0 or not 0 < self.augment_rate <= 1:
            raise ConfigError(f"distillation.augment must be >= 0 and augment_rate in (0, 1], got {self.augment} "
                              f"and {self.augment_rate}")
        if self.search_budget is not None and self.search_budget < 1:
            raise ConfigError(f"distillation.search_budget must be at least 1, got {self.search_budget}")
        if self.student_layers is not None and self.student_layers < 1:
            raise ConfigError(f"distillation.student_layers must be at least 1, got {self.student_layers}")

    @property
    def trains_teacher(self) -> bool:
        return self.train_teacher or not self.teacher

OPTIONS = DistillationConfig
MODEL_OPTIONS = TokenClassificationModelOptions
