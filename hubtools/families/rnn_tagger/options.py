"""The RNN-tagger family's configuration: its ``model`` keys, the sizes of the tagger it builds, and its
``options`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hubtools.config import Sizes
from hubtools.errors import ConfigError
from hubtools.families.rnn_tagger.schedulers import SCHEDULERS
from hubtools.families.token_classification.options import DocumentContext

TOKENIZERS = ("word", "wordpiece")


@dataclass
class RnnTaggerSizes(Sizes):
    """The tagger built from scratch (``model.architecture: rnn-tagger``): values of
    :class:`~hubtools.families.rnn_tagger.configuration_rnn_tagger.RnnTaggerConfig`, a key left unset keeping its
    default; the cell is the recipe's ``system``.

    Attributes:
        embedding_dim: size of the token embeddings.
        hidden_size: size of the recurrent state.
        num_layers: stacked recurrent layers.
        bidirectional: read each row in both directions.
        dropout: dropout on the recurrent outputs (and between stacked layers).
        embedding_dropout: dropout on the input embeddings (training only).
        token_dropout: share of the input tokens replaced by ``[UNK]`` (training only), so that the tagger learns
            to read the context of words it has not seen.
        char_embedding_dim: with a positive value, each token is also read through its characters (a convolution,
            max-pooled) and that vector of this size joins its embedding.
        char_filters: filters of that convolution.
        char_kernel_size: its width in characters.
        use_crf: a linear-chain CRF on top of the per-tag scores.
        word_starts: the CRF links consecutive words (every piece of a word takes its tag) instead of pieces.
        word_units: the recurrent layers read words (the mean of each word's pieces); implies ``word_starts``.
    """

    REFUSED: ClassVar[dict[str, str]] = {"cell": "the cell is set by system / --cell"}

    embedding_dim: int | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    bidirectional: bool | None = None
    dropout: float | None = None
    embedding_dropout: float | None = None
    token_dropout: float | None = None
    char_embedding_dim: int | None = None
    char_filters: int | None = None
    char_kernel_size: int | None = None
    use_crf: bool | None = None
    word_starts: bool | None = None
    word_units: bool | None = None


@dataclass
class RnnTaggerModelOptions(DocumentContext):
    """The RNN-tagger family's ``model`` keys beyond the shared ones: always built from scratch, reading
    documents as the token-classification family does.

    Attributes:
        architecture: ``rnn-tagger``, the one model of the family.
    """

    FAMILY: ClassVar[str] = "rnn-tagger"
    ARCHITECTURES: ClassVar[dict[str, type[Sizes]]] = {"rnn-tagger": RnnTaggerSizes}

    architecture: str = "rnn-tagger"

    def __post_init__(self) -> None:
        if self.from_scratch is None:
            raise ConfigError("model.from_scratch must hold the RNN tagger's values (embedding_dim, hidden_size, "
                              "...); the cell is set by system / --cell")
        super().__post_init__()


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
MODEL_OPTIONS = RnnTaggerModelOptions
