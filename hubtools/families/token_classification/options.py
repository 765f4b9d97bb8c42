"""The plain token-classification family's configuration: its ``model`` keys (shared with the families built on
it), the sizes of the encoders it builds from scratch, and its ``options`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hubtools.config import ModelConfig, Sizes
from hubtools.errors import ConfigError

REFERENCE_KEYS = {"source", "f1", "precision", "recall"}
VALIDATION_ROWS = ("scored", "runs")  # model.validation_rows
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flex_attention")  # transformers' names
# model keys that change a pretrained encoder as it is fine-tuned (the card lists those set)
ENCODER_SETTINGS = ("case_tokens", "freeze_embeddings", "attention_dropout", "hidden_dropout",
                    "attention_implementation")


@dataclass
class DistilBertSizes(Sizes):
    """A DistilBERT built from scratch (``model.architecture: distilbert``): values of transformers'
    ``DistilBertConfig``, a key left unset keeping its default.

    Attributes:
        dim: the hidden size.
        n_layers: transformer layers.
        n_heads: attention heads per layer.
        hidden_dim: the feed-forward size.
        max_position_embeddings: the longest input, in sub-tokens.
        dropout: dropout on the hidden states.
        attention_dropout: dropout on the attention probabilities.
    """

    dim: int | None = None
    n_layers: int | None = None
    n_heads: int | None = None
    hidden_dim: int | None = None
    max_position_embeddings: int | None = None
    dropout: float | None = None
    attention_dropout: float | None = None


@dataclass
class BertSizes(Sizes):
    """A BERT built from scratch (``model.architecture: bert``): values of transformers' ``BertConfig``, a key
    left unset keeping its default.

    Attributes:
        hidden_size: the hidden size.
        num_hidden_layers: transformer layers.
        num_attention_heads: attention heads per layer.
        intermediate_size: the feed-forward size.
        max_position_embeddings: the longest input, in sub-tokens.
        hidden_dropout_prob: dropout on the hidden states.
        attention_probs_dropout_prob: dropout on the attention probabilities.
    """

    hidden_size: int | None = None
    num_hidden_layers: int | None = None
    num_attention_heads: int | None = None
    intermediate_size: int | None = None
    max_position_embeddings: int | None = None
    hidden_dropout_prob: float | None = None
    attention_probs_dropout_prob: float | None = None


@dataclass
class DocumentContext(ModelConfig):
    """The ``model`` keys of a family that reads sentences with their document around them (token
    classification, distillation, the RNN taggers).

    Attributes:
        document_context: with a positive value and a dataset that has documents, sentences are read with
            their neighbours in the document, up to this many sub-tokens per row
            (``hubtools.families.token_classification.features``); 0 reads every sentence alone.
        validation_rows: with document context, how the validation pass after each epoch (which picks the
            checkpoint kept) reads the validation split: ``scored``, each sentence with its own neighbours, as
            the scored split is read; ``runs``, runs of consecutive sentences as the training rows, every word
            read once: a fraction of the sub-tokens
            (:func:`hubtools.families.token_classification.features.validation_runs`).
    """

    document_context: int = 0
    validation_rows: str = "scored"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.document_context < 0:
            raise ConfigError(f"model.document_context must be 0 (off) or a number of sub-tokens, got "
                              f"{self.document_context}")
        if self.validation_rows not in VALIDATION_ROWS:
            raise ConfigError(f"model.validation_rows must be one of {', '.join(VALIDATION_ROWS)}, got "
                              f"{self.validation_rows!r}")


@dataclass
class TokenClassificationModelOptions(DocumentContext):
    """The token-classification family's ``model`` keys beyond the shared ones: a transformers encoder,
    pretrained (and what fine-tuning changes in it) or built from scratch with a WordPiece tokenizer.

    Attributes:
        architecture: ``distilbert`` or ``bert``, the encoder ``from_scratch`` builds.
        vocab_size: WordPiece vocabulary size for ``from_scratch``.
        reset_head: allow a checkpoint whose classifier has other labels (the head is re-initialized).
        case_tokens: when the encoder's tokenizer lowercases (a WordPiece one), add the Capitalized and UPPER form
            of every piece to its vocabulary, embedded as the lowercase piece plus a direction per form, and keep
            case in the tokenizer (:mod:`hubtools.families.token_classification.case_tokens`); other tokenizers are
            left as they are.
        freeze_embeddings: keep the pretrained word embeddings as they are (no gradient, no optimizer state):
            less work per step, and words rare in the training data keep their pretrained meaning.
        attention_dropout: dropout on the attention probabilities while fine-tuning a pretrained encoder
            as a token classifier (``attention_probs_dropout_prob`` or ``attention_dropout`` of its config);
            None keeps the checkpoint's own value.
        hidden_dropout: dropout on the hidden states (after embeddings, attention output and feed-forward) while
            fine-tuning a pretrained encoder as a token classifier (``hidden_dropout_prob`` or ``dropout``);
            None keeps the checkpoint's own value.
        attention_implementation: transformers' ``attn_implementation`` of a pretrained encoder fine-tuned as a
            token classifier, for training and scoring (``eager``, ``sdpa``, ...); None lets transformers choose
            (``sdpa`` where it can).
    """

    FAMILY: ClassVar[str] = "token-classification"
    ARCHITECTURES: ClassVar[dict[str, type[Sizes]]] = {"distilbert": DistilBertSizes, "bert": BertSizes}

    architecture: str = "distilbert"
    vocab_size: int = 2000
    reset_head: bool = False
    case_tokens: bool = False
    freeze_embeddings: bool = False
    attention_dropout: float | None = None
    hidden_dropout: float | None = None
    attention_implementation: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.from_scratch is not None and self.encoder_changes():
            raise ConfigError(f"{', '.join(f'model.{key}' for key in self.encoder_changes())} change a pretrained "
                              f"encoder; model.from_scratch builds a new one (set them to null / false, or its "
                              f"config values in model.from_scratch)")
        if self.attention_implementation not in (None, *ATTENTION_IMPLEMENTATIONS):
            raise ConfigError(f"model.attention_implementation must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, "
                              f"got {self.attention_implementation!r}")
        for key in ("attention_dropout", "hidden_dropout"):
            value = getattr(self, key)
            if value is not None and not 0 <= value < 1:
                raise ConfigError(f"model.{key} must be in [0, 1), got {value}")

    def encoder_changes(self) -> dict[str, Any]:
        """The settings of :data:`ENCODER_SETTINGS` that change the pretrained encoder here (set, not false)."""
        values = {key: getattr(self, key) for key in ENCODER_SETTINGS}
        return {key: value for key, value in values.items() if value is not None and value is not False}


@dataclass
class TokenClassificationOptions:
    """Further scores of the test split.

    Attributes:
        io_scores: also score entities as maximal runs of one type, prefixes ignored (how IO-tagged data such
            as Few-NERD is scored in the literature); recorded as the extra score ``io``.
        references: published scores to show beside the run's, by ``system`` (``default`` for any system):
            ``{source, f1, precision, recall}``; recorded as the extra score ``reference``.
    """

    io_scores: bool = False
    references: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for system, reference in self.references.items():
            if not isinstance(reference, dict) or set(reference) - REFERENCE_KEYS or "source" not in reference:
                raise ConfigError(f"options.references.{system} must hold source and any of f1, precision, "
                                  f"recall, got {reference!r}")

OPTIONS = TokenClassificationOptions
MODEL_OPTIONS = TokenClassificationModelOptions
