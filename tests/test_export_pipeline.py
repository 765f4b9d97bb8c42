"""The one export pipeline for the RNN-tagger and SpanMarker families (transformers models: tests/test_export.py):
options the family's exporter does not read are refused, the policy's tolerances come from the configuration, a
failed verification leaves the previous ``onnx/`` and no staging folder, and the benchmark runner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from helpers import LABELS, SENTENCES, run_results, tiny_dataset
from recipe_runs import ROOT
from span_marker import SpanMarkerModel
from transformers import BertConfig, BertModel

from hubtools.config import ExportConfig
from hubtools.errors import ConfigError, ExportError
from hubtools.export.base import export_run
from hubtools.families import family
from hubtools.families.rnn_tagger.configuration_rnn_tagger import RnnTaggerConfig
from hubtools.families.rnn_tagger.features import build_word_tokenizer
from hubtools.families.rnn_tagger.modeling_rnn_tagger import RnnTaggerForTokenClassification
from hubtools.families.rnn_tagger.recipe import RnnTaggerRecipe
from hubtools.families.span_marker.model import save_spanmarker
from hubtools.families.span_marker.recipe import SpanMarkerRecipe
from hubtools.families.token_classification.model import train_wordpiece_tokenizer
from hubtools.run import read_results, write_results

WORDS = [words for words, _ in SENTENCES]


def lenient(run: Path, **options) -> ExportConfig:
    """The export options of ``run`` for a test of something else than the untrained model's F1 and agreement."""
    unit = family(read_results(run).model.family).exporter.agreement_unit
    return ExportConfig(**{"reproduce_tolerance": 100.0, "max_f1_drop": 100.0, f"min_{unit}_agreement": 0.0,
                           "benchmark": False, **options})


def save_rnn(folder: Path) -> None:
    tokenizer = build_word_tokenizer(WORDS)
    config = RnnTaggerConfig(vocab_size=len(tokenizer), embedding_dim=8, hidden_size=6, cell="lstm",
                             id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    torch.manual_seed(0)
    RnnTaggerForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def save_span_marker(folder: Path, encoder: Path) -> None:
    tokenizer = train_wordpiece_tokenizer(WORDS * 3, vocab_size=60, lowercase=False, architecture="bert",
                                          model_max_length=32)
    tokenizer.save_pretrained(encoder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(encoder)
    model = SpanMarkerModel.from_pretrained(str(encoder), labels=LABELS, model_max_length=32, marker_max_length=16,
                                            entity_max_length=4)
    save_spanmarker(model, folder, folder)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``built(family)``: a run folder of that family with an untrained tiny model, built once per module."""
    root, cache = tmp_path_factory.mktemp("runs"), {}

    def get(name: str) -> Path:
        if name not in cache:
            run = root / name
            if name == "rnn-tagger":
                save_rnn(run / "model")
            else:
                save_span_marker(run / "model", root / "encoder")
            (run / "dataset").mkdir()
            tiny_dataset().to_parquet(str(run / "dataset" / "test.parquet"))
            write_results(run, run_results(name, max_length=32))
            cache[name] = run
        return cache[name]

    return get


@pytest.fixture(params=["rnn-tagger", "span-marker"])
def run(request, built, tmp_path) -> Path:
    return Path(shutil.copytree(built(request.param), tmp_path / "run"))


def previous_export(run: Path) -> None:
    (run / "onnx").mkdir()
    (run / "onnx" / "model.onnx").write_text("previous export")


def untouched(run: Path) -> bool:
    """The previous export is in place, no staging or swapped-out folder is left and results.json has no export."""
    return ([p.name for p in (run / "onnx").iterdir()] == ["model.onnx"]
            and (run / "onnx" / "model.onnx").read_text() == "previous export"
            and not [p.name for p in run.iterdir() if p.name.startswith(".onnx")]
            and read_results(run).export is None)


@pytest.mark.parametrize(("family", "exporter", "option"), [
    *(("span-marker", "span-marker-onnx", option) for option in (
        {"split_attention": False}, {"drop_padding": False}, {"device": "cuda"}, {"min_word_agreement": 0.5})),
    *(("rnn-tagger", "rnn-onnx", option) for option in (
        {"split_attention": False}, {"drop_padding": False}, {"quantize": False}, {"per_channel": False},
        {"max_export_logit_diff": 0.1}))])
def test_an_exporter_refuses_options_it_does_not_read(built, family, exporter, option, tmp_path):
    run = Path(shutil.copytree(built(family), tmp_path / "run"))
    previous_export(run)
    with pytest.raises(ConfigError, match=rf"^export\.{next(iter(option))}: not read by the {exporter}"):
        export_run(run, ExportConfig(**option))
    assert untouched(run)


def test_every_unread_option_is_named_and_defaults_pass():
    rnn = family("rnn-tagger").exporter
    with pytest.raises(ConfigError, match=r"^export\.split_attention, export\.instruction_set: not read"):
        rnn.check_options(ExportConfig(split_attention=False, instruction_set="avx2"))
    for name in ("token-classification", "distillation", "rnn-tagger", "span-marker"):
        family(name).exporter.check_options(ExportConfig())  # nothing set: nothing refused


@pytest.mark.parametrize(("recipe", "config", "override"), [
    (RnnTaggerRecipe, "ner_uk.yaml", "export.split_attention=false"),
    (SpanMarkerRecipe, "multinerd.yaml", "export.device=cuda"),
])
def test_recipe_refuses_an_unread_option_before_any_work(recipe, config, override, tmp_path):
    cfg = recipe.load_config(ROOT / "recipes" / "configs" / config, "tiny", [override],
                             output_dir=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match=rf"export\.{override.split('.')[1].split('=')[0]}: not read"):
        recipe(cfg).run()
    assert list(tmp_path.iterdir()) == []


def test_failed_verification_leaves_previous_export_and_no_staging(run, monkeypatch):
    previous_export(run)
    exporter = family(read_results(run).model.family).exporter

    def fail(self, name: str, path: Path):
        raise ExportError(f"injected verification failure of {name}")

    monkeypatch.setattr(exporter, "verify", fail)
    with pytest.raises(ExportError, match="injected verification failure of onnx"):
        export_run(run, lenient(run))
    assert untouched(run)


def test_reproduce_tolerance_decides_whether_the_model_reproduces_the_run(run):
    previous_export(run)
    results = read_results(run)
    results.test.f1 = 0.5  # the untrained model's test F1 is nowhere near it
    write_results(run, results)
    with pytest.raises(ExportError, match=r"does not reproduce the run's 0\.5000 \(tolerance 0\.2 points\)"):
        export_run(run, lenient(run, reproduce_tolerance=0.2))
    assert untouched(run)
    export = export_run(run, lenient(run))
    assert export.variant("onnx").passed and (run / "onnx" / "model.onnx").stat().st_size > 1000


def test_max_export_logit_diff_decides_whether_a_span_marker_graph_is_kept(built, tmp_path):
    run = Path(shutil.copytree(built("span-marker"), tmp_path / "run"))
    previous_export(run)
    with pytest.raises(ExportError, match=r"max abs logit difference .* > -1\.0"):
        export_run(run, lenient(run, max_export_logit_diff=-1.0))
    assert untouched(run)
    assert export_run(run, lenient(run)).variant("onnx").max_abs_logit_diff < 1e-3


def test_span_marker_benchmark_times_every_variant_like_the_word_taggers(built, tmp_path):
    run = Path(shutil.copytree(built("span-marker"), tmp_path / "run"))
    threads = torch.get_num_threads()
    export = export_run(run, lenient(run, benchmark=True, benchmark_sentences=2))
    assert torch.get_num_threads() == threads  # the benchmark gives the process its threads back
    bench = export.benchmark
    settings = sorted({1, os.cpu_count()})
    assert [(r.variant, r.threads) for r in bench.rows] == [(v, t) for v in ("pytorch", "onnx", "onnx_int8")
                                                           for t in settings]
    assert bench.num_sentences == 2 and bench.num_words == sum(map(len, WORDS[:2])) and bench.batch_size == 32
    assert all(r.latency_p95_ms >= r.latency_p50_ms > 0 and r.throughput_words_s > 0 for r in bench.rows)
    size = {r.variant: r.size_bytes for r in bench.rows}
    assert size["onnx"] == (run / "onnx" / "model.onnx").stat().st_size
    assert size["pytorch"] == (run / "model" / "model.safetensors").stat().st_size
    assert size["onnx_int8"] < size["onnx"]
    assert all(r.peak_rss_bytes is None for r in bench.rows)  # timed in this process: no memory of its own
    assert "end-to-end" in bench.note and (run / "plots" / "benchmark.png").stat().st_size > 1000
