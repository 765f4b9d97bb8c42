"""``hubtools predict``: a text file and a dataset tagged by a tiny model folder, JSON lines out, the output
format (tags, word and character spans), long sentences windowed, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset
from tiny_ner import LABELS, ner_dataset, save_tiny_model

from hubtools.cli import main
from hubtools.errors import UsageError
from hubtools.metrics import ids_to_tags
from hubtools.prediction import entities
from hubtools.tagging import resolve_model, variant_file


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_entities_carry_word_and_character_spans():
    tokens, tags = ["Ann", "Lee", "met", "Bo", "in", "Kyiv"], ["B-PER", "I-PER", "O", "I-PER", "O", "B-LOC"]
    offsets = [(0, 3), (4, 7), (8, 11), (12, 14), (15, 17), (19, 23)]
    assert entities(tokens, tags, offsets) == [
        {"type": "PER", "start": 0, "end": 2, "text": "Ann Lee", "start_char": 0, "end_char": 7},
        {"type": "PER", "start": 3, "end": 4, "text": "Bo", "start_char": 12, "end_char": 14},
        {"type": "LOC", "start": 5, "end": 6, "text": "Kyiv", "start_char": 19, "end_char": 23}]
    assert entities(tokens, ["O"] * 6) == []


def run(*args: str) -> None:
    assert main(["predict", *args]) == 0


def test_a_text_file_is_tagged_line_by_line(tiny_model, tmp_path):
    text = tmp_path / "in.txt"
    long_line = " ".join(["Alice visited Paris"] * 40)  # past the tiny model's 64 positions: windowed
    text.write_text(f"Alice Smith lives in  Paris\n\n{long_line}\n")
    out = tmp_path / "out.jsonl"
    run(str(tiny_model), "--text", str(text), "--output", str(out), "--variant", "pytorch")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 3] and rows[0]["tokens"] == ["Alice", "Smith", "lives", "in", "Paris"]
    assert [len(r["tags"]) for r in rows] == [5, 120]
    source = resolve_model(str(tiny_model))
    assert rows[1]["tags"] == ids_to_tags(source.decoder().tag(_tokens_dataset([long_line.split()])), LABELS)[0]
    for row in rows:
        for entity in row["entities"]:
            assert row["text"][entity["start_char"]:entity["end_char"]] == entity["text"]


def _tokens_dataset(sentences):
    return Dataset.from_dict({"tokens": sentences})


def test_a_dataset_is_tagged_split_by_split(tiny_model, tmp_path):
    folder = tmp_path / "data"
    for split, ds in ner_dataset().items():
        folder.mkdir(exist_ok=True)
        ds.to_parquet(str(folder / f"{split}.parquet"))
    out = tmp_path / "out.jsonl"
    run(str(tiny_model), "--data", str(folder), "--output", str(out), "--variant", "pytorch", "--split", "train")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["split"], r["index"]) for r in rows] == [("train", 0), ("train", 1)]
    assert rows[1]["tokens"] == ner_dataset()["train"][1]["tokens"]
    run(str(tiny_model), "--data", str(folder), "--output", str(out), "--variant", "pytorch")
    assert [json.loads(line)["split"] for line in out.read_text().splitlines()] == [
        "train", "train", "validation", "test"]


def test_bad_input_fails_in_one_line(tiny_model, tmp_path, capsys):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n")
    cases = [
        (["--text", str(blank), "--variant", "pytorch"], f"--text {blank}: no sentence (every line is blank)"),
        (["--text", str(blank)], f"--variant onnx_int8: {tiny_model} has no onnx/model_quantized.onnx"),
        (["--data", "generate:conll2003", "--split", "dev", "--variant", "pytorch"],
         "--split 'dev': --data generate:conll2003 has the splits train, validation, test"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["predict", str(tiny_model), *args, "--output", str(tmp_path / "out.jsonl")])
        stderr = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and stderr[-1].startswith(f"hubtools predict: error: {message}"), stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.slow
def test_the_int8_file_by_default_tags_as_its_export_verified_it(exported_finer_run, tmp_path):
    """``hubtools predict RUN --data SRC``: the published int8 file by default, and its tags score on the run's
    test split exactly the F1 the export measured for it."""
    from hubtools.metrics import entity_scores
    from hubtools.run import read_results

    out = tmp_path / "test.jsonl"
    run(str(exported_finer_run), "--data", str(exported_finer_run / "dataset"), "--split", "test", "--output",
        str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    results = read_results(exported_finer_run)
    test = Dataset.from_parquet(str(exported_finer_run / "dataset" / "test.parquet"))
    assert [r["tokens"] for r in rows] == test["tokens"]
    gold = ids_to_tags(test["ner_tags"], results.dataset.label_names)
    f1 = entity_scores(gold, [r["tags"] for r in rows])["f1"]
    assert round(f1, 6) == results.export.variant("onnx_int8").f1


def test_a_variant_is_the_file_its_family_exports_and_another_is_refused():
    """Without a results.json listing the files, a variant is the file name the family's exporter gives it; a
    variant that family does not export is refused, naming the ones it does."""
    assert variant_file("token-classification", "onnx_int8_embeddings", "m") == "model_quantized_embeddings.onnx"
    assert variant_file("span-marker", "onnx_int8", "m") == "model_quantized.onnx"
    assert variant_file("rnn-tagger", "onnx", "m") == "model.onnx"
    with pytest.raises(UsageError, match=r"^--variant onnx_int8: m is a rnn-tagger model; its exporter writes the "
                                         r"variants onnx$"):
        variant_file("rnn-tagger", "onnx_int8", "m")
    with pytest.raises(UsageError, match=r"^--variant onnx_int8_embeddings: m is a span-marker model; its exporter "
                                         r"writes the variants onnx, onnx_int8$"):
        variant_file("span-marker", "onnx_int8_embeddings", "m")
