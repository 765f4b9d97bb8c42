"""The RNN-tagger family's ``options`` section."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubtools.errors import ConfigError
from hubtools.families.rnn_tagger.schedulers import SCHEDULERS

TOKENIZERS = ("word", "wordpiece")


@dataclass
class RnnOptions:
    """Vocabulary and optimizer of the RNN taggers (the cell is the recipe's ``system``).

    Attributes:
        tokenizer: ``word`` (one id per word, unseen words are ``[UNK]``) or ``wordpiece`` (sub-word
            pieces learned from the training split; the first piece of each word is labelled).
        min_frequency: ``word``: a training-split word enters the vocabulary if seen this often (rarer
            words train the ``[UNK]`` embedding that unseen test words get); ``wordpiece``: the trainer's
            minimum pair frequency.
        subword_vocab_size: the ``wordpiece`` vocabulary size.
        scheduler: one of ``hubtools.families.rnn_tagger.schedulers.SCHEDULERS``, for Adam at
        ``training.learning_rate``.
        patience / factor: ReduceLROnPlateau (evaluations without improvement of
            ``training.metric_for_best_model``, and the decay).
        milestones_epochs / gamma: MultiStepLR (default milestones: 1/2 and 3/4 of training).
        max_lr: OneCycleLR peak (default: ``training.learning_rate``).
        average_last: with a positive value, the mean of the weights of the last this many epochs replaces
            the best checkpoint when it scores at least as well on validation
            (:class:`hubtools.families.rnn_tagger.trainer.AveragingTrainer`; results.json ``averaging``); 0: off.
    """

    tokenizer: str = "word"
    min_frequency: int = 1
    subword_vocab_size: int = 8000
    scheduler: str = "plateau"
    patience: int = 1
    factor: float = 0.5
    milestones_epochs: list[int] = field(default_factory=list)
    gamma: float = 0.1
    max_lr: float | None = None
    average_last: int = 0

    def __post_init__(self) -> None:
        if self.min_frequency < 1:
            raise ConfigError(f"options.min_frequency must be at least 1, got {self.min_frequency}")
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"options.tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        if self.subword_vocab_size < 3:
            raise ConfigError(f"options.subword_vocab_size must be at least 3, got {self.subword_vocab_size}")
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"options.scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.average_last < 0:
            raise ConfigError(f"options.average_last must be 0 (off) or a number of epochs, got {self.average_last}")

OPTIONS = RnnOptions
