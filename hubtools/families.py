"""The model families and their exporters: which :class:`~hubtools.export.base.Exporter` publishes a run.

A run records its family in results.json ``model.family``; ``hubtools export RUN`` and the recipes look the
exporter up here. Families are imported only when asked for, so a transformers run never imports SpanMarker.
"""

from __future__ import annotations

import importlib

from hubtools.errors import ExportError

EXPORTERS = {
    "token-classification": "hubtools.export.optimum_onnx:OptimumExporter",
    "rnn-tagger": "hubtools.rnn.export:RnnExporter",
    "span-marker": "hubtools.spanmarker.export:SpanMarkerExporter",
}


def exporter_for(family: str) -> type:
    """The exporter class of a model family."""
    if family not in EXPORTERS:
        raise ExportError(f"no exporter for model family {family!r}; known: {sorted(EXPORTERS)}")
    module, name = EXPORTERS[family].split(":")
    return getattr(importlib.import_module(module), name)
