"""SpanMarker ONNX export, runner parity, quantization and atomic export, on a tiny model trained offline."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from span_marker import SpanMarkerModel, Trainer
from transformers import BertConfig, BertModel, TrainingArguments

from hubtools.errors import ExportError
from hubtools.modeling import train_wordpiece_tokenizer
from hubtools.spanmarker import onnx_export
from hubtools.spanmarker.onnx_export import (
    encoder_linear_nodes,
    export_spanmarker_onnx,
    quantize_spanmarker_onnx,
)
from hubtools.spanmarker.onnx_runtime import SpanMarkerOnnxRunner, compact
from hubtools.spanmarker.onnx_verify import benchmark_spanmarker, entity_f1, entity_key, verify_spanmarker_onnx

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
NAMES = {
    "PER": [["Anna", "Berg"], ["John", "Smith"], ["Maria"], ["Karl", "Otto"]],
    "ORG": [["Acme", "Corp"], ["Globex"], ["Initech", "Labs"]],
    "LOC": [["Paris"], ["New", "York"], ["Berlin"]],
}
FILLER = "the a met visited in at from with said today works for".split()


def generate(num_sentences: int, seed: int) -> tuple[list[list[str]], list[list[int]], list[list[tuple]]]:
    """MultiNERD-like sentences: words, IOB2 tag ids (LABELS order) and gold (type, start, end) spans."""
    rng = random.Random(seed)
    sentences, tags, spans = [], [], []
    for _ in range(num_sentences):
        words, ids, gold = [], [], []
        for _ in range(rng.randint(2, 4)):
            if rng.random() < 0.6:
                entity_type = rng.choice(sorted(NAMES))
                name = rng.choice(NAMES[entity_type])
                begin = LABELS.index(f"B-{entity_type}")
                gold.append((entity_type, len(words), len(words) + len(name)))
                words += name
                ids += [begin] + [begin + 1] * (len(name) - 1)
            words.append(rng.choice(FILLER))
            ids.append(0)
        sentences.append(words)
        tags.append(ids)
        spans.append(gold)
    return sentences, tags, spans


def build_encoder(path: Path, sentences: list[list[str]]) -> None:
    """A 2-layer, hidden-32 BERT with a cased WordPiece tokenizer trained on the sentences."""
    fast = train_wordpiece_tokenizer(sentences, vocab_size=200, lowercase=False, architecture="bert",
                                     model_max_length=64)
    fast.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(fast),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> SpanMarkerModel:
    """A SpanMarker model on the tiny encoder, trained a few hundred steps so that it predicts entities."""
    root = tmp_path_factory.mktemp("spanmarker")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine's cores are shared; more threads only add contention
    torch.manual_seed(0)
    sentences, tags, _ = generate(200, seed=0)
    build_encoder(root / "encoder", sentences)
    model = SpanMarkerModel.from_pretrained(
        str(root / "encoder"), labels=LABELS, model_max_length=32, marker_max_length=16, entity_max_length=4
    )
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    train = Dataset.from_dict({"tokens": sentences, "ner_tags": tags}, features=features)
    args = TrainingArguments(
        output_dir=str(root / "checkpoints"),
        per_device_train_batch_size=16,
        num_train_epochs=15,
        learning_rate=5e-3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    Trainer(model=model, args=args, train_dataset=train).train()
    yield model.eval()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def eval_data() -> tuple[list[list[str]], list[list[tuple]]]:
    sentences, _, spans = generate(200, seed=1)
    return sentences, spans


@pytest.fixture(scope="module")
def onnx_dir(trained, tmp_path_factory) -> Path:
    return export_spanmarker_onnx(trained, tmp_path_factory.mktemp("export") / "onnx")


@pytest.fixture(scope="module")
def runner(onnx_dir) -> SpanMarkerOnnxRunner:
    return SpanMarkerOnnxRunner.from_pretrained(onnx_dir)


def keys(entities: list[dict]) -> list[tuple]:
    return [entity_key(entity) for entity in entities]


def test_pytorch_model_predicts_entities(trained, eval_data):
    sentences, gold = eval_data
    predicted = trained.predict(sentences[:50], batch_size=16)
    assert sum(len(entities) for entities in predicted) >= 20
    assert entity_f1(predicted, gold[:50]) > 0.3


def test_export_folder_is_self_contained(onnx_dir):
    names = {path.name for path in onnx_dir.iterdir()}
    assert {
        "model.onnx",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "added_tokens.json",
    } <= names
    assert [path.name for path in onnx_dir.parent.iterdir()] == ["onnx"]
    graph = onnx.load(str(onnx_dir / "model.onnx")).graph
    assert [node.name for node in graph.input] == onnx_export.INPUT_NAMES
    dims = [dim.dim_param for dim in graph.output[0].type.tensor_type.shape.dim]
    assert dims[:2] == ["batch", "marker_pairs"]
    assert [dim.dim_param for dim in graph.input[1].type.tensor_type.shape.dim] == [
        "batch",
        "sequence",
        "sequence",
    ]


def test_parity_on_word_lists(trained, runner, eval_data):
    sentences, gold = eval_data
    report = verify_spanmarker_onnx(trained, runner, sentences, gold=gold, batch_size=16)
    assert report["num_sentences"] == 200
    assert report["num_entities_pytorch"] > 50
    assert report["num_entities_onnx"] == report["num_entities_pytorch"]
    assert report["sentence_agreement"] >= 0.995
    assert report["max_abs_logit_diff"] < 1e-4
    assert report["f1_onnx"] == pytest.approx(report["f1_pytorch"], abs=0.005)


def test_same_structure_as_library_for_strings_and_single_sentences(trained, runner, eval_data):
    words = eval_data[0][:20]
    strings = [" ".join(sentence) for sentence in words]
    for inputs in (strings, strings[3], words[5], words[:1]):
        assert _without_scores(runner.predict(inputs)) == _without_scores(trained.predict(inputs))
    single = runner.predict(strings[3])
    assert single and all(
        set(entity) == {"span", "label", "score", "char_start_index", "char_end_index"} for entity in single
    )
    assert all(strings[3][e["char_start_index"] : e["char_end_index"]] == e["span"] for e in single)
    assert runner.predict([]) == []


def _without_scores(value):
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key != "score"}
    if isinstance(value, list):
        return [_without_scores(item) for item in value]
    return value


def test_scores_match_library(trained, runner, eval_data):
    sentences = eval_data[0][:30]
    for expected, got in zip(trained.predict(sentences), runner.predict(sentences), strict=True):
        assert keys(got) == keys(expected)
        np.testing.assert_allclose([e["score"] for e in got], [e["score"] for e in expected], atol=1e-5)


def test_compact_batch_changes_no_logit(runner):
    """``compact`` cuts the padding off the sequence axis: the marker-pair axis shrinks, no real logit moves."""
    samples, _ = runner.encode([["Anna", "Berg"], ["Paris", "today"], ["Acme", "Corp", "in", "Berlin"]])
    batch = runner.collator(samples)
    full = runner.forward(batch)
    short = compact(batch)
    used = max(len(s["input_ids"]) + len(s["input_ids"]) % 2 + 2 * s["num_spans"] for s in samples)
    assert short["input_ids"].shape[1] == used + used % 2 < batch["input_ids"].shape[1]
    assert short["attention_mask"].shape[1:] == (short["input_ids"].shape[1],) * 2
    trimmed = runner.forward(short)
    assert trimmed.shape == (3, short["input_ids"].shape[1] // 2, full.shape[2])
    for row, pairs in enumerate(batch["num_marker_pairs"].tolist()):
        np.testing.assert_allclose(trimmed[row, :pairs], full[row, :pairs], atol=1e-4)


def test_long_sentence_spread_over_several_passes(trained, runner, eval_data):
    long = [word for sentence in eval_data[0][:12] for word in sentence]
    samples, _ = runner.encode([long])
    assert len(samples) >= 3
    expected = trained.predict(long)
    assert expected
    assert keys(runner.predict(long, batch_size=2)) == keys(expected)


@pytest.mark.parametrize("optimize", [False, True])
def test_int8_quantized_is_smaller_and_agrees(trained, onnx_dir, eval_data, optimize):
    name = f"model_int8{'_fused' if optimize else ''}.onnx"
    path = quantize_spanmarker_onnx(onnx_dir / "model.onnx", onnx_dir / name, optimize=optimize)
    assert path.stat().st_size < (onnx_dir / "model.onnx").stat().st_size
    assert not list(onnx_dir.glob(".*"))
    assert any(node.op_type == "DynamicQuantizeLinear" for node in onnx.load(str(path)).graph.node)
    quantized = SpanMarkerOnnxRunner.from_pretrained(onnx_dir, file_name=name)
    report = verify_spanmarker_onnx(trained, quantized, eval_data[0][:100], gold=eval_data[1][:100])
    assert report["sentence_agreement"] >= 0.9
    assert 0 < report["max_abs_logit_diff"] < 0.5


def test_int8_scope_keeps_embeddings_and_span_classifier_fp32(onnx_dir, tmp_path):
    fp32 = onnx.load(str(onnx_dir / "model.onnx"))
    linear = encoder_linear_nodes(fp32)
    assert len(linear) == 2 * 6  # query, key, value, attention output, intermediate, output of each layer
    assert all(name.startswith("/encoder/encoder/layer.") for name in linear)

    def quantized(scope: str) -> dict[str, onnx.NodeProto]:
        path = quantize_spanmarker_onnx(onnx_dir / "model.onnx", tmp_path / f"{scope}.onnx", scope=scope)
        return {node.name: node for node in onnx.load(str(path)).graph.node}

    default, everything = quantized("encoder_linear"), quantized("all")
    assert sum(node.op_type == "MatMulInteger" for node in default.values()) == len(linear)
    assert default["/classifier/MatMul"].op_type == "MatMul"  # the span head reads fp32 weights
    assert default["/encoder/embeddings/word_embeddings/Gather"].op_type == "Gather"
    assert "/classifier/MatMul" not in everything  # "all" quantizes the head too
    assert sum(node.op_type == "MatMulInteger" for node in everything.values()) > len(linear)
    with pytest.raises(ExportError, match="int8 scope 'heads'"):
        quantize_spanmarker_onnx(onnx_dir / "model.onnx", tmp_path / "x.onnx", scope="heads")
    assert not (tmp_path / "x.onnx").exists()


def test_reload_copied_folder_in_fresh_runner(trained, onnx_dir, tmp_path, eval_data):
    copy = shutil.copytree(onnx_dir, tmp_path / "copied")
    fresh = SpanMarkerOnnxRunner.from_pretrained(copy)
    assert Path(fresh.tokenizer.tokenizer.name_or_path) == copy
    assert fresh.config.id2label == trained.config.id2label
    sentences = eval_data[0][:40]
    assert [keys(e) for e in fresh.predict(sentences)] == [keys(e) for e in trained.predict(sentences)]


def test_export_from_saved_folder_replaces_existing_target(trained, tmp_path, runner, eval_data):
    trained.save_pretrained(tmp_path / "model")
    target = tmp_path / "onnx"
    target.mkdir()
    (target / "stale.txt").write_text("from an older export")
    assert export_spanmarker_onnx(tmp_path / "model", target) == target
    assert not (target / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "onnx"]
    sentences = eval_data[0][:20]
    reloaded = SpanMarkerOnnxRunner.from_pretrained(target)
    assert [keys(e) for e in reloaded.predict(sentences)] == [keys(e) for e in runner.predict(sentences)]


def test_failed_export_leaves_existing_target_untouched(trained, tmp_path, monkeypatch):
    target = tmp_path / "onnx"
    target.mkdir()
    (target / "model.onnx").write_bytes(b"previous export")

    def fail_check(*_args):
        raise ExportError("simulated verification failure")

    monkeypatch.setattr(onnx_export, "_check_export", fail_check)
    trained.train()
    with pytest.raises(ExportError, match="simulated"):
        export_spanmarker_onnx(trained, target)
    assert trained.training  # the caller's mode comes back
    trained.eval()
    assert (target / "model.onnx").read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["onnx"]


def test_export_of_missing_model_dir_raises(tmp_path):
    with pytest.raises(ExportError, match="loading the SpanMarker model"):
        export_spanmarker_onnx(tmp_path / "missing", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_benchmark_reports_every_variant(trained, runner, onnx_dir, eval_data):
    quantized_path = quantize_spanmarker_onnx(onnx_dir / "model.onnx", onnx_dir / "model_quantized.onnx")
    quantized = SpanMarkerOnnxRunner.from_pretrained(onnx_dir, file_name=quantized_path.name)
    report = benchmark_spanmarker(trained, {"onnx": runner, "onnx_int8": quantized}, eval_data[0][:10])
    assert set(report) == {"pytorch", "onnx", "onnx_int8"}
    for numbers in report.values():
        assert 0 < numbers["latency_ms_p50"] <= numbers["latency_ms_p95"]
        assert numbers["sentences_per_s"] > 0
    assert report["onnx_int8"]["size_bytes"] < report["onnx"]["size_bytes"]
    assert report["onnx"]["size_bytes"] == (onnx_dir / "model.onnx").stat().st_size


def test_entity_f1_counts_exact_matches_only():
    predicted = [
        [{"label": "PER", "word_start_index": 0, "word_end_index": 2}],
        [{"label": "LOC", "word_start_index": 1, "word_end_index": 2}],
    ]
    gold = [[("PER", 0, 2)], [("LOC", 0, 2), ("ORG", 3, 4)]]
    assert entity_f1(predicted, gold) == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert entity_f1([[]], [[("PER", 0, 1)]]) == 0.0


def test_verify_rejects_a_single_sentence(trained, runner):
    with pytest.raises(ValueError, match="list of sentences"):
        verify_spanmarker_onnx(trained, runner, ["Anna", "Berg"])


def test_recipe_features_leave_the_loaders_document_columns_out(trained, tmp_path):
    """Splits read from files with documents carry string ``document_id``s, which span_marker would take as its own
    integer document ids and fail on; the recipe's features drop them, so such data trains."""
    import copy
    from types import SimpleNamespace

    from hubtools.spanmarker.recipe import SpanMarkerRecipe

    sentences, tags, _ = generate(8, seed=3)
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS)),
                         "document_id": Value("string"), "sentence_id": Value("int32")})
    split = Dataset.from_dict({"tokens": sentences, "ner_tags": tags, "document_id": ["train/0"] * 4 + ["train/1"] * 4,
                               "sentence_id": [0, 1, 2, 3] * 2}, features=features)
    featurized = SpanMarkerRecipe.featurize(None, SimpleNamespace(splits={"train": split}), None)["train"]
    assert featurized.column_names == ["tokens", "ner_tags"]
    assert featurized["tokens"] == sentences

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=1, save_strategy="no",
                             report_to=[], use_cpu=True, disable_tqdm=True)
    model = copy.deepcopy(trained)  # the module's other tests keep the trained weights
    with pytest.raises(ValueError, match="dimensions"):
        Trainer(model=model, args=args, train_dataset=split).train()
    Trainer(model=model, args=args, train_dataset=featurized).train()
