"""The SpanMarker family's configuration: its ``model`` keys and its ``options`` section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hubtools.config import ModelConfig, Sizes
from hubtools.errors import ConfigError
from hubtools.families.token_classification.options import BertSizes


@dataclass
class SpanMarkerModelOptions(ModelConfig):
    """SpanMarker's ``model`` keys beyond the shared ones: the encoder, pretrained or a tiny BERT built from
    scratch with a WordPiece tokenizer.

    Attributes:
        architecture: ``bert``, the encoder ``from_scratch`` builds.
        vocab_size: WordPiece vocabulary size of that encoder.
    """

    FAMILY: ClassVar[str] = "span-marker"
    ARCHITECTURES: ClassVar[dict[str, type[Sizes]]] = {"bert": BertSizes}

    architecture: str = "bert"
    vocab_size: int = 2000


@dataclass
class SpanMarkerOptions:
    """SpanMarker's length limits and loss.

    Attributes:
        entity_max_length: longest entity in words that the model proposes as a span.
        marker_max_length: marker pairs (candidate spans) per forward pass; longer sentences take several.
        outside_weight: loss weight of the ``O`` class (1.0 is SpanMarker's own loss); candidate spans that
            are no entity outnumber entities by far, which keeps a from-scratch encoder at high precision
            and low recall unless they weigh less.
    """

    entity_max_length: int = 8
    marker_max_length: int = 128
    outside_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("entity_max_length", "marker_max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"options.{name} must be at least 1, got {getattr(self, name)}")
        if self.outside_weight <= 0:
            raise ConfigError(f"options.outside_weight must be positive, got {self.outside_weight}")

OPTIONS = SpanMarkerOptions
MODEL_OPTIONS = SpanMarkerModelOptions
