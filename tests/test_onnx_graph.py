"""CPU rewrites of the fused ONNX graph: split attention and the GELU bias, exact on padded batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from helpers import TINY_ENCODERS, TINY_HIDDEN, tiny_fused_graph
from optimum.onnxruntime import ORTModelForTokenClassification
from transformers import AutoTokenizer

from hubtools.families.token_classification.export import export_onnx, optimize_onnx
from hubtools.families.token_classification.onnx_graph import (
    drop_padding,
    gelu_bias_to_add,
    rewrite_for_cpu,
    split_attention,
)


@pytest.fixture(scope="module", params=sorted(TINY_ENCODERS))
def fused(request, tmp_path_factory) -> Path:
    """The ORTOptimizer-fused fp32 graph of an untrained 2-layer, 4-head model (random weights)."""
    return tiny_fused_graph(request.param, tmp_path_factory.mktemp(request.param))


def ops(model: onnx.ModelProto) -> Counter:
    return Counter((node.domain or "ai.onnx", node.op_type) for node in model.graph.node)


def padded_batch(session: ort.InferenceSession, lengths=(11, 4, 7)) -> dict[str, np.ndarray]:
    """Right-padded random ids with the padding masked out, as the verification's batches are."""
    rng = np.random.default_rng(0)
    width = max(lengths)
    batch = {"input_ids": rng.integers(5, 60, (len(lengths), width)),
             "attention_mask": (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype(np.int64),
             "token_type_ids": np.zeros((len(lengths), width), np.int64)}
    batch["input_ids"][batch["attention_mask"] == 0] = 0
    return {i.name: batch[i.name] for i in session.get_inputs()}


def logits(path: Path, batch: dict | None = None) -> tuple[np.ndarray, dict]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = batch or padded_batch(session)
    return session.run(None, batch)[0], batch


def test_split_attention_is_exact_on_padded_batches(fused, tmp_path):
    model = onnx.load(str(fused))
    layers = ops(model)[("com.microsoft", "Attention")]
    assert layers == 2
    rewritten = tmp_path / "rewritten.onnx"
    assert rewrite_for_cpu(fused, rewritten) == {"gelu_bias": 2, "attention": 2, "padding": 2}
    graph = onnx.load(str(rewritten))
    counts = ops(graph)
    assert counts[("com.microsoft", "Attention")] == 0 and counts[("ai.onnx", "Split")] == 0
    assert counts[("ai.onnx", "Attention")] == layers and counts[("ai.onnx", "MatMul")] >= 3 * layers
    initializers = {t.name: tuple(t.dims) for t in graph.graph.initializer}
    projections = [n for n in graph.graph.node if n.name.endswith(("/q/MatMul", "/k/MatMul", "/v/MatMul"))]
    assert len(projections) == 3 * layers
    assert {initializers[n.input[1]] for n in projections} == {(TINY_HIDDEN, TINY_HIDDEN)}
    assert (TINY_HIDDEN, 3 * TINY_HIDDEN) not in initializers.values()  # the packed QKV weights are gone
    assert {o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")} == {23}
    attention = next(n for n in graph.graph.node if n.op_type == "Attention")
    assert {a.name: a.i for a in attention.attribute} == {"q_num_heads": 4, "kv_num_heads": 4}

    expected, batch = logits(fused)
    got, _ = logits(rewritten, batch)
    real = batch["attention_mask"].astype(bool)
    # same arithmetic in fp32 on every real position; padded keys must not leak into them
    np.testing.assert_allclose(got[real], expected[real], atol=1e-4)
    assert not np.isnan(got).any()


@pytest.mark.parametrize("rows", [
    pytest.param([[1] * 11, [1] * 4 + [0] * 7, [1] * 7 + [0] * 4], id="right-padded"),
    pytest.param([[0] * 3 + [1] * 8, [1] * 11, [1] * 5 + [0] * 2 + [1] * 2 + [0] * 2], id="left-padded-and-holes"),
    pytest.param([[1] * 9], id="one-sentence")])
def test_dropped_padding_gives_every_real_token_its_logits(fused, tmp_path, rows):
    """The packed graph's logits on the positions the mask marks real are the padded graph's, whatever the
    mask's pattern; the projections, GELUs and layer norms run on those rows only."""
    padded, packed = tmp_path / "padded.onnx", tmp_path / "packed.onnx"
    model = onnx.load(str(fused))
    gelu_bias_to_add(model)
    split_attention(model)
    onnx.save(model, str(padded))
    gathers = ops(model)[("ai.onnx", "Gather")]
    assert drop_padding(model) == 2
    onnx.save(model, str(packed))
    counts = ops(model)
    # rows of the embeddings, per layer Q, K and V to positions and the attention back to rows, the logits
    assert counts[("ai.onnx", "NonZero")] == 1 and counts[("ai.onnx", "Gather")] - gathers == 1 + 2 * 4 + 1
    mask = np.array(rows, np.int64)
    rng = np.random.default_rng(1)
    session = ort.InferenceSession(str(packed), providers=["CPUExecutionProvider"])
    batch = {"input_ids": rng.integers(5, 60, mask.shape) * mask, "attention_mask": mask,
             "token_type_ids": np.zeros_like(mask)}
    batch = {i.name: batch[i.name] for i in session.get_inputs()}
    expected, _ = logits(padded, batch)
    got = session.run(None, batch)[0]
    real = mask.astype(bool)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got[real], expected[real], atol=1e-5)


def test_padding_kept_where_a_layer_is_not_token_wise(fused):
    """An op that mixes positions outside the attention (here a softmax over the length axis) stops the
    rewrite: the graph is left as it was."""
    model = onnx.load(str(fused))
    split_attention(model)
    gelu_bias_to_add(model)
    logits_name = model.graph.output[0].name
    model.graph.node.append(onnx.helper.make_node("Softmax", [logits_name], ["over_length"], axis=1))
    model.graph.output.append(onnx.helper.make_tensor_value_info("over_length", onnx.TensorProto.FLOAT, None))
    before = model.SerializeToString()
    assert drop_padding(model) == 0
    assert model.SerializeToString() == before
    without_split = onnx.load(str(fused))
    assert drop_padding(without_split) == 0  # the contrib Attention is not the ONNX op


def test_a_padded_key_changes_nothing_when_masked(fused, tmp_path):
    """Changing the ids under padding leaves the real positions' logits unchanged: the mask is applied."""
    rewritten = tmp_path / "rewritten.onnx"
    rewrite_for_cpu(fused, rewritten)
    first, batch = logits(rewritten)
    changed = {k: v.copy() for k, v in batch.items()}
    changed["input_ids"][changed["attention_mask"] == 0] = 7
    second, _ = logits(rewritten, changed)
    real = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(second[real], first[real], atol=1e-5)
    unmasked = {**changed, "attention_mask": np.ones_like(changed["attention_mask"])}
    third, _ = logits(rewritten, unmasked)
    assert np.abs(third[real] - first[real]).max() > 1e-3  # the check above could fail


@pytest.mark.parametrize("approximation", [False, True])
def test_gelu_bias_moves_to_an_add(fused, tmp_path, approximation):
    """The erf GELU (BiasGelu, the default) becomes Add + Gelu, the tanh one (FastGelu) Add + FastGelu."""
    source = fused if not approximation else optimize_onnx(ORTModelForTokenClassification.from_pretrained(
        fused.parent.parent / "onnx"), 1, tmp_path / "tanh", gelu_approximation=True)
    biased, plain = ("FastGelu", "FastGelu") if approximation else ("BiasGelu", "Gelu")
    model = onnx.load(str(source))
    gelus = [n for n in model.graph.node if n.op_type == biased]
    assert gelus and all(len(n.input) == 2 for n in gelus)
    assert gelu_bias_to_add(model) == len(gelus)
    after = [n for n in model.graph.node if n.op_type == plain]
    assert len(after) == len(gelus) and all(len(n.input) == 1 for n in after)
    assert not any(n.op_type == "BiasGelu" for n in model.graph.node)
    path = tmp_path / "gelu.onnx"
    onnx.save(model, str(path))
    expected, batch = logits(source)
    np.testing.assert_allclose(logits(path, batch)[0], expected, atol=1e-5)


def test_rewritten_graph_computes_the_models_gelu(fused, tmp_path):
    """With the default erf GELU the rewritten fp32 graph gives PyTorch's logits; the tanh form does not (its
    FFN inputs scaled up so that the two GELUs differ: at random init they are too small to tell)."""
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(fused.parent.parent / "model").eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("intermediate.dense.weight", "ffn.lin1.weight")):
                parameter.mul_(100)
    model.save_pretrained(tmp_path / "model")
    AutoTokenizer.from_pretrained(fused.parent.parent / "model").save_pretrained(tmp_path / "model")
    exported = export_onnx(tmp_path / "model", tmp_path / "onnx")
    gaps = {}
    for name, approximation in (("erf", False), ("tanh", True)):
        source = optimize_onnx(exported, 1, tmp_path / name, gelu_approximation=approximation)
        rewrite_for_cpu(source, tmp_path / f"{name}.onnx")
        got, batch = logits(tmp_path / f"{name}.onnx")
        with torch.inference_mode():
            expected = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.numpy()
        real = batch["attention_mask"].astype(bool)
        gaps[name] = np.abs(got[real] - expected[real]).max()
    assert gaps["erf"] < 1e-6 and gaps["tanh"] > 10 * gaps["erf"], gaps


def test_attention_left_fused_where_the_rewrite_does_not_apply(fused):
    model = onnx.load(str(fused))
    without_mask = onnx.ModelProto()
    without_mask.CopyFrom(model)
    for graph_input in without_mask.graph.input:
        if graph_input.name == "attention_mask":
            graph_input.name = "mask"
    assert split_attention(without_mask) == 0
    unidirectional = onnx.ModelProto()
    unidirectional.CopyFrom(model)
    for node in unidirectional.graph.node:
        if node.op_type == "Attention":
            node.attribute.append(onnx.helper.make_attribute("unidirectional", 1))
    assert split_attention(unidirectional) == 0
    assert ops(unidirectional)[("com.microsoft", "Attention")] == 2
    assert {o.version for o in unidirectional.opset_import if o.domain in ("", "ai.onnx")} != {23}
    old_opset = onnx.ModelProto()
    old_opset.CopyFrom(model)
    for opset in old_opset.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = 17
    assert split_attention(old_opset) == 0 and ops(old_opset)[("com.microsoft", "Attention")] == 2
    assert split_attention(model) == 2  # the unchanged graph is split


def test_split_attention_never_lowers_the_opset(fused):
    model = onnx.load(str(fused))
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = 24
    assert split_attention(model) == 2
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {24}
