"""Rewrites of the fused ONNX graph (``ORTOptimizer`` output) that make its dynamic int8 form faster on CPUs.

``ORTOptimizer`` fuses each self-attention block into one ``com.microsoft`` ``Attention`` node with packed QKV
weights. Quantized, it becomes ``QAttention``, which projects Q, K and V with one small int8 GEMM per head and
per matrix (36 GEMMs of 32 columns for a 12-head layer, the input re-packed for each). :func:`split_attention`
replaces the node with one ``MatMul`` + bias ``Add`` per projection (quantized, the three share one
``DynamicQuantizeLinear`` of their input; a packed QKV product would need a ``Split`` that copies its output)
and the standard ONNX ``Attention`` op (opset 23, ONNX Runtime >= 1.23), which computes scaled dot-product
attention for all heads in one kernel. :func:`gelu_bias_to_add` gives the FFN bias of ``FastGelu`` or
``BiasGelu`` to an ``Add`` in front of the GELU, which ONNX Runtime folds into the preceding
``DynamicQuantizeMatMul``. Both are exact rewrites (same arithmetic in fp32, up to the masked keys' weight,
see :data:`MASK_VALUE`); every exported variant is still verified against PyTorch. :func:`drop_padding` then
runs everything but the attention itself on the real tokens of a padded batch only.
An attention with past state, extra bias inputs or other attributes, or a graph without ``attention_mask`` or
below opset 18, is left fused (and becomes ``QAttention``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS_DOMAIN = "com.microsoft"
ATTENTION_OPSET = 23
# The graph's default-domain opset is raised to ATTENTION_OPSET; from opset 18 on, the ops of these encoder
# graphs only gained types up to 23. Older graphs (Unsqueeze axes as an attribute, ...) are left fused.
MIN_SOURCE_OPSET = 18
# Additive mask on padded keys. A masked key's softmax weight is exp(MASK_VALUE + s) against 1 for the row's
# largest score, s being its own score minus that maximum: below fp32 resolution unless s > 34 (on a MiniLM
# CoNLL model the fp32 logits at -50 and at -10000 were bit-identical, docs/decisions.md; after
# :func:`drop_padding` a right-padded key copies its own sequence's last real key, so s <= 0). A larger magnitude
# changes no result but costs time: ONNX Runtime's softmax clamps its exponent near -104, so a masked weight
# becomes a subnormal float, and on Intel Xeons the softmax and the probabilities x V product run about twice
# as slow on subnormals. exp(-50 + s) stays a normal float for s > -37. A finite value also keeps rows of
# padding queries free of NaN (they are discarded, but feed the next layer's keys and values).
MASK_VALUE = -50.0
# Attributes of the contrib Attention that the rewrite reproduces; a node with any other is left fused.
SUPPORTED_ATTRIBUTES = {"num_heads", "mask_filter_value", "scale"}
MASK_INPUT = "attention_mask"


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _splittable(node: onnx.NodeProto, initializers: dict) -> bool:
    """A plain encoder self-attention: packed QKV weight and bias initializers, no past state, no extra bias."""
    inputs = list(node.input)
    return (node.op_type == "Attention" and node.domain == MS_DOMAIN
            and set(_attributes(node)) <= SUPPORTED_ATTRIBUTES
            and len(inputs) >= 3 and inputs[1] in initializers and inputs[2] in initializers
            and not any(inputs[4:]))


def _key_mask_nodes(mask_input: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes computing the additive (batch, 1, query, key) mask from the 0/1 ``attention_mask`` once per run."""
    def name(key: str) -> str:
        return f"split_attention/{key}"

    constants = [numpy_helper.from_array(np.asarray(value), name(key)) for key, value in (
        ("one", np.float32(1.0)), ("value", np.float32(MASK_VALUE)), ("axes", np.array([1, 2], np.int64)),
        ("one_1d", np.array([1], np.int64)), ("two_1d", np.array([2], np.int64)))]
    steps = [("Cast", [mask_input], "float", {"to": TensorProto.FLOAT}),
             ("Sub", [name("one"), name("float")], "inverse", {}),
             ("Mul", [name("inverse"), name("value")], "additive", {}),
             ("Unsqueeze", [name("additive"), name("axes")], "keys", {}),  # (batch, 1, 1, key)
             ("Shape", [mask_input], "shape", {}),
             ("Slice", [name("shape"), name("one_1d"), name("two_1d")], "length", {}),
             ("Concat", [name("one_1d"), name("one_1d"), name("length"), name("one_1d")], "target", {"axis": 0}),
             ("Expand", [name("keys"), name("target")], "bias", {})]  # (batch, 1, query, key)
    nodes = [helper.make_node(op, inputs, [name(output)], name=name(output), **attributes)
             for op, inputs, output, attributes in steps]
    return nodes, constants, name("bias")


def _default_opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def split_attention(model: onnx.ModelProto) -> int:
    """Replace each fused encoder ``Attention`` node of ``model`` (in place) by Q, K and V ``MatMul`` + ``Add``
    and ONNX ``Attention``; returns how many were replaced (0 leaves the model untouched). The key
    mask is built from the graph input ``attention_mask``, so a graph without it, or of an opset below
    :data:`MIN_SOURCE_OPSET`, is left as is."""
    graph = model.graph
    if MASK_INPUT not in {i.name for i in graph.input} or _default_opset(model) < MIN_SOURCE_OPSET:
        return 0
    initializers = {t.name: t for t in graph.initializer}
    mask_nodes, constants, mask = _key_mask_nodes(MASK_INPUT)
    nodes: list[onnx.NodeProto] = []
    unused: set[str] = set()  # packed QKV initializers
    replaced = 0
    for node in graph.node:
        if not _splittable(node, initializers):
            nodes.append(node)
            continue
        if not replaced:
            nodes += mask_nodes
        prefix = f"split_attention/{replaced}_{node.name}"
        replaced += 1
        attributes = _attributes(node)
        x, weight, bias = node.input[:3]
        packed = {"weight": numpy_helper.to_array(initializers[weight]),
                  "bias": numpy_helper.to_array(initializers[bias])}
        hidden = packed["weight"].shape[1] // 3
        unused |= {weight, bias}
        qkv = []
        for i, part in enumerate(("q", "k", "v")):
            name = f"{prefix}/{part}"
            columns = slice(i * hidden, (i + 1) * hidden)
            constants += [numpy_helper.from_array(packed["weight"][:, columns].copy(), f"{name}/weight"),
                          numpy_helper.from_array(packed["bias"][columns].copy(), f"{name}/bias")]
            nodes += [helper.make_node("MatMul", [x, f"{name}/weight"], [f"{name}/matmul"], name=f"{name}/MatMul"),
                      helper.make_node("Add", [f"{name}/matmul", f"{name}/bias"], [name], name=f"{name}/Add")]
            qkv.append(name)
        sdpa = {"q_num_heads": attributes["num_heads"], "kv_num_heads": attributes["num_heads"]}
        if attributes.get("scale"):
            sdpa["scale"] = attributes["scale"]
        nodes.append(helper.make_node("Attention", [*qkv, mask], list(node.output[:1]), name=f"{prefix}/sdpa",
                                      **sdpa))
    if not replaced:
        return 0
    del graph.node[:]
    graph.node.extend(nodes)
    unused -= {name for n in nodes for name in n.input}
    kept = [t for t in graph.initializer if t.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept + constants)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, ATTENTION_OPSET)
    return replaced


# GELU nodes with a bias input, and the op that computes the same GELU without it
BIASED_GELUS = {"FastGelu": "FastGelu", "BiasGelu": "Gelu"}


def gelu_bias_to_add(model: onnx.ModelProto) -> int:
    """Give the bias of each ``FastGelu`` (tanh GELU) or ``BiasGelu`` (erf GELU) to an ``Add`` in front of it
    (in place); returns how many were moved."""
    nodes, moved = [], 0
    for node in model.graph.node:
        if node.op_type in BIASED_GELUS and node.domain == MS_DOMAIN and len(node.input) > 1 and node.input[1]:
            biased = f"{node.name}/biased"
            nodes += [helper.make_node("Add", [node.input[0], node.input[1]], [biased], name=f"{node.name}/bias"),
                      helper.make_node(BIASED_GELUS[node.op_type], [biased], list(node.output), name=node.name,
                                       domain=MS_DOMAIN)]
            moved += 1
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return moved


# Ops that compute each token's vector from that vector alone (their other inputs constant): run on the packed
# (tokens, hidden) rows of the real tokens they give those tokens' results of the padded (batch, length, hidden)
# tensor. ``MatMul`` qualifies with a 2-D constant weight, ``LayerNormalization`` over the last axis.
TOKEN_WISE = {("", "MatMul"), ("", "Add"), ("", "Mul"), ("", "LayerNormalization"),
              *((MS_DOMAIN, gelu) for gelu in BIASED_GELUS.values())}
EMBEDDINGS = (MS_DOMAIN, "EmbedLayerNormalization")


def _token_wise(node: onnx.NodeProto, packed: set[str], constants: dict[str, onnx.TensorProto]) -> bool:
    """``node`` computes each packed row alone: its other inputs are constants of at most one dimension
    (bias, scale), a MatMul's weight a 2-D constant, a LayerNormalization over the last axis."""
    if (node.domain, node.op_type) not in TOKEN_WISE:
        return False
    if node.op_type == "LayerNormalization" and _attributes(node).get("axis", -1) != -1:
        return False
    if node.op_type == "MatMul":
        return node.input[0] in packed and node.input[1] in constants and len(constants[node.input[1]].dims) == 2
    return all(name in packed or (name in constants and len(constants[name].dims) <= 1)
               for name in node.input if name)


def drop_padding(model: onnx.ModelProto) -> int:
    """Run the token-wise part of each layer on the real tokens only (in place); returns how many attention
    nodes now read packed inputs (0 leaves the model untouched).

    The embeddings' output is gathered into (tokens, hidden) rows of the positions ``attention_mask`` marks
    real; every projection, GELU and layer norm runs on those rows; only the ONNX ``Attention`` op reads the
    padded (batch, length, hidden) layout, its Q, K and V gathered back (a padded position takes a real row's
    values: as a key it is masked, as a query it is discarded) and its output gathered to rows again; the
    logits are gathered back to (batch, length, labels), padded positions holding copies of real ones. The
    real tokens' results are those of the padded graph, which spends the same work on every padded position.
    The rewrite applies to a graph that :func:`split_attention` has rewritten, with one embeddings node whose
    output reaches the logits through token-wise ops (:data:`TOKEN_WISE`) and ONNX ``Attention`` nodes only.
    """
    graph = model.graph
    embeddings = [n for n in graph.node if (n.domain, n.op_type) == EMBEDDINGS]
    if MASK_INPUT not in {i.name for i in graph.input} or len(embeddings) != 1:
        return 0
    constants = {t.name: t for t in graph.initializer}
    packed = {embeddings[0].output[0]}
    attentions = []  # their positions in graph.node
    for position, node in enumerate(graph.node):
        if (node.domain, node.op_type) == EMBEDDINGS or not any(name in packed for name in node.input):
            continue
        if node.op_type == "Attention" and node.domain == "":
            if not all(name in packed for name in node.input[:3]) or any(name in packed for name in node.input[3:]):
                return 0
            attentions.append(position)
        elif not _token_wise(node, packed, constants):
            return 0
        packed.update(node.output)
    outputs = [o.name for o in graph.output if o.name in packed]
    if not attentions or not outputs:
        return 0

    def name(key: str) -> str:
        return f"drop_padding/{key}"

    graph.initializer.extend([numpy_helper.from_array(np.array([-1], np.int64), name("flat")),
                              numpy_helper.from_array(np.array(0, np.int64), name("axis")),
                              numpy_helper.from_array(np.array(1, np.int64), name("one"))])
    # real_rows: the flat positions of the real tokens; row_of: (batch, length), each position's row (the count
    # of real tokens runs on over the flattened batch: a padded position copies the real row before it, leading
    # padding the last row, index -1)
    steps = [("Reshape", [MASK_INPUT, name("flat")], "mask"), ("NonZero", [name("mask")], "nonzero"),
             ("Reshape", [name("nonzero"), name("flat")], "real_rows"),
             ("CumSum", [name("mask"), name("axis")], "count"), ("Sub", [name("count"), name("one")], "row"),
             ("Shape", [MASK_INPUT], "batch_length"), ("Reshape", [name("row"), name("batch_length")], "row_of")]
    nodes = [helper.make_node(op, inputs, [name(output)], name=name(output)) for op, inputs, output in steps]

    def pack(padded: str, rows: str) -> list[onnx.NodeProto]:
        return [helper.make_node("Flatten", [padded], [f"{padded}/flat"], axis=2, name=f"{padded}/flatten"),
                helper.make_node("Gather", [f"{padded}/flat", name("real_rows")], [rows], axis=0,
                                 name=f"{rows}/pack")]

    def unpack(rows: str, padded: str) -> onnx.NodeProto:
        """(tokens, width) rows to (batch, length, width) positions."""
        return helper.make_node("Gather", [rows, name("row_of")], [padded], axis=0, name=f"{padded}/unpack")

    for position, node in enumerate(graph.node):
        if (node.domain, node.op_type) == EMBEDDINGS or position in attentions:
            padded, rows = f"{node.output[0]}/padded", node.output[0]
            node.output[0] = padded
            if position in attentions:
                for i in range(3):
                    nodes.append(unpack(node.input[i], f"{node.input[i]}/padded"))
                    node.input[i] = f"{node.input[i]}/padded"
            nodes += [node, *pack(padded, rows)]
        else:
            nodes.append(node)
    for output in outputs:
        rows = f"{output}/rows"
        for node in nodes:
            node.output[:] = [rows if o == output else o for o in node.output]
            node.input[:] = [rows if i == output else i for i in node.input]
        nodes.append(unpack(rows, output))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]  # the shapes recorded for renamed tensors are wrong now; ONNX Runtime infers them
    return len(attentions)


def rewrite_for_cpu(source: Path, target: Path, attention: bool = True, padding: bool = True) -> dict[str, int]:
    """Write ``source`` to ``target`` with :func:`gelu_bias_to_add`, with ``attention`` :func:`split_attention`
    and with both :func:`drop_padding` applied; returns how many nodes each rewrote."""
    model = onnx.load(str(source))
    counts = {"gelu_bias": gelu_bias_to_add(model), "attention": split_attention(model) if attention else 0}
    counts["padding"] = drop_padding(model) if counts["attention"] and padding else 0
    onnx.save(model, str(target))
    return counts
