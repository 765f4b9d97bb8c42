"""SpanMarker ONNX export, int8 quantization, onnxruntime inference and verification.

Reloading a saved SpanMarker folder: span_marker rebuilds the encoder from
``config.encoder["_name_or_path"]`` (config) and loads the tokenizer from there too. The recipes' save step
(:func:`hubtools.spanmarker.modeling.save_spanmarker`) writes the encoder config to ``model/encoder/`` and names
the folder itself, with ``subfolder: encoder``; ``hubtools push`` uploads that ``config.json`` naming the repo
(:mod:`hubtools.spanmarker_ref`). So ``SpanMarkerModel.from_pretrained`` reloads the run folder offline and the
pushed repo from the Hub; a moved folder reloads with ``load_saved_spanmarker``. The ONNX folder written by
``export_spanmarker_onnx`` needs none of this; ``SpanMarkerOnnxRunner.from_pretrained`` reads only it.
"""

from hubtools.spanmarker.onnx_export import (
    SpanMarkerOnnxGraph,
    export_spanmarker_onnx,
    optimize_spanmarker_onnx,
    quantize_spanmarker_onnx,
)
from hubtools.spanmarker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.spanmarker.onnx_verify import benchmark_spanmarker, entity_f1, verify_spanmarker_onnx

__all__ = [
    "SpanMarkerOnnxGraph",
    "SpanMarkerOnnxRunner",
    "benchmark_spanmarker",
    "entity_f1",
    "export_spanmarker_onnx",
    "optimize_spanmarker_onnx",
    "quantize_spanmarker_onnx",
    "verify_spanmarker_onnx",
]
