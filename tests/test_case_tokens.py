"""Cased pieces for an uncased encoder (hubtools.families.token_classification.case_tokens): the tokenizer keeps case,
every original piece
keeps its id and embedding, each cased piece is its lowercase piece plus one direction per form, and the saved
checkpoint loads as a plain one in transformers and in Transformers.js."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from helpers import tiny_tokenizer
from tokenizers import normalizers
from transformers import AutoModelForTokenClassification, AutoTokenizer, DistilBertConfig, pipeline
from transformers_js import JS_DIR, require_transformers_js

from hubtools.families.token_classification.case_tokens import add_case_tokens, cased_forms, why_not_cased
from hubtools.families.token_classification.model import train_wordpiece_tokenizer

TEXT = ["Boeing", "and", "BOEING", "met", "boeing", "in", "Café", "Berlin", "McBerlin"]


def tiny_pair(lowercase: bool = True):
    tokenizer = train_wordpiece_tokenizer([["boeing", "met", "berlin", "in", "and", "cafe", "mc"]] * 3,
                                          vocab_size=80, lowercase=lowercase)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=16, hidden_dim=32, n_layers=1, n_heads=2,
                              max_position_embeddings=32, num_labels=3)
    torch.manual_seed(0)
    return AutoModelForTokenClassification.from_config(config), tokenizer


def test_cased_forms_of_pieces():
    assert cased_forms("john") == ["John", "JOHN"]
    assert cased_forms("##son") == ["##Son", "##SON"]
    assert cased_forms("a") == ["A", "A"]  # one new piece: the second is already there when it is added
    assert cased_forms("42") == ["42", "42"] and cased_forms("[CLS]") == []


def test_the_tokenizer_keeps_case_and_the_old_pieces_keep_ids_and_embeddings():
    model, tokenizer = tiny_pair()
    before = model.get_input_embeddings().weight.detach().clone()
    lower = tokenizer(" ".join(TEXT).lower())["input_ids"]
    torch.manual_seed(1)
    cased = add_case_tokens(model, tokenizer)

    old = tokenizer.get_vocab()  # each new form added once; digits, punctuation and special tokens have none
    new = {form for piece in old for form in cased_forms(piece)} - old.keys()
    assert new and len(cased) == len(tokenizer) + len(new) and model.config.vocab_size == len(cased)
    assert set(cased.get_vocab()) == old.keys() | new
    assert cased(" ".join(TEXT).lower())["input_ids"] == lower  # lowercase text: the same ids as before
    assert cased.tokenize("Boeing BOEING boeing") == ["Boeing", "BOEING", "boeing"]
    assert cased.tokenize("Café") == cased.tokenize("Cafe")  # accents stripped, as the encoder was trained
    words = cased(TEXT, is_split_into_words=True).word_ids()
    assert sorted({w for w in words if w is not None}) == list(range(len(TEXT)))

    weights = model.get_input_embeddings().weight.detach()
    assert torch.equal(weights[:len(tokenizer)], before)
    vocab = cased.get_vocab()
    inner = [piece for piece in tokenizer.get_vocab() if piece.startswith("##") and piece[2:].isalpha()
             and len(piece) > 3][:2]
    assert inner
    forms = {"Capitalized": ["Boeing", "Berlin", *("##" + p[2:].capitalize() for p in inner)],
             "UPPER": ["BOEING", "MET", *("##" + p[2:].upper() for p in inner)]}
    shifts = {form: [weights[vocab[piece]] - weights[vocab[piece.lower()]] for piece in pieces]
              for form, pieces in forms.items()}
    for vectors in shifts.values():  # one direction per form, the same for every piece
        assert all(torch.allclose(v, vectors[0], atol=1e-6) for v in vectors)
    capitalized, upper = shifts["Capitalized"][0], shifts["UPPER"][0]
    assert not torch.allclose(capitalized, upper)
    median = before.norm(dim=1).median()
    assert torch.allclose(capitalized.norm(), median, rtol=1e-4) and torch.allclose(upper.norm(), median, rtol=1e-4)


def test_a_tokenizer_that_keeps_case_is_left_alone():
    model, tokenizer = tiny_pair(lowercase=False)
    assert why_not_cased(tokenizer) == "its tokenizer does not lowercase"
    with pytest.raises(ValueError, match="does not lowercase"):
        add_case_tokens(model, tokenizer)
    assert why_not_cased(tiny_tokenizer()) is None
    other = tiny_tokenizer()
    other.backend_tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    assert why_not_cased(other) == "its tokenizer's normalizer is Sequence; cased pieces need a BertNormalizer"


def test_the_saved_checkpoint_is_a_plain_one(tmp_path):
    model, tokenizer = tiny_pair()
    cased = add_case_tokens(model, tokenizer)
    model.save_pretrained(tmp_path)
    cased.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["do_lower_case"] is False and config["strip_accents"] is True
    assert len((tmp_path / "vocab.txt").read_text().splitlines()) == len(cased)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = " ".join(TEXT)
    assert loaded(text)["input_ids"] == cased(text)["input_ids"]
    tagger = pipeline("token-classification", model=str(tmp_path))
    assert [token["word"] for token in tagger("Boeing met BOEING")] == ["Boeing", "met", "BOEING"]


@pytest.mark.slow
def test_transformers_js_tokenizes_the_cased_pieces_alike(tmp_path):
    """Transformers.js reads the same tokenizer.json (lowercase off, accents stripped) into the same ids."""
    node = require_transformers_js()
    model, tokenizer = tiny_pair()
    cased = add_case_tokens(model, tokenizer)
    cased.save_pretrained(tmp_path / "cased")
    sentences = [" ".join(TEXT), "CAFÉ in Berlin", "mcberlin McBERLIN"]
    script = f"""
import {{ env, AutoTokenizer }} from '@huggingface/transformers';
env.allowRemoteModels = false; env.localModelPath = {json.dumps(str(tmp_path))};
const tokenizer = await AutoTokenizer.from_pretrained('cased');
const sentences = {json.dumps(sentences)};
console.log(JSON.stringify(sentences.map((s) => Array.from(tokenizer(s).input_ids.data, Number))));
"""
    proc = subprocess.run([node, "--input-type=module", "-e", script], cwd=JS_DIR, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == [cased(s)["input_ids"] for s in sentences]
