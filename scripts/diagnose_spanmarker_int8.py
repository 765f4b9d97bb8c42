"""Where a SpanMarker model's int8 error comes from: each group of nodes quantized alone, then whole policies.

    python scripts/diagnose_spanmarker_int8.py RUN_DIR [--sentences N] [--timed N]

RUN_DIR is a finished SpanMarker run folder (``model/``, ``dataset/``, ``results.json``). The fp32 graph is
exported to a temporary folder; every row quantizes some of its nodes with ``quantize_dynamic`` (int8 weights,
activations quantized per call) and predicts the scored split end to end, compared with
``SpanMarkerModel.predict`` on the same sentences:

- one group alone (per-channel weights): the embedding tables (Gather), the attention's activation x activation
  MatMuls (scores and context), the linear layers of each encoder layer, the span classifier;
- the policies of ``hubtools.families.span_marker.onnx_export.quantize_spanmarker_onnx``: ``all`` (every node
  ``quantize_dynamic`` takes, per tensor and per channel) and ``encoder_linear`` (the default), unfused and
  after the BERT optimizer's fusions, with the end-to-end ``predict`` latency at batch 1 of the fp32 graph and
  of each policy (``--timed`` sentences, fastest of ``--rounds``), all in 1-thread sessions.

Columns: sentence agreement (share of sentences with exactly PyTorch's entities), entities found, F1 change in
points against PyTorch, and the largest absolute span-logit difference.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import onnx
import torch

from hubtools.export.base import ScoredModel
from hubtools.export.timing import fastest_ms
from hubtools.export.words import load_test_split
from hubtools.families.span_marker.decode import gold_tags, tags_to_spans
from hubtools.families.span_marker.model import load_saved_spanmarker
from hubtools.families.span_marker.onnx_export import (
    encoder_linear_nodes,
    export_spanmarker_onnx,
    quantize_spanmarker_onnx,
)
from hubtools.families.span_marker.onnx_runtime import SpanMarkerOnnxRunner
from hubtools.families.span_marker.onnx_verify import entity_f1, verify_spanmarker_onnx
from hubtools.run import machine_description, read_results
from hubtools.units import file_bytes, megabytes

LAYER = re.compile(r"/layer\.(\d+)/")


def node_groups(model: onnx.ModelProto) -> dict[str, list[str]]:
    """The quantizable nodes of an exported SpanMarker graph by group (module docstring)."""
    weights = {init.name for init in model.graph.initializer}
    linear = set(encoder_linear_nodes(model))
    groups: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.name in linear:
            layer = LAYER.search(node.name)
            group = f"encoder layer {layer.group(1)} linear" if layer else "encoder other linear"
        elif node.op_type == "Gather" and node.input[0] in weights:
            group = "embedding tables"
        elif node.op_type != "MatMul":
            continue
        elif node.input[1] not in weights:
            group = "attention activation x activation"
        else:
            group = "span classifier"
        groups.setdefault(group, []).append(node.name)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sentences", type=int, default=None, help="scored sentences (default: all)")
    parser.add_argument("--timed", type=int, default=200, help="sentences timed at batch 1 (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (fastest kept, default 3)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_saved_spanmarker(args.run_dir / "model").eval()
    results = read_results(args.run_dir)
    test = load_test_split(args.run_dir, ScoredModel(results.model, results.test))
    if args.sentences:
        test = test.select(range(min(args.sentences, len(test))))
    sentences = list(test["tokens"])
    gold = [tags_to_spans(tags) for tags in gold_tags(test)]
    reference = model.predict(sentences, batch_size=32)
    f1_torch = entity_f1(reference, gold)
    print(f"# {machine_description()}, 1 thread; {len(sentences)} sentences, PyTorch F1 {f1_torch * 100:.2f}, "
          f"{sum(map(len, reference))} entities")

    with tempfile.TemporaryDirectory() as tmp:
        folder = export_spanmarker_onnx(model, Path(tmp) / "onnx")
        fp32 = folder / "model.onnx"
        groups = node_groups(onnx.load(str(fp32)))

        def row(label: str, file: str, **quantize) -> SpanMarkerOnnxRunner:
            if file != fp32.name:
                quantize_spanmarker_onnx(fp32, folder / file, **quantize)
            runner = SpanMarkerOnnxRunner.from_pretrained(folder, file, threads=1)
            report = verify_spanmarker_onnx(model, runner, sentences, gold, torch_entities=reference)
            print(f"{label:<44} agreement {report['sentence_agreement']:.4f}  entities "
                  f"{report['num_entities_onnx']:5d}  F1 {(report['f1_onnx'] - f1_torch) * 100:+6.2f}  "
                  f"max |logit diff| {report['max_abs_logit_diff']:.3f}")
            return runner

        print("## one group quantized alone (per-channel weights)")
        for name, nodes in groups.items():
            row(f"{name} ({len(nodes)} nodes)", "group.onnx", nodes=nodes, per_channel=True)
        print("## policies")
        runners = {"fp32": row("fp32", fp32.name)}
        for label, scope, per_channel, optimize in [
                ("all, per tensor", "all", False, False), ("all, per channel", "all", True, False),
                ("encoder_linear, per tensor", "encoder_linear", False, False),
                ("encoder_linear, per channel", "encoder_linear", True, False),
                ("fused, encoder_linear, per channel", "encoder_linear", True, True)]:
            file = f"{scope}-{'channel' if per_channel else 'tensor'}{'-fused' if optimize else ''}.onnx"
            runners[label] = row(label, file, scope=scope, per_channel=per_channel, optimize=optimize)
        timed = sentences[: args.timed]
        latency = {label: float(ms.mean()) for label, ms in fastest_ms(
            {label: lambda sentence, runner=runner: runner.predict([sentence], batch_size=1)
             for label, runner in runners.items()}, timed, args.rounds).items()}
        print(f"## end-to-end predict at batch 1: mean over {len(timed)} sentences of the fastest of {args.rounds} "
              "rounds (the variants taking turns)")
        for label, ms in latency.items():
            size = megabytes(file_bytes(runners[label].path))
            print(f"{label:<44} {ms:7.2f} ms  x{latency['fp32'] / ms:.2f} vs fp32 ONNX  {size:>6} MB")


if __name__ == "__main__":
    main()
