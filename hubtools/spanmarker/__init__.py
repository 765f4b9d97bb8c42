"""SpanMarker ONNX export, int8 quantization, onnxruntime inference and verification.

Reloading a saved SpanMarker folder: ``SpanMarkerModel.from_pretrained(run/model)`` reads the SpanMarker
``config.json``, but rebuilds the encoder from ``AutoConfig.from_pretrained(config.encoder["_name_or_path"])``
and loads the tokenizer from that same encoder path or Hub id, not from the folder: offline, the original
encoder (a local path or a cached Hub id) must still resolve. The ONNX folder written by
``export_spanmarker_onnx`` has no such dependency; ``SpanMarkerOnnxRunner.from_pretrained`` reads only it.
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
