"""SpanMarker models for the recipes: from an encoder or a SpanMarker checkpoint, a tiny BERT built on the
training data, and saving a folder that ``SpanMarkerModel.from_pretrained`` reloads offline and, once pushed,
from the Hub (:mod:`hubtools.families.span_marker.reference`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from span_marker import SpanMarkerConfig, SpanMarkerModel
from torch import nn
from transformers import AutoConfig, AutoModel

from hubtools.config import ModelConfig
from hubtools.data.schemes import types_of
from hubtools.errors import ConfigError, about
from hubtools.families.span_marker.options import SpanMarkerModelOptions, SpanMarkerOptions
from hubtools.families.span_marker.reference import ENCODER_SUBFOLDER, encoder_at, refers_to_itself
from hubtools.families.token_classification.model import train_wordpiece_tokenizer


def spanmarker_limits(model: ModelConfig, options: SpanMarkerOptions) -> dict[str, int]:
    """SpanMarker's length limits: ``model_max_length`` (``model.max_length``, sub-tokens), and
    ``entity_max_length`` (words) / ``marker_max_length`` (marker pairs per pass) from the options."""
    return {"model_max_length": model.max_length, "entity_max_length": options.entity_max_length,
            "marker_max_length": options.marker_max_length}


def build_tiny_encoder(model: SpanMarkerModelOptions, sentences: Iterable[Sequence[str]], folder: Path) -> Path:
    """An untrained encoder of ``model.architecture`` (a BERT) sized by ``model.from_scratch`` with a WordPiece
    tokenizer trained on ``sentences``, saved to ``folder`` (the encoder path for :func:`load_spanmarker`)."""
    tokenizer = train_wordpiece_tokenizer(sentences, model.vocab_size, model.lowercase, model.architecture,
                                          model_max_length=model.max_length)
    try:
        config = AutoConfig.for_model(model.architecture, vocab_size=len(tokenizer),
                                      pad_token_id=tokenizer.pad_token_id, **(model.scratch_values() or {}))
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model.from_scratch: {err}") from None
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_spanmarker(model_cfg: ModelConfig, options: SpanMarkerOptions, label_names: list[str],
                    encoder: str | Path) -> SpanMarkerModel:
    """A SpanMarker model on ``encoder`` (an encoder id or folder) for ``label_names``, or a SpanMarker
    checkpoint, which must already predict exactly the dataset's entity types."""
    with about(f"model.name_or_path {str(encoder)!r}"):
        model = SpanMarkerModel.from_pretrained(str(encoder), labels=label_names,
                                                **spanmarker_limits(model_cfg, options))
    own = sorted(label for label in model.config.label2id if label != "O")
    if own != sorted(types_of(label_names)):
        raise ConfigError(f"{encoder}: the SpanMarker checkpoint predicts {own}, the dataset has "
                          f"{sorted(types_of(label_names))}; start from an encoder id instead "
                          f"(model.name_or_path=bert-base-multilingual-cased)")
    if options.outside_weight != 1.0:
        weight_outside(model, options.outside_weight)
    return model


def weight_outside(model: SpanMarkerModel, weight: float) -> None:
    """Scale the training loss of the O class by ``weight`` (see ``SpanMarkerOptions.outside_weight``). The
    weights are a non-persistent buffer, so the saved model is SpanMarker's own."""
    weights = torch.ones(model.config.num_labels)
    weights[model.config.outside_id] = weight
    model.loss_func = nn.CrossEntropyLoss()
    model.loss_func.register_buffer("weight", weights, persistent=False)


def save_spanmarker(model: SpanMarkerModel, model_dir: Path, final_model_dir: Path) -> None:
    """Save ``model`` to ``model_dir`` so that ``SpanMarkerModel.from_pretrained`` reloads it without the
    original encoder.

    SpanMarker rebuilds the encoder from ``config.encoder["_name_or_path"]`` (config and tokenizer), which
    offline fails for an encoder id that is not cached or a folder that is gone. The encoder config goes to
    ``model_dir/encoder`` (SpanMarker saves the tokenizer beside ``config.json``) and the reference names
    ``final_model_dir``, the folder's place once the run is published, with ``subfolder: encoder``.
    """
    model.encoder.config.save_pretrained(model_dir / ENCODER_SUBFOLDER)
    model.config.encoder = encoder_at(model.config.encoder, str(final_model_dir.resolve()))
    model.save_pretrained(model_dir, safe_serialization=True)


def load_saved_spanmarker(name_or_path: str | Path, **kwargs) -> SpanMarkerModel:
    """A SpanMarker model saved by :func:`save_spanmarker` from a folder, wherever it lies now (the stored
    reference is pointed at it), or anything else ``SpanMarkerModel.from_pretrained`` loads (a Hub id)."""
    folder = Path(name_or_path)
    config_file = folder / "config.json"
    if config_file.is_file() and refers_to_itself(json.loads(config_file.read_text())):
        config = SpanMarkerConfig.from_pretrained(folder)
        config.encoder = encoder_at(config.encoder, str(folder.resolve()))
        return SpanMarkerModel.from_pretrained(str(folder), config=config, **kwargs)
    return SpanMarkerModel.from_pretrained(str(name_or_path), **kwargs)
