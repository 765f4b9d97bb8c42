"""The decoder protocol: a saved model of one family tagging words, for ``hubtools evaluate`` and ``predict``.

Each family's ``decode`` module defines ``DECODER``, a :class:`Decoder` subclass; generic code gets it through
the registry (``family(name).decoder``, :mod:`hubtools.families`), usually as
:meth:`hubtools.tagging.ModelSource.decoder`. A decoder is built from a resolved model
(:class:`~hubtools.tagging.ModelSource`), one variant (``pytorch`` or an exported ONNX file), a batch size and
ONNX Runtime threads; it names its tags in IOB2 (:attr:`Decoder.label_names`) and gives one label id per word.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from datasets import Dataset

    from hubtools.tagging import ModelSource


class Decoder(ABC):
    """One variant of a model, tagging the words of datasets (``tokens`` column) with label ids."""

    #: the ONNX file in ``onnx/`` of each variant the family's exporter writes (when results.json lists none)
    variant_files: ClassVar[Mapping[str, str]] = {}

    def __init__(self, source: ModelSource, variant: str = "pytorch", batch_size: int = 32,
                 threads: int | None = None) -> None:
        self.source, self.variant, self.batch_size, self.threads = source, variant, batch_size, threads
        self.label_names = self.labels(source.config)

    @classmethod
    @abstractmethod
    def check(cls, config: Mapping[str, Any], where: str, trusted: bool) -> None:
        """UsageError naming ``where`` when ``config`` (config.json) is not a model this decoder tags with: not
        of the family, no IOB2 label names, or code of its own that is not ``trusted``."""

    @staticmethod
    @abstractmethod
    def labels(config: Mapping[str, Any]) -> list[str]:
        """The IOB2 tag names of a checked ``config``: label id ``i`` is ``labels(config)[i]``."""

    @abstractmethod
    def tag(self, ds: Dataset, pool: Sequence[Dataset] = ()) -> list[list[int]]:
        """One label id (an index of :attr:`label_names`) per word of every sentence of ``ds`` (``pool``: the
        other splits, whose sentences a model that reads document context may read around them)."""
