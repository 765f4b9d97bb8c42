"""The model families and the one registry generic code finds them through.

A family is a subpackage of this one with the same modules: ``options`` (its typed configuration section,
``OPTIONS``), ``model``, ``features``, ``trainer``, ``export`` (its :class:`~hubtools.export.base.Exporter`,
``EXPORTER``), ``decode`` (words in, tags out, ``DECODER``) and ``recipe`` (``RECIPE``). Generic modules (tagging,
evaluation, push, cards, the CLI) ask this registry for a family's pieces and never import a family; a piece is
imported when asked for, so ``hubtools push`` of a transformers run never imports SpanMarker. A run records its
family in results.json ``model.family``; ``hubtools push`` publishes the files that family declares and nothing
else.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

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
    """A model family: its subpackage (``package``), the files its runs publish beyond the shared ones (``files``,
    repo path patterns) of which ``code_files`` are Python modules loaded as remote code, ``builds_on``: the
    family whose models it trains (a distilled student is a plain token classifier), ``repo_config``: the
    ``module:function`` that rewrites a model's ``config.json`` text for the repo it is pushed to (None: as is),
    ``model_type``: the config.json ``model_type`` of its saved models when it is the family's own (not a
    transformers one), and ``card_usage``: the card template (``cards/``) of the model card's usage snippets."""

    name: str
    package: str
    files: tuple[str, ...] = ()
    code_files: tuple[str, ...] = ()
    builds_on: str | None = None
    repo_config: str | None = None
    model_type: str | None = None
    card_usage: str = "_usage_transformers.md.j2"

    def module(self, name: str) -> ModuleType:
        """The family's module ``name`` (``options``, ``model``, ``features``, ``trainer``, ``export``, ``decode``,
        ``recipe`` or one of its own), imported now."""
        return importlib.import_module(f"{self.package}.{name}")

    def piece(self, module: str, name: str) -> Any:
        return getattr(self.module(module), name)

    def config_for_repo(self, config_text: str, repo_id: str) -> str | None:
        """The ``config.json`` text to upload to ``repo_id``, or None to upload the file as it is."""
        if self.repo_config is None:
            return None
        module, function = self.repo_config.split(":")
        return self.piece(module, function)(config_text, repo_id)

    @property
    def published(self) -> tuple[str, ...]:
        """Every repo path pattern a model repo of this family may hold."""
        return (*MODEL_FILES, *ONNX_FILES, *RUN_FILES, *self.files, *self.code_files)

    @property
    def options_class(self) -> type:
        """The dataclass of the family's ``options`` section."""
        return self.piece("options", "OPTIONS")

    @property
    def model_options_class(self) -> type:
        """The dataclass of the family's ``model`` section, ``MODEL_OPTIONS`` of its ``options`` module (a
        :class:`~hubtools.config.ModelConfig`)."""
        return self.piece("options", "MODEL_OPTIONS")

    @property
    def exporter(self) -> type:
        """The family's :class:`~hubtools.export.base.Exporter`."""
        return self.piece("export", "EXPORTER")

    @property
    def decoder(self) -> type:
        """The family's decoder: a model of this family tagging words (evaluate, predict, verification)."""
        return self.piece("decode", "DECODER")

    @property
    def recipe(self) -> type:
        """The family's :class:`~hubtools.recipe.base.Recipe`."""
        return self.piece("recipe", "RECIPE")


_RNN_CODE = ("configuration_rnn_tagger.py", "modeling_rnn_tagger.py")
FAMILIES = {family.name: family for family in (
    Family("token-classification", "hubtools.families.token_classification"),
    Family("distillation", "hubtools.families.distillation", builds_on="token-classification"),
    Family("rnn-tagger", "hubtools.families.rnn_tagger", files=("onnx/crf.json",),
           code_files=(*_RNN_CODE, *(f"onnx/{name}" for name in _RNN_CODE)), model_type="rnn-tagger"),
    Family("span-marker", "hubtools.families.span_marker", files=("encoder/config.json",),
           repo_config="reference:config_for_repo", model_type="span-marker", card_usage="_usage_span_marker.md.j2"),
)}


def family(name: str) -> Family:
    """The family called ``name`` (results.json ``model.family``)."""
    if name not in FAMILIES:
        raise ExportError(f"unknown model family {name!r}; known: {sorted(FAMILIES)}")
    return FAMILIES[name]


def family_of_config(config: Mapping[str, Any]) -> Family:
    """The family of a saved model from its config.json (a model without results.json): the family whose own
    ``model_type`` it has, else plain token classification (any transformers model)."""
    return next((f for f in FAMILIES.values() if f.model_type and f.model_type == config.get("model_type")),
                FAMILIES["token-classification"])


def exporter_for(name: str) -> type:
    """The exporter class of a model family."""
    return family(name).exporter
