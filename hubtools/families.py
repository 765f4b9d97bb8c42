"""The model families: which :class:`~hubtools.export.base.Exporter` exports a run, and what a run publishes.

A run records its family in results.json ``model.family``; ``hubtools export RUN`` and the recipes look the
exporter up here, and ``hubtools push`` publishes the files a family declares and nothing else. Families are
imported only when asked for, so a transformers run never imports SpanMarker.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from hubtools.errors import ExportError

# Repo paths (``fnmatch`` patterns, one per path level) every model repo may hold.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                   "merges.txt", "added_tokens.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")
MODEL_FILES = ("README.md", "config.json", "model.safetensors", "model-*-of-*.safetensors",
               "model.safetensors.index.json", *TOKENIZER_FILES)
ONNX_FILES = ("onnx/*.onnx", "onnx/*.onnx_data", "onnx/config.json", "onnx/ort_config.json",
              *(f"onnx/{name}" for name in TOKENIZER_FILES))
RUN_FILES = ("results.json", "plots/*.png")
DATASET_FILES = ("README.md", "*.parquet", "*.png")
# Files that are binary by nature; every other published file must be UTF-8 text.
BINARY_FILES = ("*.safetensors", "*.onnx", "*.onnx_data", "*.parquet", "*.png", "*.model")


@dataclass(frozen=True)
class Family:
    """A model family: its exporter (``module:Class``) and the files its runs publish beyond the shared ones
    (``files``, repo path patterns) of which ``code_files`` are Python modules loaded as remote code."""

    name: str
    exporter: str
    files: tuple[str, ...] = ()
    code_files: tuple[str, ...] = ()

    @property
    def published(self) -> tuple[str, ...]:
        """Every repo path pattern a model repo of this family may hold."""
        return (*MODEL_FILES, *ONNX_FILES, *RUN_FILES, *self.files, *self.code_files)


_RNN_CODE = ("configuration_rnn_tagger.py", "modeling_rnn_tagger.py")
FAMILIES = {family.name: family for family in (
    Family("token-classification", "hubtools.export.optimum_onnx:OptimumExporter"),
    Family("rnn-tagger", "hubtools.rnn.export:RnnExporter", files=("onnx/crf.json",),
           code_files=(*_RNN_CODE, *(f"onnx/{name}" for name in _RNN_CODE))),
    Family("span-marker", "hubtools.spanmarker.export:SpanMarkerExporter", files=("encoder/config.json",)),
)}


def family(name: str) -> Family:
    """The family called ``name`` (results.json ``model.family``)."""
    if name not in FAMILIES:
        raise ExportError(f"unknown model family {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name]


def exporter_for(name: str) -> type:
    """The exporter class of a model family."""
    module, cls = family(name).exporter.split(":")
    return getattr(importlib.import_module(module), cls)
