"""Export a SpanMarker model (encoder + span classifier) to ONNX, and int8-quantize the result.

The exported graph takes exactly what ``SpanMarkerDataCollator`` produces and returns the span logits
``SpanMarkerModel.forward`` computes, so inference only swaps the PyTorch forward for onnxruntime.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from span_marker import SpanMarkerModel
from torch import nn

from hubtools.errors import ExportError
from hubtools.run import swap_folder
from hubtools.spanmarker.modeling import load_saved_spanmarker

INPUT_NAMES = ["input_ids", "attention_mask", "position_ids", "start_marker_indices", "num_marker_pairs"]
OUTPUT_NAMES = ["logits"]
DYNAMIC_AXES = {
    "input_ids": {0: "batch", 1: "sequence"},
    "attention_mask": {0: "batch", 1: "sequence", 2: "sequence"},
    "position_ids": {0: "batch", 1: "sequence"},
    "start_marker_indices": {0: "batch"},
    "num_marker_pairs": {0: "batch"},
    "logits": {0: "batch", 1: "marker_pairs"},
}
EXAMPLE_SENTENCES = [["Export", "example", "sentence", "one"], ["Second", "one"]]
MAX_EXPORT_LOGIT_DIFF = 1e-3


class SpanMarkerOnnxGraph(nn.Module):
    """SpanMarkerModel.forward without its per-sample Python loop, so it traces into one graph.

    Marker states are gathered with index tensors instead of slicing; slots past ``num_marker_pairs``
    get zero features, as ``F.pad`` gives them in the library, so all logits match it.
    """

    def __init__(self, model: SpanMarkerModel) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.classifier = model.classifier

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        start_marker_indices: torch.Tensor,
        num_marker_pairs: torch.Tensor,
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
            position_ids=position_ids,
        )[0]
        slots = torch.arange(hidden.shape[1] // 2, device=hidden.device).unsqueeze(0)
        valid = slots < num_marker_pairs.unsqueeze(1)
        start_index = torch.where(valid, start_marker_indices.unsqueeze(1) + slots, 0)
        end_index = torch.where(valid, start_index + num_marker_pairs.unsqueeze(1), 0)
        size = (-1, -1, hidden.shape[2])
        start_states = hidden.gather(1, start_index.unsqueeze(-1).expand(size))
        end_states = hidden.gather(1, end_index.unsqueeze(-1).expand(size))
        features = torch.cat((start_states, end_states), dim=-1) * valid.unsqueeze(-1).to(hidden.dtype)
        return self.classifier(features)


def _load_model(model_dir_or_model: SpanMarkerModel | str | os.PathLike) -> SpanMarkerModel:
    if isinstance(model_dir_or_model, SpanMarkerModel):
        return model_dir_or_model
    try:
        return load_saved_spanmarker(model_dir_or_model)
    except (OSError, ValueError) as exc:
        raise ExportError(f"{model_dir_or_model}: loading the SpanMarker model failed: {exc}") from exc


def example_batch(model: SpanMarkerModel) -> dict[str, torch.Tensor]:
    """A collated two-sentence batch in the model's input format (used to trace and check the export)."""
    features = model.tokenizer({"tokens": EXAMPLE_SENTENCES})
    rows = [dict(zip(features, values, strict=True)) for values in zip(*features.values(), strict=True)]
    batch = model.data_collator(rows)
    return {name: batch[name] for name in INPUT_NAMES}


def _check_export(model: SpanMarkerModel, onnx_path: Path, batch: dict[str, torch.Tensor]) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {name: value.numpy() for name, value in batch.items()})
    with torch.no_grad():
        torch_logits = model(**batch).logits.numpy()
    if onnx_logits.shape != torch_logits.shape:
        raise ExportError(f"{onnx_path}: check: logits shape {onnx_logits.shape} != {torch_logits.shape}")
    diff = float(np.abs(onnx_logits - torch_logits).max())
    if diff > MAX_EXPORT_LOGIT_DIFF:
        raise ExportError(
            f"{onnx_path}: check: max abs logit difference {diff:.3g} > {MAX_EXPORT_LOGIT_DIFF}"
        )


def _write_export(model: SpanMarkerModel, folder: Path, opset: int) -> None:
    """Trace the model into ``folder/model.onnx``, check it, and save config and tokenizer files."""
    batch = example_batch(model)
    onnx_path = folder / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            SpanMarkerOnnxGraph(model).eval(),
            tuple(batch.values()),
            str(onnx_path),
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_axes=DYNAMIC_AXES,
            opset_version=opset,
            dynamo=False,
        )
    _check_export(model, onnx_path, batch)
    model.config.save_pretrained(folder)
    model.tokenizer.tokenizer.save_pretrained(folder)


def export_spanmarker_onnx(
    model_dir_or_model: SpanMarkerModel | str | os.PathLike, out_dir: str | os.PathLike, opset: int = 17
) -> Path:
    """Export a SpanMarker model to ``out_dir/model.onnx`` beside its config and tokenizer files.

    The folder is written under a temporary name and renamed when complete (replacing an existing one),
    after checking onnxruntime's logits against PyTorch's on an example batch. Tracing runs on CPU in
    eval mode; a model passed in gets its device and train/eval mode back. Returns ``out_dir``.
    """
    model = _load_model(model_dir_or_model)
    device, training = model.device, model.training
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _write_export(model.cpu().eval(), staging, opset)
        swap_folder(staging, out_dir)
    except ExportError:
        raise
    except Exception as exc:
        name = model.config.name_or_path or "model"
        raise ExportError(f"{out_dir}: ONNX export of {name} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        model.to(device).train(training)
    return out_dir


def optimize_spanmarker_onnx(onnx_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Fuse the encoder graph with onnxruntime's transformer optimizer (model_type bert)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(onnx_path), model_type="bert", num_heads=0, hidden_size=0)
    optimized.save_model_to_file(str(out_path))
    return Path(out_path)


# Which nodes the int8 variant quantizes (``quantize_spanmarker_onnx``'s ``scope``): every node
# ``quantize_dynamic`` can (``all``: the embedding tables, the attention's activation x activation MatMuls and the
# span classifier too), or only the encoder's linear layers (``encoder_linear``: MatMuls of an activation by a
# weight inside the encoder), the default; ``docs/decisions.md`` has the measurement that picked it.
QUANTIZATION_SCOPES = ("encoder_linear", "all")
ENCODER_PREFIX = "/encoder/"


def encoder_linear_nodes(model) -> list[str]:
    """Names of the encoder's weight MatMuls (input B an initializer, node under ``/encoder/``) in an exported
    SpanMarker graph: the layers whose int8 form keeps the span logits close (the attention's activation x
    activation MatMuls, the embedding Gathers and the span classifier stay fp32)."""
    weights = {init.name for init in model.graph.initializer}
    return [node.name for node in model.graph.node
            if node.op_type == "MatMul" and node.name.startswith(ENCODER_PREFIX) and node.input[1] in weights]


def quantize_spanmarker_onnx(
    onnx_path: str | os.PathLike,
    out_path: str | os.PathLike,
    per_channel: bool = False,
    optimize: bool = False,
    scope: str = "encoder_linear",
    nodes: list[str] | None = None,
) -> Path:
    """Dynamically quantize weights to int8 (``quantize_dynamic``), optionally after graph fusion; ``scope``
    (:data:`QUANTIZATION_SCOPES`) says which nodes, ``nodes`` names them explicitly instead (diagnostics).

    Written to a temporary file and renamed, so ``out_path`` is either complete or untouched.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if scope not in QUANTIZATION_SCOPES:
        raise ExportError(f"int8 scope {scope!r}: expected one of {', '.join(QUANTIZATION_SCOPES)}")
    onnx_path, out_path = Path(onnx_path), Path(out_path)
    staging = out_path.with_name(f".{out_path.name}.partial-{os.getpid()}")
    fused = out_path.with_name(f".{out_path.name}.fused-{os.getpid()}.onnx")
    try:
        source = optimize_spanmarker_onnx(onnx_path, fused) if optimize else onnx_path
        if nodes is None and scope == "encoder_linear":
            nodes = encoder_linear_nodes(onnx.load(str(source), load_external_data=False))
            if not nodes:  # quantize_dynamic reads an empty list as "every node"
                raise ExportError("the graph has no encoder MatMul with a weight to quantize")
        quantize_dynamic(
            source,
            staging,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            nodes_to_quantize=nodes,
            op_types_to_quantize=None if nodes is None else ["MatMul", "Gather", "Attention"],
            # Fused com.microsoft ops have no shape inference: type their outputs as float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        staging.replace(out_path)
    except Exception as exc:
        staging.unlink(missing_ok=True)
        raise ExportError(f"{onnx_path}: int8 quantization failed: {exc}") from exc
    finally:
        fused.unlink(missing_ok=True)
    return out_path
