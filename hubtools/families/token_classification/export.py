"""The exporter of transformers token classifiers: Optimum ONNX export, graph fusion, CPU rewrites, int8.

:class:`OptimumExporter` turns ``RUN/model/`` into ``RUN/onnx/``::

    model.onnx                        fp32, as exported by optimum (portable graph)          variant onnx
    model_quantized.onnx              fused graph (ORTOptimizer), split attention + int8       variant onnx_int8
    model_quantized_embeddings.onnx   the same + int8 word embeddings (Gather)                 onnx_int8_embeddings
    config.json, tokenizer files      so that ORTModelForTokenClassification and pipeline() load the folder

Every variant is run over all words of ``RUN/dataset/test.parquet`` through the training path (windows
merged to words, :mod:`hubtools.families.token_classification.verify`) and judged by the one acceptance policy
(:mod:`hubtools.export.base`). Before quantization the fused graph is rewritten
for CPUs (:mod:`hubtools.families.token_classification.onnx_graph`: one int8 QKV GEMM + the ONNX ``Attention`` op
instead of ``QAttention``'s
per-head GEMMs, the FFN bias folded into its GEMM), then quantized with onnxruntime's ``quantize_dynamic``
(``DefaultTensorType`` set): optimum's ORTQuantizer cannot type the fused ops.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from hubtools.config import ExportConfig
from hubtools.errors import ExportError
from hubtools.export.base import Exporter, VariantScores
from hubtools.export.benchmark import benchmark_run
from hubtools.export.inference import ort_forward, ort_session, torch_forward
from hubtools.families.token_classification.decode import FP32_FILE, INT8_EMBEDDINGS_FILE, INT8_FILE
from hubtools.families.token_classification.onnx_graph import MS_DOMAIN, rewrite_for_cpu
from hubtools.families.token_classification.verify import WordReference
from hubtools.results import Benchmark, ExportSettings, ReferenceModel

logger = logging.getLogger("hubtools")

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "vocab.json")


def detect_instruction_set(cpuinfo: str | None = None) -> str:
    """The quantization target for this CPU from ``/proc/cpuinfo`` flags: avx512_vnni, avx512, avx2 or arm64."""
    import platform

    if cpuinfo is None:
        if platform.machine().lower() in ("arm64", "aarch64"):
            return "arm64"
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "avx2"
    flags = set(cpuinfo.split())
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if "asimd" in flags:
        return "arm64"
    return "avx2"


def quantization_config(cfg: ExportConfig, instruction_set: str):
    """optimum's dynamic-quantization settings for ``instruction_set`` with ``cfg.per_channel``."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    return getattr(AutoQuantizationConfig, instruction_set)(is_static=False, per_channel=cfg.per_channel)


def check_model_dir(model_dir: Path) -> None:
    """ExportError naming what is missing before anything is exported: weights, id2label, tokenizer."""
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ExportError(f"{model_dir}: no config.json; the run has no saved model to export")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    if not id2label or all(name == f"LABEL_{i}" for i, name in id2label.items()):
        raise ExportError(f"{config_path}: no id2label (label names); the exported model could not name its tags")
    if not any((model_dir / name).is_file() for name in TOKENIZER_FILES):
        raise ExportError(f"{model_dir}: no tokenizer (none of {', '.join(TOKENIZER_FILES)}); "
                          "save the tokenizer with the model (tokenizer.save_pretrained)")
    check_exportable(model_dir, config.get("model_type"))


def check_exportable(model_dir: Path, model_type: str | None) -> None:
    """ExportError when optimum has no ONNX token-classification export for ``model_type``."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configurations)
    from optimum.exporters.tasks import TasksManager

    try:
        TasksManager.get_exporter_config_constructor(exporter="onnx", model_type=model_type,
                                                     task="token-classification", library_name="transformers")
    except (KeyError, ValueError):
        raise ExportError(f"{model_dir}: optimum cannot export model type {model_type!r} for token classification "
                          "to ONNX; the PyTorch model is unchanged and can still be published") from None


def export_onnx(model_dir: Path, out_dir: Path):
    """Export with optimum (task token-classification) into ``out_dir/model.onnx`` with the tokenizer beside it;
    returns the ORTModel. An architecture optimum cannot export raises ExportError."""
    from optimum.onnxruntime import ORTModelForTokenClassification
    from transformers import AutoTokenizer

    try:
        model = ORTModelForTokenClassification.from_pretrained(model_dir, export=True)
    except (ValueError, KeyError, NotImplementedError) as err:
        model_type = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("model_type")
        raise ExportError(f"{model_dir}: optimum cannot export model type {model_type!r} to ONNX "
                          f"({type(err).__name__}: {err}); the PyTorch model is unchanged") from err
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out_dir)
    return model


def optimize_onnx(model, level: int, work_dir: Path, gelu_approximation: bool = False) -> Path:
    """The fused graph of an exported ORTModel (``ORTOptimizer``, ``optimization_level=level``): attention,
    embeddings + LayerNormalization and bias + GELU fused (BiasGelu; FastGelu, the tanh form, with
    ``gelu_approximation``), the residual Add + LayerNormalization left apart (see
    :data:`hubtools.export.inference.CPU_DISABLED_OPTIMIZERS`)."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    config = OptimizationConfig(optimization_level=level, enable_gelu_approximation=gelu_approximation,
                                disable_embed_layer_norm_fusion=False, disable_skip_layer_norm_fusion=True)
    ORTOptimizer.from_pretrained(model).optimize(config, save_dir=work_dir)
    return work_dir / "model_optimized.onnx"


def quantize_onnx(source: Path, target: Path, qconfig, embeddings: bool) -> Path:
    """Dynamic int8 quantization of MatMul weights (and of the Gather tables with ``embeddings``), with the
    weight type, symmetry, range and per-channel option of ``qconfig``, then of the packed QKV weights of any
    fused attention left (:func:`hubtools.families.token_classification.onnx_graph.split_attention` off or not
    applicable) per tensor
    (QAttention with per-column scales was slower; docs/decisions.md)."""
    import onnx
    from onnxruntime.quantization import quantize_dynamic

    def quantize(src: Path, dst: Path, **kwargs) -> None:
        quantize_dynamic(str(src), str(dst), reduce_range=qconfig.reduce_range, weight_type=qconfig.weights_dtype,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT,
                                        "WeightSymmetric": qconfig.weights_symmetric,
                                        "ActivationSymmetric": qconfig.activations_symmetric}, **kwargs)

    ops = ["MatMul"] + (["Gather", "EmbedLayerNormalization"] if embeddings else [])
    fused_attention = [node.name for node in onnx.load(str(source), load_external_data=False).graph.node
                       if node.op_type == "Attention" and node.domain == MS_DOMAIN]
    if not fused_attention:
        quantize(source, target, op_types_to_quantize=ops, per_channel=qconfig.per_channel)
        return target
    staging = target.with_name(f".{target.name}.matmul.onnx")
    try:
        quantize(source, staging, op_types_to_quantize=ops, per_channel=qconfig.per_channel)
        # only the contrib Attention nodes: the quantizer would also take the ONNX Attention op for one
        quantize(staging, target, op_types_to_quantize=["Attention"], nodes_to_quantize=fused_attention,
                 per_channel=False)
    finally:
        staging.unlink(missing_ok=True)
    return target


def build_variants(model_dir: Path, out_dir: Path, cfg: ExportConfig, instruction_set: str) -> dict[str, Path]:
    """Write the ONNX files of every variant into ``out_dir`` (intermediate files in a subfolder that is
    removed); returns ``{variant: path}``."""
    model = export_onnx(model_dir, out_dir)
    variants = {"onnx": out_dir / FP32_FILE}
    if not cfg.quantize:
        return variants
    work = out_dir / "optimized"
    source = variants["onnx"]
    if cfg.optimize_level:
        fused = optimize_onnx(model, cfg.optimize_level, work, cfg.gelu_approximation)
        source = work / "model_rewritten.onnx"
        counts = rewrite_for_cpu(fused, source, attention=cfg.split_attention, padding=cfg.drop_padding)
        logger.info("export: CPU rewrites of the fused graph: %s", counts)
    qconfig = quantization_config(cfg, instruction_set)
    variants["onnx_int8"] = quantize_onnx(source, out_dir / INT8_FILE, qconfig, embeddings=False)
    if cfg.quantize_embeddings:
        variants["onnx_int8_embeddings"] = quantize_onnx(source, out_dir / INT8_EMBEDDINGS_FILE, qconfig,
                                                         embeddings=True)
    shutil.rmtree(work, ignore_errors=True)
    (out_dir / "ort_config.json").unlink(missing_ok=True)
    return variants


class OptimumExporter(Exporter):
    """transformers token classifiers: fp32, fused int8 and int8-embeddings variants (module docstring)."""

    name = "optimum-onnx"
    agreement_unit = "word"
    reads = ("optimize_level", "gelu_approximation", "split_attention", "drop_padding", "quantize", "per_channel",
             "quantize_embeddings", "instruction_set", "device")

    def check(self) -> None:
        check_model_dir(self.model_dir)
        self.instruction_set = (detect_instruction_set() if self.cfg.instruction_set == "auto"
                                else self.cfg.instruction_set)

    def reference(self) -> ReferenceModel:
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        model = AutoModelForTokenClassification.from_pretrained(self.model_dir)
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        forward, inputs = torch_forward(model)
        self.words = WordReference.build(self.run_dir, self.scored, names,
                                         AutoTokenizer.from_pretrained(self.model_dir), forward, inputs)
        return self.words.model

    def build_variants(self, out_dir: Path) -> dict[str, Path]:
        return build_variants(self.model_dir, out_dir, self.cfg, self.instruction_set)

    def verify(self, name: str, path: Path) -> VariantScores:
        return self.words.verify(*ort_forward(ort_session(path, device=self.cfg.device)))

    def benchmark(self, variants: dict[str, Path]) -> Benchmark:
        return benchmark_run(self.run_dir, self.scored, variants, self.cfg)

    def settings(self) -> ExportSettings:
        return ExportSettings(instruction_set=self.instruction_set, optimize_level=self.cfg.optimize_level,
                              gelu_approximation=self.cfg.gelu_approximation,
                              split_attention=self.cfg.split_attention, drop_padding=self.cfg.drop_padding,
                              per_channel=self.cfg.per_channel)

EXPORTER = OptimumExporter
