"""recipes/ner.py: your own data and encoder, end to end on generated data; document context that decides a
type; a dataset without a test split; the metadata taken from the data and the encoder."""

from __future__ import annotations

import json
import re

import pytest
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from helpers import write_documents
from recipe_runs import ROOT, run_recipe
from tiny_ner import save_tiny_model
from transformers import AutoTokenizer

from hubtools.cards import check_cards
from hubtools.metadata import card_metadata, derived_language, widget_sentences
from hubtools.run import read_results

SEED_WORDING = re.compile(r"financ|xbrl|finer|filing|multinerd|few-nerd|ukrain", re.IGNORECASE)

@pytest.mark.slow
def test_generic_recipe_tiny_preset_publishes_the_datas_own_card(tmp_path):
    run = tmp_path / "ner-tiny"
    console = run_recipe("ner", run)
    # one readable line per validation pass, not transformers' raw log dicts
    epochs = re.findall(r"^epoch (\d+): validation F1 0\.\d{4} \(precision 0\.\d{4}, recall 0\.\d{4}\), loss ",
                        console.stdout, re.M)
    assert epochs == ["1", "2", "3", "4"], console.stdout
    assert "'eval_loss'" not in console.stdout + console.stderr and "'grad_norm'" not in console.stdout
    assert "hubtools: ner (ner-tiny): data conll2003-generated: train 2,400" in console.stderr
    results = read_results(run)
    assert results.recipe == "ner" and results.dataset.name == "conll2003-generated"
    assert results.test.f1 >= 0.5 and results.export.passed
    card = (run / "model" / "README.md").read_text()
    assert not SEED_WORDING.search(card), SEED_WORDING.search(card)
    assert "# bert-conll2003-generated" in card
    test = Dataset.from_parquet(str(run / "dataset" / "test.parquet"))
    test_sentences = {" ".join(tokens) for tokens in test["tokens"]}
    assert results.publish.widget and set(results.publish.widget) <= test_sentences
    for text in results.publish.widget:
        assert f"- text: {text}" in card.replace("\n    ", " ")
    assert check_cards(run) == []


@pytest.mark.slow
def test_document_context_decides_the_type_and_context_words_are_never_scored(tmp_path):
    data = write_documents(tmp_path / "docs", {"train": 500, "validation": 60, "test": 80})
    run = tmp_path / "ctx"
    run_recipe("ner", run, "--data", str(data), "--no-export", "model.document_context=48",
               "training.num_train_epochs=6", "training.max_tokens_per_batch=256")
    results = read_results(run)
    test = Dataset.from_parquet(str(run / "dataset" / "test.parquet"))
    assert results.test.num_words == sum(len(tokens) for tokens in test["tokens"])  # own words only
    assert results.model.document_context == 48
    alone = results.extra_scores["sentences_alone"].values["f1"]
    assert results.test.f1 >= 0.9, results.test
    assert alone <= 0.75, alone  # read alone, the type of the name is a guess
    # the validation pass after each epoch read runs of sentences (the recipe's default): context enough to
    # pick a checkpoint that reads the test in context well
    assert results.training.validation_rows == "runs" and results.training.best_validation_f1 >= 0.85
    card = (run / "model" / "README.md").read_text()
    assert "Document context | up to 48 sub-tokens" in card
    assert "validation scores after each epoch read the validation split as the training rows" in card


@pytest.mark.slow
def test_a_dataset_without_test_split_is_scored_on_validation_and_says_so(tmp_path):
    data = write_documents(tmp_path / "docs", {"train": 200})
    run = tmp_path / "notest"
    run_recipe("ner", run, "--data", str(data), "--no-export", "training.num_train_epochs=1")
    results = read_results(run)
    assert results.training.validation_rows == "runs"
    assert results.test.split == "validation" and "test" not in results.dataset.splits
    assert results.dataset.splits["validation"] == 40  # 10 % of the 400 sentences, carved
    card = (run / "model" / "README.md").read_text()
    assert "on its validation split" in card and "the dataset has no test split" in card
    assert "split: validation" in card and "name: Validation F1" in card
    assert check_cards(run) == []


def test_language_comes_from_the_encoders_card_when_the_data_has_none(tmp_path):
    encoder = save_tiny_model(tmp_path / "encoder")
    assert derived_language({}, card_metadata(str(encoder), "model")) == ["en"]
    assert derived_language({"language": ["uk"]}, {"language": "en"}) == ["uk"]
    assert card_metadata(str(tmp_path / "nothing"), "model") == {}


def test_widget_sentences_show_every_type_with_real_sentences():
    features = Features({"tokens": Sequence(Value("string")),
                         "ner_tags": Sequence(ClassLabel(names=["O", "B-A", "I-A", "B-B", "I-B"]))})
    rows = [(["x"] * 6, [0] * 6), (["a"] * 6, [1, 2, 0, 0, 0, 0]), (["b"] * 6, [3, 0, 0, 0, 0, 0]),
            (["ab"] * 6, [1, 0, 3, 0, 0, 0]), (["short"], [1])]
    ds = Dataset.from_dict({"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]}, features=features)
    chosen = widget_sentences(ds, count=2)
    assert chosen[0] == "ab ab ab ab ab ab"  # both types at once
    assert len(chosen) == 2 and "x x x x x x" not in chosen and "short" not in chosen


def test_the_generic_recipe_configuration_names_no_seed_system():
    for name in ("ner.yaml", "ner-tiny.yaml"):
        text = (ROOT / "recipes" / "configs" / name).read_text()
        assert not SEED_WORDING.search(text)


@pytest.mark.slow
def test_frozen_embeddings_stay_as_pretrained_while_the_rest_learns(tmp_path):
    from safetensors.torch import load_file

    encoder = save_tiny_model(tmp_path / "encoder")
    data = write_documents(tmp_path / "docs", {"train": 100, "test": 20})
    run = tmp_path / "frozen"
    run_recipe("ner", run, "--data", str(data), "--model", str(encoder), "--no-export", "model.from_scratch=null",
               "model.reset_head=true", "model.freeze_embeddings=true", "model.attention_dropout=0",
               "model.case_tokens=true", "training.num_train_epochs=1")
    before, after = load_file(encoder / "model.safetensors"), load_file(run / "model" / "model.safetensors")
    name = "distilbert.embeddings.word_embeddings.weight"
    # the encoder's tokenizer lowercases: model.case_tokens (ner.yaml's default) appended cased pieces to its own
    results = json.loads((run / "results.json").read_text())
    added = results["model"]["case_tokens"]
    assert added > 0 and after[name].shape[0] == before[name].shape[0] + added
    assert (before[name] == after[name][:before[name].shape[0]]).all()
    uncased, cased = AutoTokenizer.from_pretrained(encoder), AutoTokenizer.from_pretrained(run / "model")
    word = next(piece for piece in uncased.get_vocab() if piece.isalpha() and len(piece) > 2).capitalize()
    assert uncased.tokenize(word) == [word.lower()] and cased.tokenize(word) == [word]
    assert f"{added} cased pieces" in (run / "model" / "README.md").read_text()
    layer = "distilbert.transformer.layer.0.ffn.lin1.weight"
    assert not (before[layer] == after[layer]).all()
    # the card's hyperparameters and the saved config say what was changed in the encoder
    hyperparameters = results["training"]["hyperparameters"]
    assert hyperparameters["freeze_embeddings"] is True and hyperparameters["attention_dropout"] == 0
    assert hyperparameters["case_tokens"] is True
    assert "hidden_dropout" not in hyperparameters and "attention_implementation" not in hyperparameters
    assert json.loads((run / "model" / "config.json").read_text())["attention_dropout"] == 0


@pytest.mark.slow
def test_case_tokens_leave_an_encoder_that_keeps_case_as_it_is(tmp_path):
    import torch
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    from hubtools.families.token_classification.model import train_wordpiece_tokenizer

    data = write_documents(tmp_path / "docs", {"train": 60, "test": 10})
    tokenizer = train_wordpiece_tokenizer([d.split() for d in (data / "train.txt").read_text().splitlines()],
                                          vocab_size=150, lowercase=False)
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=16, hidden_dim=32, n_layers=1, n_heads=2,
                              max_position_embeddings=64)
    DistilBertForTokenClassification(config).save_pretrained(tmp_path / "cased")
    tokenizer.save_pretrained(tmp_path / "cased")
    run = tmp_path / "run"
    proc = run_recipe("ner", run, "--data", str(data), "--model", str(tmp_path / "cased"), "--no-export",
                      "model.from_scratch=null", "model.reset_head=true", "model.case_tokens=true",
                      "training.num_train_epochs=1")
    assert "model.case_tokens: " in proc.stderr and "is left as it is: its tokenizer does not lowercase" in proc.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["model"]["case_tokens"] == 0 and results["model"]["vocab_size"] == len(tokenizer)
    assert "case_tokens" not in results["training"]["hyperparameters"]
    assert "| Case |" not in (run / "model" / "README.md").read_text()
