"""scripts/bench_inference.py: the int8 products it times alone for the pipeline's batch-1 ceiling."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helpers import LABELS, TINY_HIDDEN, TINY_INTERMEDIATE, TINY_LAYERS, tiny_fused_graph
from recipe_runs import load_module

from hubtools.config import ExportConfig
from hubtools.export.inference import session_options
from hubtools.families.token_classification.export import detect_instruction_set, quantization_config, quantize_onnx
from hubtools.families.token_classification.onnx_graph import rewrite_for_cpu


def load_bench():
    return load_module("scripts/bench_inference.py")


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory) -> Path:
    """The int8 graph hubtools exports (split attention, dropped padding) of an untrained 2-layer BERT."""
    root = tmp_path_factory.mktemp("bench")
    rewrite_for_cpu(tiny_fused_graph("bert", root), root / "rewritten.onnx")
    qconfig = quantization_config(ExportConfig(), detect_instruction_set())
    return quantize_onnx(root / "rewritten.onnx", root / "model_quantized.onnx", qconfig, embeddings=True)


def test_products_graph_holds_every_int8_product_and_nothing_else(int8_model, tmp_path) -> None:
    graph = load_bench().products_graph(int8_model, tmp_path)
    ops = Counter(node.op_type for node in graph.graph.node)
    # per layer Q, K, V, attention output, feed-forward in and out; then the classifier
    assert ops["DynamicQuantizeMatMul"] + ops["MatMulIntegerToFloat"] == 6 * TINY_LAYERS + 1
    assert set(ops) <= {"DynamicQuantizeMatMul", "MatMulIntegerToFloat", "DynamicQuantizeLinear"}
    assert sum(node.op_type == "MatMulInteger" for node in onnx.load(int8_model).graph.node) == 6 * TINY_LAYERS + 1
    assert sorted(i.name for i in graph.graph.input) == [f"rows_{TINY_HIDDEN}", f"rows_{TINY_INTERMEDIATE}"]
    session = ort.InferenceSession(graph.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    for rows in (1, 7):
        feed = {f"rows_{w}": np.ones((rows, w), np.float32) for w in (TINY_HIDDEN, TINY_INTERMEDIATE)}
        outputs = session.run(None, feed)
        assert all(out.shape[0] == rows and np.isfinite(out).all() for out in outputs)
        # every product's output: per layer Q, K, V, attention output and feed-forward out of the hidden width,
        # feed-forward in of the intermediate width; the classifier's of one column per label
        widths = Counter(out.shape[1] for out in outputs)
        assert widths == {TINY_HIDDEN: 5 * TINY_LAYERS, TINY_INTERMEDIATE: TINY_LAYERS, len(LABELS): 1}


def test_products_alone_times_each_length(int8_model, tmp_path) -> None:
    ms = load_bench().products_alone(int8_model, [3, 20, 3], rounds=2, work=tmp_path)
    assert ms.shape == (3,) and np.isfinite(ms).all() and (ms > 0).all()


def test_an_unfused_product_is_refused(int8_model, tmp_path) -> None:
    """A MatMulInteger that ONNX Runtime leaves unfused would be missing from the products timed: refused."""
    model = onnx.load(int8_model)
    extra = onnx.helper.make_node("MatMulInteger", ["extra_a", "extra_b"], ["extra_y"])
    model.graph.node.append(extra)
    model.graph.input.append(onnx.helper.make_tensor_value_info("extra_a", onnx.TensorProto.UINT8, [2, 2]))
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.ones((2, 2), np.int8), "extra_b"))
    model.graph.output.append(onnx.helper.make_tensor_value_info("extra_y", onnx.TensorProto.INT32, [2, 2]))
    onnx.save(model, tmp_path / "extra.onnx")
    with pytest.raises(RuntimeError, match="did not fuse all"):
        load_bench().products_graph(tmp_path / "extra.onnx", tmp_path)
