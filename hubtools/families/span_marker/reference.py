"""Where a saved SpanMarker model finds its encoder: in its own folder or repo (light, json only).

span_marker 1.8.1 rebuilds the encoder of a saved model from
``AutoConfig.from_pretrained(config.encoder["_name_or_path"], **config.encoder)`` and loads the tokenizer from
``config.encoder["_name_or_path"]``. hubtools saves the encoder config to ``encoder/`` beside SpanMarker's own
tokenizer files and stores the model's own location as ``_name_or_path`` with ``subfolder: encoder`` (a keyword
``AutoConfig`` understands): the run folder's absolute path on disk, the repo id in the copy that
:mod:`hubtools.push` uploads. A moved folder reloads with
:func:`hubtools.families.span_marker.model.load_saved_spanmarker`, which points the reference at the new place.
"""

from __future__ import annotations

import json
from typing import Any

ENCODER_SUBFOLDER = "encoder"


def refers_to_itself(config: dict[str, Any]) -> bool:
    """True for a SpanMarker ``config.json`` whose encoder lives in its own ``encoder/`` subfolder."""
    encoder = config.get("encoder")
    return (config.get("model_type") == "span-marker" and isinstance(encoder, dict)
            and encoder.get("subfolder") == ENCODER_SUBFOLDER)


def encoder_at(encoder: dict[str, Any], location: str) -> dict[str, Any]:
    """A SpanMarker config's ``encoder`` dict referring to ``location`` (a folder or a repo id) + ``encoder/``."""
    return {**encoder, "_name_or_path": location, "subfolder": ENCODER_SUBFOLDER}


def config_for_repo(config_text: str, repo_id: str) -> str | None:
    """The ``config.json`` text to upload to ``repo_id``, or None when it does not refer to itself."""
    config = json.loads(config_text)
    if not refers_to_itself(config):
        return None
    return json.dumps({**config, "encoder": encoder_at(config["encoder"], repo_id)}, indent=2, sort_keys=True) + "\n"
