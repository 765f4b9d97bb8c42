"""ONNX stage on tiny run folders: export, quantize, verify, refuse, load, fail cleanly."""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from pathlib import Path

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from helpers import run_results

from hubtools.config import ExportConfig, model_section
from hubtools.errors import ConfigError, ExportError
from hubtools.evaluation import evaluate_run
from hubtools.export.base import AcceptancePolicy, VariantScores, export_config, export_run
from hubtools.export.timing import Workload, fastest_ms, time_predict
from hubtools.families.token_classification import export as optimum_onnx
from hubtools.families.token_classification.export import OptimumExporter, detect_instruction_set
from hubtools.families.token_classification.model import build_from_scratch
from hubtools.families.token_classification.options import TokenClassificationModelOptions
from hubtools.results import SCHEMA_VERSION
from hubtools.run import read_json, read_results, write_results
from hubtools.tokenization import tokenize_dataset

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
FIRST = ["John", "Mary", "Anna", "Peter", "Olga", "Ivan", "Maria", "Tom"]
LAST = ["Smith", "Brown", "Petrenko", "Garcia", "Novak"]
CITIES = ["Paris", "Kyiv", "London", "Berlin", "Madrid", "Rome"]
FILLER = ["the", "report", "says", "that", "today", "we", "met", "near", "again", "and"]
ARCHS = {
    "distilbert": {"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 64, "max_position_embeddings": 64},
    "bert": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
             "max_position_embeddings": 64},
}
FAST = {"benchmark": False}


def sentences(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words, tags = [], []
        for _ in range(rng.randint(1, 3)):
            words += rng.sample(FILLER, rng.randint(1, 3))
            tags += ["O"] * (len(words) - len(tags))
            if rng.random() < 0.5:
                words += [rng.choice(FIRST), rng.choice(LAST)]
                tags += ["B-PER", "I-PER"]
            else:
                words += ["in", rng.choice(CITIES)]
                tags += ["O", "B-LOC"]
        out.append((words, tags))
    return out


def dataset(pairs) -> Dataset:
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    return Dataset.from_dict({"tokens": [w for w, _ in pairs],
                              "ner_tags": [[LABELS.index(t) for t in tags] for _, tags in pairs]},
                             features=features)


def build_run(root: Path, architecture: str) -> Path:
    """A run folder with a tiny model trained for a few seconds, its test split and results.json."""
    torch.manual_seed(0)
    train, test = dataset(sentences(300, 0)), dataset(sentences(60, 1))
    model_cfg = model_section(TokenClassificationModelOptions, {"from_scratch": ARCHS[architecture], "stride": 8,
                                                                "architecture": architecture, "vocab_size": 120,
                                                                "max_length": 64})
    model, tokenizer = build_from_scratch(model_cfg, LABELS, train["tokens"])
    features = tokenize_dataset(train, tokenizer, max_length=64)
    names = list(tokenizer.model_input_names)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for step in range(60):
        rows = features.select(range(step * 16 % 288, step * 16 % 288 + 16))
        batch = tokenizer.pad({n: rows[n] for n in names}, return_tensors="pt")
        labels = torch.full(batch["input_ids"].shape, -100)
        for i, lab in enumerate(rows["labels"]):
            labels[i, : len(lab)] = torch.tensor(lab)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    run = root / f"run-{architecture}"
    model.save_pretrained(run / "model")
    tokenizer.save_pretrained(run / "model")
    (run / "dataset").mkdir(parents=True)
    test.to_parquet(str(run / "dataset" / "test.parquet"))
    results = run_results(export={**vars(ExportConfig()), "benchmark_sentences": 4})
    write_results(run, results)
    results.test = evaluate_run(run)  # the test scores the recipe would have recorded
    write_results(run, results)
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``built(architecture)``: the run folder of that architecture, built once per module."""
    root, cache = tmp_path_factory.mktemp("runs"), {}

    def get(architecture: str) -> Path:
        if architecture not in cache:
            cache[architecture] = build_run(root, architecture)
        return cache[architecture]

    return get


@pytest.fixture
def run(built, tmp_path) -> Path:
    return Path(shutil.copytree(built("distilbert"), tmp_path / "run"))


def leftovers(run: Path) -> list[str]:
    return [p.name for p in run.iterdir() if p.name.startswith(".onnx")]


def test_tiny_model_learned_something(built):
    assert read_results(built("distilbert")).test.f1 > 0.5


def test_export_quantize_verify_and_load(run):
    from optimum.onnxruntime import ORTModelForTokenClassification
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    export = export_run(run, ExportConfig(**FAST))
    onnx_dir = run / "onnx"
    assert read_results(run).export == export and read_json(run / "results.json")["schema_version"] == SCHEMA_VERSION
    assert export.exporter == "optimum-onnx" and export.agreement_unit == "word"
    assert export.reference.f1 == pytest.approx(read_results(run).test.f1, abs=1e-6)
    for name, file in [("onnx", "model.onnx"), ("onnx_int8", "model_quantized.onnx"),
                       ("onnx_int8_embeddings", "model_quantized_embeddings.onnx")]:
        variant = export.variant(name)
        assert variant.status == "passed" and variant.reason is None, variant
        assert variant.file == f"onnx/{file}" and (onnx_dir / file).is_file()
        assert variant.size_bytes == (onnx_dir / file).stat().st_size
        assert abs(variant.f1 - export.reference.f1) * 100 <= 0.5
    assert export.variant("onnx").agreement == 1.0
    assert export.variant("onnx").max_abs_logit_diff < 1e-3
    sizes = [export.variant(n).size_bytes for n in ("onnx", "onnx_int8", "onnx_int8_embeddings")]
    assert sizes[0] > sizes[1] > sizes[2]
    assert export.smallest_passed.name == "onnx_int8_embeddings"
    assert export.settings.instruction_set in ("avx2", "avx512", "avx512_vnni", "arm64")
    assert not leftovers(run) and not (onnx_dir / "optimized").exists()

    tokenizer = AutoTokenizer.from_pretrained(onnx_dir)
    text = "we met John Smith in Paris today"
    expected = pipeline("ner", model=AutoModelForTokenClassification.from_pretrained(run / "model"),
                        tokenizer=tokenizer, aggregation_strategy="simple")(text)
    for file in ("model_quantized.onnx", "model.onnx"):
        ort_model = ORTModelForTokenClassification.from_pretrained(onnx_dir, file_name=file)
        got = pipeline("ner", model=ort_model, tokenizer=tokenizer, aggregation_strategy="simple")(text)
        assert [(e["entity_group"], e["word"]) for e in got] == [(e["entity_group"], e["word"]) for e in expected]
    assert {e["entity_group"] for e in expected} >= {"PER"}


def test_cpu_sessions_keep_residual_add_and_layer_norm_apart(run, tmp_path):
    """The int8 graph ships without SkipLayerNormalization, with the erf GELU and with the split attention
    (per-channel int8 Q, K and V GEMMs on one quantized input + the ONNX Attention op); ONNX Runtime would
    fuse Add + LayerNormalization again when the session loads it, hubtools' session options stop it."""
    import onnx
    import onnxruntime as ort

    from hubtools.export.inference import session_options

    export = export_run(run, ExportConfig(**FAST))
    assert export.settings.split_attention is True
    path = run / "onnx" / "model_quantized.onnx"
    graph = onnx.load(str(path)).graph
    ops = {(node.domain or "ai.onnx", node.op_type) for node in graph.node}
    assert ("ai.onnx", "LayerNormalization") in ops and ("com.microsoft", "SkipLayerNormalization") not in ops
    assert ("com.microsoft", "Gelu") in ops and ("ai.onnx", "Attention") in ops
    assert not ops & {("com.microsoft", "FastGelu"), ("com.microsoft", "BiasGelu"), ("ai.onnx", "Split")}
    assert ("com.microsoft", "QAttention") not in ops and ("com.microsoft", "Attention") not in ops
    # every MatMul weight, Q, K and V included, per output channel; a layer's three share one quantized input
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    qkv = [n for n in graph.node if n.op_type == "MatMulInteger" and n.name.split("/")[-2:-1] in (["q"], ["k"], ["v"])]
    assert len(qkv) == 3 * ARCHS["distilbert"]["n_layers"]
    assert len({n.input[0] for n in qkv}) == ARCHS["distilbert"]["n_layers"]
    assert {len(shapes[n.input[3]]) for n in graph.node if n.op_type == "MatMulInteger"} == {1}

    # the token-wise ops run on packed rows of the real tokens
    assert ("ai.onnx", "NonZero") in ops and export.settings.drop_padding is True

    def session_ops(options, name: str) -> set[str]:
        options.optimized_model_filepath = str(tmp_path / name)
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return {node.op_type for node in onnx.load(str(tmp_path / name)).graph.node}

    assert "SkipLayerNormalization" not in session_ops(session_options(1), "hubtools.onnx")
    # ONNX Runtime fuses the padded graph's Add + LayerNormalization (not the packed one's); hubtools' options stop it
    padded = export_run(run, ExportConfig(drop_padding=False, **FAST))
    assert padded.settings.drop_padding is False
    assert ("ai.onnx", "NonZero") not in {(n.domain or "ai.onnx", n.op_type) for n in onnx.load(str(path)).graph.node}
    assert "SkipLayerNormalization" in session_ops(ort.SessionOptions(), "default.onnx")
    assert "SkipLayerNormalization" not in session_ops(session_options(1), "hubtools.onnx")


def test_fused_attention_kept_when_split_attention_is_off(run):
    """``split_attention=False`` keeps QAttention, its packed QKV weights quantized per tensor."""
    import onnx

    export = export_run(run, ExportConfig(split_attention=False, quantize_embeddings=False, **FAST))
    assert export.variant("onnx_int8").passed and export.settings.split_attention is False
    graph = onnx.load(str(run / "onnx" / "model_quantized.onnx")).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    attention = [n for n in graph.node if n.op_type == "QAttention"]
    assert attention and {shapes[n.input[4]] for n in attention} == {()}
    assert not [n for n in graph.node if n.op_type == "Attention"]


def test_bert_with_token_type_ids_matches_pytorch(built, tmp_path):
    import onnx

    run = Path(shutil.copytree(built("bert"), tmp_path / "bert"))
    export = export_run(run, ExportConfig(quantize=False, **FAST))
    inputs = [i.name for i in onnx.load(str(run / "onnx" / "model.onnx")).graph.input]
    assert "token_type_ids" in inputs
    assert export.variant("onnx").passed and export.variant("onnx").agreement == 1.0
    assert [v.name for v in export.variants] == ["onnx"] and not (run / "onnx" / "model_quantized.onnx").exists()


def test_permuted_id2label_is_refused(run):
    config_path = run / "model" / "config.json"
    config = json.loads(config_path.read_text())
    names = [config["id2label"][str(i)] for i in range(len(LABELS))]
    shuffled = names[1:] + names[:1]
    config["id2label"] = {str(i): n for i, n in enumerate(shuffled)}
    config["label2id"] = {n: i for i, n in enumerate(shuffled)}
    config_path.write_text(json.dumps(config))
    with pytest.raises(ExportError, match="does not reproduce"):
        export_run(run, ExportConfig(**FAST))
    assert not (run / "onnx").exists() and not leftovers(run)


def test_variant_beyond_max_f1_drop_is_refused_and_removed(run, caplog):
    with caplog.at_level(logging.WARNING, logger="hubtools"):
        export = export_run(run, ExportConfig(max_f1_drop=-1.0, quantize_embeddings=False, **FAST))
    for name, file in [("onnx", "model.onnx"), ("onnx_int8", "model_quantized.onnx")]:
        variant = export.variant(name)
        assert variant.status == "failed" and variant.reason.startswith("F1 ")
        assert not (run / "onnx" / file).exists()
        assert f"variant {name} refused" in caplog.text
    assert export.benchmark is None and export.smallest_passed is None
    assert (run / "onnx" / "config.json").is_file()


def test_one_policy_for_every_exporter():
    """Every variant keeps its F1 within max_f1_drop points; only the lossless fp32 graph must also agree with
    PyTorch, in the exporter's unit (words or sentences)."""
    words = AcceptancePolicy.from_config(ExportConfig(max_f1_drop=0.5, min_word_agreement=0.999), "word")
    sentences = AcceptancePolicy.from_config(ExportConfig(min_sentence_agreement=0.99), "sentence")
    assert (words.min_agreement, sentences.min_agreement) == (0.999, 0.99)
    close = VariantScores(f1=0.897, agreement=0.95, max_abs_logit_diff=0.1, num_sentences=10)
    assert words.reason_to_refuse("onnx_int8", close, 0.9) is None  # int8 only answers for its F1
    assert "of words (min 99.9000%)" in words.reason_to_refuse("onnx", close, 0.9)
    assert "of sentences (min 99.0000%)" in sentences.reason_to_refuse("onnx", close, 0.9)
    far = VariantScores(f1=0.89, agreement=1.0, max_abs_logit_diff=0.0, num_sentences=10)
    assert words.reason_to_refuse("onnx_int8", far, 0.9) == "F1 0.8900 is 1.00 points below PyTorch 0.9000 (max 0.5)"


def test_missing_tokenizer_or_labels_fail_before_export(run):
    for name in ("tokenizer.json", "vocab.txt"):
        (run / "model" / name).unlink(missing_ok=True)
    with pytest.raises(ExportError, match="no tokenizer"):
        export_run(run, ExportConfig(**FAST))
    config_path = run / "model" / "config.json"
    config = json.loads(config_path.read_text())
    del config["id2label"]
    config_path.write_text(json.dumps(config))
    with pytest.raises(ExportError, match="id2label"):
        export_run(run, ExportConfig(**FAST))
    assert not (run / "onnx").exists()


def test_architecture_optimum_cannot_export_is_a_clear_error(run):
    config_path = run / "model" / "config.json"
    config_path.write_text(config_path.read_text().replace('"model_type": "distilbert"', '"model_type": "funnel"'))
    with pytest.raises(ExportError, match="cannot export model type 'funnel'"):
        export_run(run, ExportConfig(**FAST))
    assert not (run / "onnx").exists() and (run / "model" / "model.safetensors").is_file()


def test_crash_leaves_previous_export_and_no_partial_folder(run, monkeypatch):
    (run / "onnx").mkdir()
    (run / "onnx" / "model.onnx").write_text("previous export")

    def crash(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr(optimum_onnx, "quantize_onnx", crash)
    with pytest.raises(RuntimeError, match="injected"):
        export_run(run, ExportConfig(**FAST))
    assert (run / "onnx" / "model.onnx").read_text() == "previous export"
    assert not leftovers(run)
    assert (run / "model" / "model.safetensors").is_file()
    assert read_results(run).export is None


def test_failed_verification_leaves_previous_export_and_no_staging(run, monkeypatch):
    (run / "onnx").mkdir()
    (run / "onnx" / "model.onnx").write_text("previous export")
    verify = OptimumExporter.verify

    def fail_int8(self, name: str, path: Path):
        if name == "onnx_int8":
            raise ExportError("injected verification failure")
        return verify(self, name, path)

    monkeypatch.setattr(OptimumExporter, "verify", fail_int8)
    with pytest.raises(ExportError, match="injected"):
        export_run(run, ExportConfig(quantize_embeddings=False, **FAST))
    assert [p.name for p in (run / "onnx").iterdir()] == ["model.onnx"]
    assert (run / "onnx" / "model.onnx").read_text() == "previous export"
    assert not leftovers(run) and read_results(run).export is None


def test_reproduce_tolerance_comes_from_the_configuration(run):
    results = read_results(run)
    results.test.f1 -= 0.003  # the recorded F1 0.3 points below what the saved model scores
    write_results(run, results)
    with pytest.raises(ExportError, match=r"does not reproduce .* \(tolerance 0\.2 points\)"):
        export_run(run, ExportConfig(quantize=False, **FAST))
    assert not (run / "onnx").exists() and not leftovers(run)
    assert export_run(run, ExportConfig(quantize=False, reproduce_tolerance=0.5, **FAST)).variant("onnx").passed


def test_benchmark_measures_each_variant_in_its_own_process(run):
    bench = export_run(run, ExportConfig(quantize_embeddings=False, benchmark_sentences=3)).benchmark
    peak = {row.variant: row.peak_rss_bytes for row in bench.rows}
    size = {row.variant: row.size_bytes for row in bench.rows}
    assert set(peak) == {"pytorch", "onnx", "onnx_int8"}
    assert all(peak[v] > 0 and size[v] > 0 for v in peak)
    # an ONNX process never imports torch: its peak is its own, well below the PyTorch process's
    assert peak["onnx_int8"] < 0.8 * peak["pytorch"]
    assert bench.num_sentences == 3 and bench.num_words > 3
    threads = sorted({1, __import__("os").cpu_count()})
    assert [(r.variant, r.threads) for r in bench.rows] == [(v, t) for v in ("pytorch", "onnx", "onnx_int8")
                                                           for t in threads]
    assert all(r.latency_p95_ms >= r.latency_p50_ms > 0 and r.throughput_words_s > 0 for r in bench.rows)
    assert (run / "plots" / "benchmark.png").stat().st_size > 1000


def test_export_config_applies_cli_overrides(run):
    cfg = export_config(read_results(run), benchmark=False, device=None, max_f1_drop=0.1)
    assert (cfg.benchmark, cfg.device, cfg.max_f1_drop, cfg.benchmark_sentences) == (False, "cpu", 0.1, 4)
    with pytest.raises(ConfigError, match="device"):
        export_config(read_results(run), device="tpu")


def test_instruction_set_from_cpu_flags():
    assert detect_instruction_set("flags : sse avx2 avx512f avx512_vnni") == "avx512_vnni"
    assert detect_instruction_set("flags : sse avx2 avx512f") == "avx512"
    assert detect_instruction_set("flags : sse avx2") == "avx2"
    assert detect_instruction_set("Features : fp asimd evtstrm") == "arm64"


def test_fastest_ms_keeps_each_items_fastest_call_and_lets_calls_take_turns():
    order: list[str] = []
    first_call = set()

    def slow_once(item: int) -> None:  # the first call of each item (warm-up aside) is slow, the rest fast
        order.append("slow_once")
        if item not in first_call:
            first_call.add(item)
            time.sleep(0.03)

    def steady(item: int) -> None:
        order.append("steady")
        time.sleep(0.005)

    ms = fastest_ms({"slow_once": slow_once, "steady": steady}, [1, 2, 3], rounds=2)
    assert ms["slow_once"].shape == (3,) and ms["slow_once"].max() < 3 < ms["steady"].min() < 30
    # one warm-up call each, then round by round every call over all items
    assert order == ["slow_once", "steady"] + (["slow_once"] * 3 + ["steady"] * 3) * 2

    order.clear()
    first_call.clear()
    ms = fastest_ms({"slow_once": slow_once, "steady": steady}, [1, 2, 3], rounds=2, interleave=True)
    assert ms["slow_once"].max() < 3 < ms["steady"].min()
    # interleaved: each item through every call before the next item
    assert order == ["slow_once", "steady"] + ["slow_once", "steady"] * 6


def test_time_predict_times_each_single_after_warm_up_then_the_batches():
    calls: list[tuple[str, ...]] = []
    work = Workload.of(["a", "bb", "ccc", "dddd"], [1, 2, 3, 4], [1, 2, 3, 4], tuple)
    assert work.singles == [("a",), ("bb",), ("ccc",), ("dddd",)] and work.num_words == 10
    assert work.batches == [("dddd", "ccc", "bb", "a")]  # one batch of up to 32, longest first
    timings = time_predict(calls.append, work)
    assert calls == work.singles[:3] + work.singles + work.batches
    assert 0 <= timings["latency_p50_ms"] <= timings["latency_p95_ms"] and timings["throughput_words_s"] > 0
