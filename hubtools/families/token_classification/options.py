"""The plain token-classification family's ``options`` section."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubtools.errors import ConfigError

REFERENCE_KEYS = {"source", "f1", "precision", "recall"}


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
