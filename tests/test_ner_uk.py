"""ner_uk recipe: tiny end-to-end runs of the three cells, remote-code reload, pipeline, ONNX parity, the
comparison report, configuration checks, and the ner-uk data sources (generator, brat folder, IOB files)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from recipe_runs import ROOT, load_module
from safetensors.torch import load_file

from hubtools.config import DataConfig
from hubtools.data.build import build_dataset
from hubtools.data.generate_ner_uk import NER_UK_LABELS, generate_ner_uk
from hubtools.data.loading import load_local
from hubtools.errors import ConfigError
from hubtools.families.rnn_tagger.model import build_tagger
from hubtools.families.rnn_tagger.recipe import RnnTaggerRecipe
from hubtools.recipe.cli import recipe_parser, variant_configs
from hubtools.run import read_results

CONFIG = ROOT / "recipes" / "configs" / "ner_uk.yaml"
CELLS = ("rnn", "gru", "lstm")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
SENTENCE = "Тарас Шевченко приїхав до міста Харків у 1999 році ."

RELOAD = """
import json, sys
from transformers import AutoModelForTokenClassification, pipeline
out = {}
for path in sys.argv[2:]:
    model = AutoModelForTokenClassification.from_pretrained(path, trust_remote_code=True)
    ner = pipeline("ner", model=path, trust_remote_code=True, aggregation_strategy="simple")
    out[path] = {"module": type(model).__module__, "entities": [
        {k: e[k] for k in ("entity_group", "word", "start", "end")} for e in ner(sys.argv[1])]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """``recipes/ner_uk.py --preset tiny --compare rnn,gru,lstm``: one tiny run per cell, then the reload of
    every RUN/model in a fresh process (remote code, pipeline)."""
    out = tmp_path_factory.mktemp("ner_uk") / "compare"
    subprocess.run([sys.executable, str(ROOT / "recipes" / "ner_uk.py"), "--preset", "tiny", "--compare",
                    ",".join(CELLS), "--output-dir", str(out)], env={**ENV, "HF_MODULES_CACHE": str(out / "m")},
                   check=True, capture_output=True, cwd=ROOT)
    reload = subprocess.run([sys.executable, "-c", RELOAD, SENTENCE, *(str(out / c / "model") for c in CELLS)],
                            env={**ENV, "HF_MODULES_CACHE": str(out / "m")}, check=True, capture_output=True,
                            text=True)
    return out, json.loads(reload.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_tiny_run_results_and_export(compared, cell):
    run = compared[0] / cell
    results = read_results(run)
    assert results.recipe == "ner_uk" and results.system == cell
    assert results.model.architecture == "RnnTaggerForTokenClassification" and results.model.remote_code
    assert results.test.f1 > 0.6  # the generated task is learnable in 3 epochs
    assert set(results.test.per_type) == {"PERS", "ORG", "LOC", "MISC"}
    legacy = results.extra_scores["legacy"].values["per_class_mean"]
    assert 0 < legacy < results.test.f1  # the legacy score hides what the model does
    export = results.export
    onnx = export.variant("onnx")
    assert export.exporter == "rnn-onnx" and export.reference.f1 == pytest.approx(results.test.f1, abs=1e-6)
    assert onnx.passed and onnx.agreement == 1.0 and onnx.max_abs_logit_diff < 1e-4
    assert onnx.f1 == pytest.approx(results.test.f1, abs=1e-6)  # verified on every test word, like the others
    assert onnx.file == "onnx/model.onnx"
    assert {row.variant for row in export.benchmark.rows} == {"pytorch", "onnx"}
    card = (run / "model" / "README.md").read_text()
    assert "[model.onnx](onnx/model.onnx)" in card and "| legacy | hubtools.families.rnn_tagger.legacy_metric" in card
    assert "Every entity type of the source." in (run / "dataset" / "README.md").read_text()
    assert (run / "onnx" / "model.onnx").stat().st_size == onnx.size_bytes
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["cell"] == cell and config["auto_map"]["AutoModelForTokenClassification"] == (
        "modeling_rnn_tagger.RnnTaggerForTokenClassification")
    assert (run / "model" / "modeling_rnn_tagger.py").is_file() and not (run / "checkpoints").exists()
    # the recipe's character encoder is on: every piece is spelled in the saved weights
    assert config["char_embedding_dim"] > 0
    chars = load_file(run / "model" / "model.safetensors")["chars.token_chars"]
    assert chars.shape == (config["vocab_size"], config["max_token_chars"]) and chars[2:].gt(0).any(dim=1).all()


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_vocabulary_is_built_from_train_only(compared, cell):
    run = compared[0] / cell
    vocab = json.loads((run / "model" / "tokenizer.json").read_text())["model"]["vocab"]
    words = {s: {w for row in pq.read_table(run / "dataset" / f"{s}.parquet").column("tokens").to_pylist()
                 for w in row} for s in ("train", "test")}
    assert set(vocab) - {"[PAD]", "[UNK]"} == words["train"]  # every generated token is one piece
    assert words["test"] - words["train"]  # test-only words exist, and none of them entered the vocabulary
    assert read_results(run).model.vocab_size == len(vocab)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_reload_with_remote_code_and_pipeline(compared, cell):
    reloaded = compared[1][str(compared[0] / cell / "model")]
    assert not reloaded["module"].startswith("hubtools")  # the code copied next to the weights
    for entity in reloaded["entities"]:
        assert SENTENCE[entity["start"]:entity["end"]] == entity["word"]
    assert ("LOC", "Харків") in {(e["entity_group"], e["word"]) for e in reloaded["entities"]}


@pytest.mark.slow
def test_a_copied_run_is_evaluated_without_running_its_code(compared, tmp_path):
    """``hubtools evaluate`` of a run folder whose modeling_rnn_tagger.py was changed to write a file: scored with
    the installed classes, no --trust-remote-code needed, the file never written."""
    run, marker = Path(shutil.copytree(compared[0] / "rnn", tmp_path / "copied")), tmp_path / "planted-ran"
    code = run / "model" / "modeling_rnn_tagger.py"
    code.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + code.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "hubtools", "evaluate", str(run), "--no-record"], text=True,
                          capture_output=True, env={**ENV, "HF_MODULES_CACHE": str(tmp_path / "m")}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    overall = next(line for line in proc.stdout.splitlines() if line.startswith("overall (micro)"))
    assert not marker.exists() and overall.split()[4] == f"{read_results(run).test.f1:.4f}"
    assert "--trust-remote-code runs the folder's own code instead" in proc.stderr


@pytest.mark.slow
def test_comparison_report(compared):
    out = compared[0]
    report = json.loads((out / "comparison.json").read_text())
    rows = report["systems"]
    assert report["variants"] == list(CELLS) and set(rows) == set(CELLS)
    assert report["best"] == max(rows, key=lambda c: rows[c]["best_validation_f1"])
    for cell, row in rows.items():
        assert row["epochs"] == 3.0 and row["train_s_per_epoch"] > 0 and row["run"] == cell
        assert 0 < row["extra_scores"]["legacy"]["per_class_mean"] < 1
    assert (out / "comparison.png").stat().st_size > 10_000


def test_weight_averaging_run(tmp_path):
    """The weights of the last two epochs averaged: results.json ``averaging`` (kept when validation agrees), the
    test F1 of the weights not kept, and the card section."""
    out = tmp_path / "run"
    subprocess.run([sys.executable, str(ROOT / "recipes" / "ner_uk.py"), "--preset", "tiny", "--cell", "gru",
                    "--output-dir", str(out), "--no-export", "options.average_last=2"],
                   env={**ENV, "HF_MODULES_CACHE": str(tmp_path / "m")}, check=True, capture_output=True, cwd=ROOT)
    results = read_results(out)
    averaging = results.averaging
    assert averaging.epochs == [2, 3] and averaging.metric == "f1" and results.card_sections == ["averaging"]
    assert averaging.kept == (averaging.averaged_validation >= averaging.best_checkpoint_validation)
    assert averaging.best_checkpoint_validation == pytest.approx(
        max(h.f1 for h in results.training.history if h.f1 is not None))
    assert 0 <= averaging.test_f1_not_kept <= 1
    card = (out / "model" / "README.md").read_text()
    assert "## Weight averaging" in card and f"| best checkpoint | {averaging.best_checkpoint_validation:.4f} |" in card


# --- configuration -----------------------------------------------------------------------------------


def configs(*argv: str) -> dict:
    """The configurations ``recipes/ner_uk.py ARGV`` would run, by cell."""
    recipe = load_module("recipes/ner_uk.py")
    parser = recipe_parser("ner_uk")
    recipe.CELL.add_arguments(parser)
    args = parser.parse_args(list(argv))
    return variant_configs(RnnTaggerRecipe, args, CONFIG, recipe.CELL, recipe.CELL.selected(parser, args))


def test_cell_and_compare_arguments():
    one = configs("--cell", "lstm", "--preset", "tiny")
    assert list(one) == ["lstm"] and one["lstm"].system == "lstm" and one["lstm"].output_dir == "runs/ner-uk-tiny"
    assert configs()["gru"].output_dir == "runs/ner-uk"  # the configuration's own cell
    compared = configs("--compare", "rnn,gru", "--output-dir", "out")
    assert {cell: cfg.output_dir for cell, cfg in compared.items()} == {"rnn": "out/rnn", "gru": "out/gru"}
    RnnTaggerRecipe(one["lstm"])


@pytest.mark.parametrize(("override", "message"), [
    ("system=transformer", "system \\(the cell"),
    ("model.from_scratch.cell=gru", "the cell is set by system"),
    ("options.scheduler=warmup", "options.scheduler must be one of"),
    ("options.min_frequncy=2", "unknown key\\(s\\) in options"),
    ("options.average_last=-1", "options.average_last must be 0"),
])
def test_bad_configuration_is_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        RnnTaggerRecipe(RnnTaggerRecipe.load_config(CONFIG, "tiny", [override]))


@pytest.mark.parametrize(("scheduler", "expected"), [("onecycle", 28), ("multistep", [14, 21])])
def test_scheduler_is_sized_to_optimizer_steps(scheduler, expected):
    cfg = RnnTaggerRecipe.load_config(CONFIG, "tiny", [f"options.scheduler={scheduler}", "training.num_train_epochs=4",
                                                       "training.per_device_train_batch_size=16"])
    recipe = RnnTaggerRecipe(cfg)
    model, _ = build_tagger(recipe.cfg, NER_UK_LABELS, generate_ner_uk(100)["train"]["tokens"])
    _, sched = recipe.optimizers(model, 100)
    # 100 rows / 16 = 7 steps per epoch, 4 epochs; multistep at epochs 2 and 3
    assert (sched.total_steps if scheduler == "onecycle" else sorted(sched.milestones)) == expected


# --- data sources --------------------------------------------------------------------------------------


def test_generator_schema_and_determinism():
    dsd = generate_ner_uk(50, seed=3)
    assert dsd["train"].features["ner_tags"].feature.names == NER_UK_LABELS
    assert [len(d) for d in dsd.values()] == [40, 5, 5]
    assert dsd["train"]["tokens"] == generate_ner_uk(50, seed=3)["train"]["tokens"]
    assert dsd["train"]["tokens"] != generate_ner_uk(50, seed=4)["train"]["tokens"]


def test_brat_folder_with_split_file_is_a_source(tmp_path):
    docs = {"a": ("Тарас живе у Києві .\n" + "Він пише .\n" * 9, "T1\tPERS 0 5\tТарас\nT2\tLOC 13 18\tКиєві\n"),
            "b": ("Марія поїхала до Львова .\n", "T1\tPERS 0 5\tМарія\nT2\tLOC 17 23\tЛьвова\n")}
    for name, (txt, ann) in docs.items():
        (tmp_path / f"{name}.tok.txt").write_text(txt, encoding="utf-8")
        (tmp_path / f"{name}.tok.ann").write_text(ann, encoding="utf-8")
    (tmp_path / "dev-test-split.txt").write_text("DEV\na.tok\nTEST\nb.tok\n", encoding="utf-8")
    dsd, info = build_dataset(DataConfig(source=str(tmp_path), split_ratios=None))
    assert info.label_names == ["O", "B-LOC", "I-LOC", "B-PERS", "I-PERS"]
    assert info.splits == {"train": 9, "validation": 1, "test": 1}  # validation carved from train
    assert dsd["test"][0] == {"tokens": ["Марія", "поїхала", "до", "Львова", "."], "ner_tags": [3, 0, 0, 1, 0],
                              "document_id": "test/b.tok", "sentence_id": 0}  # brat documents are kept


def test_v2_iob_file_names_map_to_splits(tmp_path):
    (tmp_path / "train.iob").write_text("Київ B-LOC\n. O\n\n\n\nЯ O\n", encoding="utf-8")
    (tmp_path / "test.iob").write_text("Тарас B-PERS\n", encoding="utf-8")
    dsd = load_local(tmp_path)
    assert sorted(dsd) == ["test", "train"] and len(dsd["train"]) == 2
    assert dsd["test"].features["ner_tags"].feature.names == ["O", "B-LOC", "I-LOC", "B-PERS", "I-PERS"]


def test_factory_spells_the_vocabulary_for_the_character_encoder():
    def tagger(*overrides: str):
        recipe = RnnTaggerRecipe(RnnTaggerRecipe.load_config(CONFIG, "tiny", list(overrides)))
        return build_tagger(recipe.cfg, NER_UK_LABELS, generate_ner_uk(100)["train"]["tokens"])

    model, tokenizer = tagger("model.from_scratch.char_embedding_dim=8", "options.tokenizer=wordpiece",
                              "options.subword_vocab_size=300", "model.from_scratch.token_dropout=0.05")
    assert model.config.unk_token_id == tokenizer.unk_token_id and model.config.token_dropout == 0.05
    table = model.chars.token_chars
    assert table.shape == (len(tokenizer), model.config.max_token_chars)
    piece = next(t for t in tokenizer.get_vocab() if t.startswith("##") and len(t) > 3)
    spelled = table[tokenizer.convert_tokens_to_ids(piece)]
    assert spelled[0] == 1 and spelled[1: len(piece) - 1].gt(1).all() and spelled[len(piece) - 1:].eq(0).all()
    off, _ = tagger("model.from_scratch.char_embedding_dim=0")
    assert off.chars is None and "chars.token_chars" not in off.state_dict()


# --- document context ------------------------------------------------------------------------------------


def _brat_documents(folder: Path) -> Path:
    """Three small brat documents (two DEV, one TEST) whose sentences repeat names across lines."""
    folder.mkdir(parents=True, exist_ok=True)
    people = ["Тарас Шевченко", "Леся Українка", "Іван Франко", "Марко Вовчок"]
    cities = ["Києві", "Львові", "Харкові", "Одесі"]
    for d, name in enumerate(["a.tok", "b.tok", "c.tok"]):
        lines, ann = [], []
        offset = 0
        for i in range(12):
            person, city = people[(d + i) % 4], cities[(d * 3 + i) % 4]
            line = f"{person} приїхав у {city} ." if i % 3 else f"Він писав про {city} ."
            start = line.index(city)
            ann.append(f"T{len(ann) + 1}\tLOC {offset + start} {offset + start + len(city)}\t{city}")
            if i % 3:
                ann.append(f"T{len(ann) + 1}\tPERS {offset} {offset + len(person)}\t{person}")
            lines.append(line)
            offset += len(line) + 1
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / f"{name}.ann").write_text("\n".join(ann) + "\n", encoding="utf-8")
    (folder / "dev-test-split.txt").write_text("DEV\na.tok\nb.tok\nTEST\nc.tok\n", encoding="utf-8")
    return folder


def test_document_context_feature_rows(tmp_path):
    """model.document_context in the rnn recipe is the shared hubtools.families.token_classification.features:
    training rows are runs of
    consecutive sentences of one document within the budget, every word labelled once; a test sentence keeps its
    own labels and words, its neighbours are read but never labelled."""
    from hubtools.tokenization import IGNORE

    source = _brat_documents(tmp_path)
    recipe = RnnTaggerRecipe(RnnTaggerRecipe.load_config(CONFIG, "tiny", [f"data.source={source}",
                                                                          "model.document_context=24"]))
    data = recipe.load_data()
    built = recipe.build_model(data)
    features = recipe.featurize(data, built)
    assert features.context == 24 and built.tokenizer.num_special_tokens_to_add(pair=False) == 0
    alone = {split: recipe.tokenize(ds, built, split, pool=None) for split, ds in data.splits.items()}
    train = features["train"]
    assert len(train) < len(alone["train"]) and max(len(r) for r in train["input_ids"]) <= 24
    assert max(len(r) for r in train["input_ids"]) > max(len(r) for r in alone["train"]["input_ids"])
    assert [x for r in train["labels"] for x in r] == [x for r in alone["train"]["labels"] for x in r]
    documents = data.splits["train"]["document_id"]
    sentences = data.splits["train"]["sentence_id"]
    starts = train["example_index"]
    for first, following in zip(starts, [*starts[1:], len(documents)], strict=True):
        assert len(set(documents[first:following])) == 1  # one document, its sentences in order
        assert sentences[first:following] == sorted(sentences[first:following])
    for before, after, position in zip(alone["test"], features["test"], data.splits["test"]["sentence_id"],
                                       strict=True):
        assert [x for x in after["labels"] if x != IGNORE] == [x for x in before["labels"] if x != IGNORE]
        assert [x for x in after["word_index"] if x != IGNORE] == [x for x in before["word_index"] if x != IGNORE]
        assert len(after["input_ids"]) <= 24 and after["example_index"] == before["example_index"]
        if position:  # not the first sentence: the previous one is read before it
            assert len(after["input_ids"]) > len(before["input_ids"]) and after["labels"][0] == IGNORE


def test_document_context_and_averaging_run(tmp_path):
    """A tiny run with document context (the test split also scored sentence by sentence, the export verified
    with context) and the weights of the last two epochs averaged."""
    source = _brat_documents(tmp_path / "data")
    out = tmp_path / "run"
    subprocess.run([sys.executable, str(ROOT / "recipes" / "ner_uk.py"), "--preset", "tiny", "--cell", "gru",
                    "--output-dir", str(out), f"data.source={source}", "model.document_context=40",
                    "options.average_last=2", "model.from_scratch.word_units=true"],
                   env={**ENV, "HF_MODULES_CACHE": str(tmp_path / "m")}, check=True, capture_output=True, cwd=ROOT)
    results = read_results(out)
    assert results.model.document_context == 40 and results.test.num_sentences == 12
    alone = results.extra_scores["sentences_alone"]
    assert set(alone.values) == {"precision", "recall", "f1"} and "without its document context" in alone.definition
    assert results.averaging.epochs == [2, 3] and 0 <= results.averaging.test_f1_not_kept <= 1
    onnx = results.export.variant("onnx")  # the exporter reads the test split with the same context
    assert onnx.passed and onnx.f1 == pytest.approx(results.test.f1, abs=1e-6)
    assert "| sentences_alone |" in (out / "model" / "README.md").read_text()


# --- scripts/bench_ner_uk.py --------------------------------------------------------------------------------


def test_bench_script_runs_seeds_and_prints_the_table(tmp_path):
    """Cells x seeds one after the other, the side-by-side table, finished runs read again, --report-only."""
    out = tmp_path / "bench"
    command = [sys.executable, str(ROOT / "scripts" / "bench_ner_uk.py"), "--data", "generate:ner-uk", "--preset",
               "tiny", "--cells", "gru", "--seeds", "1,2", "--output-dir", str(out), "training.num_train_epochs=1"]
    env = {**ENV, "HF_MODULES_CACHE": str(tmp_path / "m")}
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    report = json.loads((out / "bench.json").read_text())
    (group,) = report["groups"]
    assert group["cell"] == "gru" and group["seeds"] == [1, 2] and len(group["test_f1"]["values"]) == 2
    runs = {r["seed"]: read_results(Path(r["run"])) for r in group["runs"]}
    assert runs[1].config["training"]["seed"] == 1 and runs[2].config["training"]["seed"] == 2
    assert group["test_f1"]["mean"] == pytest.approx((runs[1].test.f1 + runs[2].test.f1) / 2, abs=1e-4)
    assert group["test_sentences_alone_f1"] is None  # the tiny preset reads sentences alone
    assert all(r["averaged_weights_kept"] is not None for r in group["runs"])  # ner_uk.yaml averages
    assert "test F1" in done.stdout and report["cpu"] in done.stdout and "[bench]" in done.stdout
    again = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    assert "[bench]" not in again.stdout  # finished runs are read, not trained again
    only = subprocess.run([*command[:-2], str(tmp_path / "none"), "--report-only"], env=env, check=True,
                          capture_output=True, text=True, cwd=ROOT)
    assert "[bench]" not in only.stdout and json.loads((tmp_path / "none" / "bench.json").read_text())["groups"] == []
