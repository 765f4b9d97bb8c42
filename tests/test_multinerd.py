"""recipes/multinerd.py: generated MultiNERD schema, Systems A and B, a tiny end-to-end run of both with ONNX
export, reloading the saved SpanMarker folder offline in a fresh process, after moving it, and from the
test Hub after a push, and ``hubtools evaluate`` / ``predict`` on the run folder and on the pushed repo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import client_env, run_client
from datasets import Dataset, DatasetDict, Features, Sequence, Value
from huggingface_hub import HfApi
from safetensors import safe_open
from span_marker import SpanMarkerModel

from hubtools.cli import main
from hubtools.config import DataConfig, ExportConfig
from hubtools.data.build import build_dataset
from hubtools.data.generate_multinerd import MULTINERD_LABELS, generate_multinerd
from hubtools.data.normalize import normalize
from hubtools.families.span_marker.decode import spans_to_tags, tags_to_spans
from hubtools.families.span_marker.model import load_saved_spanmarker
from hubtools.families.span_marker.recipe import SpanMarkerRecipe
from hubtools.families.span_marker.reference import config_for_repo
from hubtools.metrics import ids_to_tags
from hubtools.push import push_run
from hubtools.results import to_dict
from hubtools.run import read_results
from hubtools.tagging import resolve_model

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_B_TYPES = ["PER", "ORG", "LOC", "DIS", "ANIM"]
F1_FLOOR = {"A": 0.4, "B": 0.5}
SENTENCES = [["patients", "with", "malaria", "need", "treatment"],
             ["they", "travelled", "to", "Lake", "Geneva", "."], ["the", "writer", "Anna", "Berg", "was", "born"]]
# Babelscape/multinerd's ClassLabel ids (dataset card).
EXPECTED_IDS = {"O": 0, "B-PER": 1, "I-PER": 2, "B-ORG": 3, "I-ORG": 4, "B-LOC": 5, "I-LOC": 6, "B-ANIM": 7,
                "I-ANIM": 8, "B-BIO": 9, "I-BIO": 10, "B-CEL": 11, "I-CEL": 12, "B-DIS": 13, "I-DIS": 14,
                "B-EVE": 15, "I-EVE": 16, "B-FOOD": 17, "I-FOOD": 18, "B-INST": 19, "I-INST": 20, "B-MEDIA": 21,
                "I-MEDIA": 22, "B-MYTH": 23, "I-MYTH": 24, "B-PLANT": 25, "I-PLANT": 26, "B-TIME": 27,
                "I-TIME": 28, "B-VEHI": 29, "I-VEHI": 30}


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def test_generated_schema_names_ids_and_languages():
    dsd = generate_multinerd(400, seed=1)
    assert {split: len(ds) for split, ds in dsd.items()} == {"train": 320, "validation": 40, "test": 40}
    names = dsd["train"].features["ner_tags"].feature.names
    assert {name: i for i, name in enumerate(names)} == EXPECTED_IDS
    assert MULTINERD_LABELS == names
    langs = set(dsd["train"]["lang"])
    assert "en" in langs and len(langs) >= 5
    row = dsd["train"][0]
    assert len(row["tokens"]) == len(row["ner_tags"])
    assert generate_multinerd(400, seed=1)["test"]["tokens"] == dsd["test"]["tokens"]


def test_english_filter_and_system_a_keeps_every_type():
    source = generate_multinerd(600, seed=2)
    dsd, info = build_dataset(DataConfig(source="generate:multinerd", generate={"num_sentences": 600, "seed": 2},
                                         filters={"lang": "en"}))
    assert sum(info.splits.values()) == sum(lang == "en" for ds in source.values() for lang in ds["lang"])
    assert 0 < info.splits["train"] < len(source["train"])
    assert dsd["train"].features["ner_tags"].feature.names == MULTINERD_LABELS
    assert dsd["train"]["ner_tags"] == [tags for tags, lang in zip(source["train"]["ner_tags"],
                                                                   source["train"]["lang"]) if lang == "en"]


def test_system_b_maps_other_types_to_o_with_consistent_ids():
    cfg = dict(source="generate:multinerd", generate={"num_sentences": 600, "seed": 2}, filters={"lang": "en"})
    full, _ = build_dataset(DataConfig(**cfg))
    dsd, info = build_dataset(DataConfig(**cfg, types=SYSTEM_B_TYPES))
    names = dsd["train"].features["ner_tags"].feature.names
    assert names == ["O"] + [f"{p}-{t}" for t in SYSTEM_B_TYPES for p in ("B", "I")]
    assert info.entity_types == SYSTEM_B_TYPES
    for before, after in zip(full["train"]["ner_tags"], dsd["train"]["ner_tags"], strict=True):
        for old, new in zip(before, after, strict=True):
            old_name = MULTINERD_LABELS[old]
            expected = old_name if old_name[2:] in SYSTEM_B_TYPES else "O"
            assert names[new] == expected
    assert set(info.entity_counts["train"]) == set(SYSTEM_B_TYPES)


def test_hub_config_names_integer_tags_like_the_generator():
    """Babelscape/multinerd stores ner_tags as integers: the recipe names them, in the generator's order."""
    cfg = SpanMarkerRecipe.load_config(ROOT / "recipes" / "configs" / "multinerd.yaml")
    assert cfg.data.label_names == MULTINERD_LABELS and cfg.data.filters == {"lang": "en"}
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(Value("int64")),
                         "lang": Value("string")})
    raw = Dataset.from_dict({"tokens": [["Anna", "has", "malaria"]], "ner_tags": [[1, 0, 13]], "lang": ["en"]},
                            features=features)
    ds = normalize(DatasetDict({"train": raw}), label_names=cfg.data.label_names)["train"]
    assert ds.features["ner_tags"].feature.names == MULTINERD_LABELS
    assert [MULTINERD_LABELS[i] for i in ds[0]["ner_tags"]] == ["B-PER", "O", "B-DIS"]


def test_spans_and_tags_round_trip():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O"]
    spans = tags_to_spans(tags)
    assert spans == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6)]
    assert spans_to_tags(spans, len(tags)) == tags


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Both systems trained by the recipe with the tiny preset as it is (about 2 minutes each)."""
    out = tmp_path_factory.mktemp("multinerd") / "runs"
    command = [sys.executable, str(ROOT / "recipes" / "multinerd.py"), "--system", "A,B", "--preset", "tiny",
               "--output-dir", str(out), "export.benchmark_sentences=10"]
    done = subprocess.run(command, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("system", ["A", "B"])
def test_end_to_end_run_folder(runs, system):
    run = runs / system
    results = read_results(run)
    assert results.recipe == "multinerd" and results.system == system
    assert results.model.library_name == "span-marker" and results.model.family == "span-marker"
    types = results.dataset.entity_types
    assert types == SYSTEM_B_TYPES if system == "B" else len(types) == 15
    assert set(results.test.confusion.labels) == {"O", *types}
    assert results.test.f1 >= F1_FLOOR[system]  # the tiny preset learns (it once scored 0.0: all O)
    # seqeval on word tags (test) and exact span matching (export) score the same predictions alike
    assert results.test.f1 == pytest.approx(results.export.reference.f1, abs=1e-6)
    assert set(results.test.per_type) <= set(types)
    assert [row.epoch for row in results.training.history] == [1.0, 2.0, 3.0, 4.0]
    assert None not in (results.training.history[-1].validation_loss, results.training.history[-1].f1)
    assert results.timings.train_words_per_second > 0
    limits = results.span_lengths
    assert set(limits.entities_over_max_length) == {"train", "validation", "test"}
    assert sum(limits.sentences_truncated.values()) > 0  # the generated long tails pass 64 sub-tokens
    if system == "A":  # the 11-word MEDIA title is over 8 words; System B sets MEDIA to O
        assert sum(limits.entities_over_max_length.values()) > 0
    else:
        assert sum(limits.entities_over_max_length.values()) == 0
    for name in ("model/model.safetensors", "model/encoder/config.json", "dataset/train.parquet",
                 "plots/training_curves.png", "plots/confusion_matrix.png", "onnx/model.onnx"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoints").exists()


@pytest.mark.slow
@pytest.mark.parametrize("system", ["A", "B"])
def test_onnx_parity_recorded(runs, system):
    export = read_results(runs / system).export
    assert export.exporter == "span-marker-onnx" and export.agreement_unit == "sentence"
    fp32, int8 = export.variant("onnx"), export.variant("onnx_int8")
    assert fp32.passed and fp32.agreement >= 0.995 and fp32.max_abs_logit_diff < 1e-3
    assert fp32.f1 == pytest.approx(export.reference.f1)
    assert int8.size_bytes < fp32.size_bytes
    # the int8 graph (encoder linear layers only, per-channel weights) passes the F1 bound and is published
    assert int8.passed, int8.reason
    assert (runs / system / "onnx" / "model_quantized.onnx").is_file()
    assert (export.reference.f1 - int8.f1) * 100 <= ExportConfig().max_f1_drop
    assert export.reference.num_sentences >= 800
    assert export.settings.int8_scope == "encoder_linear"
    card = (runs / system / "model" / "README.md").read_text()
    assert "The int8 variant quantizes the encoder's linear layers only (dynamic int8, per-channel weights)" in card
    assert {"pytorch", "onnx"} <= {row.variant for row in export.benchmark.rows}


@pytest.mark.slow
def test_comparison_json(runs):
    comparison = json.loads((runs / "comparison.json").read_text())
    assert comparison["variants"] == ["A", "B"] and comparison["recipe"] == "multinerd"
    systems = comparison["systems"]
    assert systems["B"]["entity_types"] == SYSTEM_B_TYPES
    assert systems["A"]["test"]["f1"] == read_results(runs / "A").test.f1
    assert comparison["best"] == max(systems, key=lambda s: systems[s]["best_validation_f1"])
    assert (runs / "comparison.png").stat().st_size > 10_000


@pytest.mark.slow
def test_reload_from_run_folder_offline_in_fresh_process(runs, tmp_path):
    """The saved folder reloads with SpanMarkerModel.from_pretrained offline, from another working directory,
    and predicts what the recipe scored."""
    run = runs / "B"
    script = (
        "import json, sys\n"
        "from span_marker import SpanMarkerModel\n"
        "model = SpanMarkerModel.from_pretrained(sys.argv[1])\n"
        "print(json.dumps({'labels': sorted(model.config.label2id),\n"
        "                  'entities': model.predict(['patients', 'with', 'malaria', 'need', 'treatment'])}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(run / "model")], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["labels"] == sorted(["O", *SYSTEM_B_TYPES])
    assert all(entity["label"] in SYSTEM_B_TYPES for entity in out["entities"])


def spans(predictions: list[list[dict]]) -> list[list[tuple]]:
    return [[(e["label"], e["word_start_index"], e["word_end_index"]) for e in sentence] for sentence in predictions]


def text_spans(predictions: list[list[dict]]) -> list[list[tuple]]:
    """Entities of sentences given as text (character offsets instead of word indices)."""
    return [[(e["label"], e["span"], e["char_start_index"]) for e in entities] for entities in predictions]


@pytest.mark.slow
def test_saved_config_refers_to_its_own_folder(runs):
    model_dir = runs / "B" / "model"
    encoder = json.loads((model_dir / "config.json").read_text())["encoder"]
    assert (encoder["_name_or_path"], encoder["subfolder"]) == (str(model_dir.resolve()), "encoder")
    assert json.loads((model_dir / "encoder" / "config.json").read_text())["model_type"] == "bert"
    assert (model_dir / "tokenizer.json").is_file()
    with safe_open(model_dir / "model.safetensors", "pt") as weights:  # the O weight is not saved
        assert not any(key.startswith("loss_func") for key in weights.keys())


def test_config_for_repo_rewrites_only_self_referring_spanmarker_configs():
    config = {"model_type": "span-marker", "encoder": {"_name_or_path": "/old/model", "subfolder": "encoder",
                                                       "model_type": "bert"}}
    rewritten = json.loads(config_for_repo(json.dumps(config), "alice/tiny"))
    assert rewritten["encoder"] == {"_name_or_path": "alice/tiny", "subfolder": "encoder", "model_type": "bert"}
    assert config_for_repo(json.dumps({"model_type": "bert"}), "alice/tiny") is None
    hub_encoder = {"model_type": "span-marker", "encoder": {"_name_or_path": "bert-base-cased"}}
    assert config_for_repo(json.dumps(hub_encoder), "alice/tiny") is None


@pytest.mark.slow
def test_moved_folder_reloads_with_load_saved_spanmarker(runs, tmp_path):
    """A copy whose recorded place is gone: plain from_pretrained fails, load_saved_spanmarker finds the
    encoder in the copy and predicts what the original predicts."""
    moved = Path(shutil.copytree(runs / "B" / "model", tmp_path / "moved"))
    config = json.loads((moved / "config.json").read_text())
    config["encoder"]["_name_or_path"] = str(tmp_path / "gone" / "model")
    (moved / "config.json").write_text(json.dumps(config))
    with pytest.raises(OSError):
        SpanMarkerModel.from_pretrained(str(moved))
    model = load_saved_spanmarker(moved)
    assert model.config.encoder["_name_or_path"] == str(moved.resolve())
    original = SpanMarkerModel.from_pretrained(str(runs / "B" / "model"))
    assert spans(model.predict(SENTENCES)) == spans(original.predict(SENTENCES))


@pytest.mark.slow
def test_pushed_model_reloads_from_the_hub(runs, hub_server, hub_default_endpoint, tmp_path):
    """hubtools push uploads config.json naming the repo: a fresh client with only HF_ENDPOINT loads it with
    SpanMarkerModel.from_pretrained(repo_id) and predicts what the run folder predicts; pushing again
    commits nothing."""
    run, model_id = runs / "B", f"{hub_server.user}/multinerd-b-tiny"
    local_config = (run / "model" / "config.json").read_text()
    report = push_run(run, model_id, token=hub_server.write_token, endpoint=hub_server.endpoint)
    assert report.repos[0].commit is not None
    assert (run / "model" / "config.json").read_text() == local_config
    api = HfApi(endpoint=hub_server.endpoint, token=hub_server.write_token)
    assert {"config.json", "model.safetensors", "tokenizer.json", "encoder/config.json"} <= set(
        api.list_repo_files(model_id))
    again = push_run(run, model_id, token=hub_server.write_token, endpoint=hub_server.endpoint)
    assert again.repos[0].commit is None and not again.repos[0].changed

    code = (
        "import json\n"
        "from span_marker import SpanMarkerModel\n"
        f"model = SpanMarkerModel.from_pretrained({model_id!r})\n"
        "print(json.dumps({'encoder': model.config.encoder['_name_or_path'],\n"
        f"                  'predictions': model.predict({SENTENCES!r})}}))\n"
    )
    done = run_client(code, client_env(hub_server.endpoint, tmp_path, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["encoder"] == model_id
    assert any(spans(out["predictions"]))
    local = SpanMarkerModel.from_pretrained(str(run / "model"))
    assert spans(out["predictions"]) == spans(local.predict(SENTENCES))

    # the published card's ONNX snippet, as written, from the Hub: int8 graph, the same entities
    card = open(api.hf_hub_download(model_id, "README.md")).read()
    usage = card[card.index("span_marker has no ONNX path"):]
    snippet = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    assert f'snapshot_download("{model_id}"' in snippet and 'file_name="model_quantized.onnx"' in snippet
    test = [" ".join(words) for words in Dataset.from_parquet(str(run / "dataset" / "test.parquet"))["tokens"][:30]]
    code = f"import json\n{snippet}\nprint(json.dumps([runner.predict(text) for text in {test!r}]))"
    done = run_client(code, client_env(hub_server.endpoint, tmp_path / "onnx-client", OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-4000:]
    onnx_entities = text_spans(json.loads(done.stdout.strip().splitlines()[-1]))
    assert any(onnx_entities) and onnx_entities == text_spans([local.predict(text) for text in test])


def entity_spans(rows: list[dict]) -> list[list[tuple]]:
    """The entities of ``hubtools predict`` output rows as (type, start, end) word spans."""
    return [[(e["type"], e["start"], e["end"]) for e in row["entities"]] for row in rows]


def write_sentences(path: Path) -> Path:
    path.write_text("".join(" ".join(words) + "\n" for words in SENTENCES))
    return path


@pytest.mark.slow
def test_evaluate_and_predict_tag_a_run_folder_as_its_recipe_scored_it(runs, tmp_path, capsys):
    """The run's own test split: evaluate gives the run's test scores with PyTorch and each ONNX variant's
    verified F1; predict writes IOB2 tags whose entities are SpanMarkerModel.predict's spans; a model folder
    without results.json is known as a SpanMarker model by its config.json."""
    run = runs / "B"
    results = read_results(run)
    scores = {}
    for variant in ("pytorch", "onnx", "onnx_int8"):
        out = tmp_path / f"{variant}.json"
        assert main(["evaluate", str(run), "--variant", variant, "--output", str(out)]) == 0
        table = capsys.readouterr().out
        scores[variant] = json.loads(out.read_text())["scores"]
        assert f"{scores[variant]['f1']:6.4f}" in next(line for line in table.splitlines() if "overall" in line)
    assert abs(scores["pytorch"]["f1"] - results.test.f1) <= 1e-9
    assert scores["pytorch"] == to_dict(results.test)
    for variant in ("onnx", "onnx_int8"):
        assert scores[variant]["f1"] == pytest.approx(results.export.variant(variant).f1, abs=1e-6)
    assert read_results(run).evaluations == []  # its own split is not recorded

    out = tmp_path / "tagged.jsonl"
    assert main(["predict", str(run), "--text", str(write_sentences(tmp_path / "in.txt")), "--variant", "pytorch",
                 "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = spans(load_saved_spanmarker(run / "model").predict(SENTENCES))
    assert any(expected) and entity_spans(rows) == expected
    assert {tag for row in rows for tag in row["tags"]} <= set(results.dataset.label_names)

    moved = Path(shutil.copytree(run / "model", tmp_path / "model"))  # no results.json beside it
    source = resolve_model(str(moved))
    assert source.results is None and source.family == "span-marker"
    decoder = source.decoder()
    assert decoder.label_names == results.dataset.label_names
    tags = ids_to_tags(decoder.tag(Dataset.from_dict({"tokens": SENTENCES})), decoder.label_names)
    assert tags == [row["tags"] for row in rows]


@pytest.mark.slow
def test_evaluate_and_predict_a_pushed_spanmarker_repo(runs, hub_server, hub_default_endpoint, tmp_path):
    """The same run pushed to the test Hub and scored from its repo (a fresh client, the repo's files only): the
    run's test F1 with PyTorch, the int8 variant's verified F1, and predict's tags of the run folder."""
    run, model_id = runs / "B", f"{hub_server.user}/multinerd-b-evaluated"
    results = read_results(run)
    push_run(run, model_id, token=hub_server.write_token, endpoint=hub_server.endpoint)
    environment = client_env(hub_server.endpoint, tmp_path, HF_TOKEN=hub_server.read_token,
                             HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")

    def hubtools(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hubtools", *args], env=environment, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)

    scores = {}
    for variant in ("pytorch", "onnx_int8"):
        out = tmp_path / f"{variant}.json"
        proc = hubtools("evaluate", model_id, "--data", str(run / "dataset"), "--variant", variant, "--output",
                        str(out))
        assert proc.returncode == 0, proc.stderr[-3000:]
        evaluation = json.loads(out.read_text())
        assert evaluation["model"] == model_id and evaluation["split"] == results.test.split
        scores[variant] = evaluation["scores"]["f1"]
    assert abs(scores["pytorch"] - results.test.f1) <= 1e-9
    assert scores["onnx_int8"] == pytest.approx(results.export.variant("onnx_int8").f1, abs=1e-6)

    out = tmp_path / "tagged.jsonl"
    proc = hubtools("predict", model_id, "--text", str(write_sentences(tmp_path / "in.txt")), "--variant",
                    "pytorch", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert entity_spans(rows) == spans(load_saved_spanmarker(run / "model").predict(SENTENCES))
