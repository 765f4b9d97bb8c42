"""ONNX stage on tiny run folders: export, quantize, verify, refuse, load, fail cleanly."""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Sequence, Value

from hubtools import export as export_mod
from hubtools.config import ExportConfig, ModelConfig
from hubtools.errors import ExportError
from hubtools.export import config_from_run, detect_instruction_set, export_run
from hubtools.modeling import build_from_scratch
from hubtools.run import read_json, write_json
from hubtools.tokenization import tokenize_dataset
from hubtools.verify import reference

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
    model_cfg = ModelConfig(from_scratch=ARCHS[architecture], architecture=architecture, vocab_size=120,
                            max_length=64, stride=8)
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
    results = {"recipe": "test", "config": {"export": {**vars(ExportConfig()), "benchmark_sentences": 4}},
               "model": {"max_length": 64, "stride": 8}}
    write_json(run / "results.json", results)
    results["test"] = {"f1": reference(run, results).summary["f1"]}
    write_json(run / "results.json", results)
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
    assert read_json(built("distilbert") / "results.json")["test"]["f1"] > 0.5


def test_export_quantize_verify_and_load(run):
    from optimum.onnxruntime import ORTModelForTokenClassification
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    section = export_run(run, ExportConfig(**FAST))
    onnx_dir = run / "onnx"
    assert read_json(run / "results.json")["export"] == json.loads(json.dumps(section))
    for name, file in [("onnx", "model.onnx"), ("onnx_int8", "model_quantized.onnx"),
                       ("onnx_int8_embeddings", "model_quantized_embeddings.onnx")]:
        assert section[name]["status"] == "passed", section[name]
        assert section[name]["file"] == file and (onnx_dir / file).is_file()
        assert abs(section[name]["f1"] - section["pytorch"]["f1"]) * 100 <= 0.5
    assert section["onnx"]["word_agreement"] == 1.0
    assert section["onnx"]["max_abs_logit_diff"] < 1e-3
    sizes = [section[n]["size_mb"] for n in ("onnx", "onnx_int8", "onnx_int8_embeddings")]
    assert sizes[0] > sizes[1] > sizes[2]
    assert section["instruction_set"] in ("avx2", "avx512", "avx512_vnni", "arm64")
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
    """The int8 graph ships without SkipLayerNormalization, with the tanh GELU and with the split attention
    (one per-channel int8 QKV GEMM + the ONNX Attention op); ONNX Runtime would fuse Add + LayerNormalization
    again when the session loads it, hubtools' session options stop it."""
    import onnx
    import onnxruntime as ort

    from hubtools.inference import session_options

    section = export_run(run, ExportConfig(**FAST))
    assert section["split_attention"] is True
    path = run / "onnx" / "model_quantized.onnx"
    graph = onnx.load(str(path)).graph
    ops = {(node.domain or "ai.onnx", node.op_type) for node in graph.node}
    assert ("ai.onnx", "LayerNormalization") in ops and ("com.microsoft", "SkipLayerNormalization") not in ops
    assert ("com.microsoft", "FastGelu") in ops and ("ai.onnx", "Attention") in ops
    assert ("com.microsoft", "QAttention") not in ops and ("com.microsoft", "Attention") not in ops
    # every MatMul weight, the packed QKV included, per output channel
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    qkv = [n for n in graph.node if n.op_type == "MatMulInteger" and "qkv" in n.name]
    assert len(qkv) == ARCHS["distilbert"]["n_layers"]
    assert {len(shapes[n.input[3]]) for n in graph.node if n.op_type == "MatMulInteger"} == {1}

    def session_ops(options, name: str) -> set[str]:
        options.optimized_model_filepath = str(tmp_path / name)
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return {node.op_type for node in onnx.load(str(tmp_path / name)).graph.node}

    assert "SkipLayerNormalization" in session_ops(ort.SessionOptions(), "default.onnx")
    assert "SkipLayerNormalization" not in session_ops(session_options(1), "hubtools.onnx")


def test_fused_attention_kept_when_split_attention_is_off(run):
    """``split_attention=False`` keeps QAttention, its packed QKV weights quantized per tensor."""
    import onnx

    section = export_run(run, ExportConfig(split_attention=False, quantize_embeddings=False, **FAST))
    assert section["onnx_int8"]["status"] == "passed" and section["split_attention"] is False
    graph = onnx.load(str(run / "onnx" / "model_quantized.onnx")).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    attention = [n for n in graph.node if n.op_type == "QAttention"]
    assert attention and {shapes[n.input[4]] for n in attention} == {()}
    assert not [n for n in graph.node if n.op_type == "Attention"]


def test_bert_with_token_type_ids_matches_pytorch(built, tmp_path):
    import onnx

    run = Path(shutil.copytree(built("bert"), tmp_path / "bert"))
    section = export_run(run, ExportConfig(quantize=False, **FAST))
    inputs = [i.name for i in onnx.load(str(run / "onnx" / "model.onnx")).graph.input]
    assert "token_type_ids" in inputs
    assert section["onnx"]["status"] == "passed" and section["onnx"]["word_agreement"] == 1.0
    assert "onnx_int8" not in section and not (run / "onnx" / "model_quantized.onnx").exists()


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
        section = export_run(run, ExportConfig(max_f1_drop=-1.0, quantize_embeddings=False, **FAST))
    for name, file in [("onnx", "model.onnx"), ("onnx_int8", "model_quantized.onnx")]:
        assert section[name]["status"].startswith("failed: F1")
        assert not (run / "onnx" / file).exists()
        assert f"variant {name} refused" in caplog.text
    assert (run / "onnx" / "config.json").is_file()


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

    monkeypatch.setattr(export_mod, "quantize_onnx", crash)
    with pytest.raises(RuntimeError, match="injected"):
        export_run(run, ExportConfig(**FAST))
    assert (run / "onnx" / "model.onnx").read_text() == "previous export"
    assert not leftovers(run)
    assert (run / "model" / "model.safetensors").is_file()
    assert "export" not in read_json(run / "results.json")


def test_benchmark_measures_each_variant_in_its_own_process(run):
    section = export_run(run, ExportConfig(quantize_embeddings=False, benchmark_sentences=3))
    bench = section["benchmark"]
    assert set(bench["variants"]) == {"pytorch", "onnx", "onnx_int8"}
    assert all(v["peak_rss_mb"] > 0 and v["size_mb"] > 0 for v in bench["variants"].values())
    # an ONNX process never imports torch: its peak is its own, well below the PyTorch process's
    assert bench["variants"]["onnx_int8"]["peak_rss_mb"] < 0.8 * bench["variants"]["pytorch"]["peak_rss_mb"]
    assert bench["sentences"] == 3 and bench["words"] > 3
    threads = sorted({1, __import__("os").cpu_count()})
    assert [(r["variant"], r["threads"]) for r in bench["rows"]] == \
        [(v, t) for v in ("pytorch", "onnx", "onnx_int8") for t in threads]
    assert all(r["latency_p95_ms"] >= r["latency_p50_ms"] > 0 and r["throughput_words_s"] > 0
               for r in bench["rows"])
    assert (run / "plots" / "benchmark.png").stat().st_size > 1000


def test_config_from_run_applies_cli_overrides(run):
    cfg = config_from_run(run, benchmark=False, device=None, max_f1_drop=0.1)
    assert (cfg.benchmark, cfg.device, cfg.max_f1_drop, cfg.benchmark_sentences) == (False, "cpu", 0.1, 4)
    with pytest.raises(ValueError, match="device"):
        config_from_run(run, device="tpu")


def test_instruction_set_from_cpu_flags():
    assert detect_instruction_set("flags : sse avx2 avx512f avx512_vnni") == "avx512_vnni"
    assert detect_instruction_set("flags : sse avx2 avx512f") == "avx512"
    assert detect_instruction_set("flags : sse avx2") == "avx2"
    assert detect_instruction_set("Features : fp asimd evtstrm") == "arm64"
