"""Cased pieces for an uncased encoder: case is the strongest single clue to a name, and a lowercasing tokenizer
throws it away before the model sees the text.

:func:`add_case_tokens` appends to a lowercasing WordPiece vocabulary the ``Capitalized`` and ``UPPER`` form of
every piece (``john`` -> ``John``, ``JOHN``; ``##son`` -> ``##Son``, ``##SON``), each embedded as its lowercase
piece plus one fixed random direction per form, of the embeddings' median norm; the tokenizer then keeps case
(accents are still stripped, as the encoder was trained). The encoder starts from what it knew, and fine-tuning
teaches it to read the two directions. The result is a checkpoint of the same class with a larger vocabulary,
which ``pipeline``, ONNX Runtime and Transformers.js load like any other.
"""

from __future__ import annotations

import json

import torch
from tokenizers import Tokenizer
from transformers import PreTrainedModel, PreTrainedTokenizerFast

FORMS = ("Capitalized", "UPPER")


def _state(tokenizer: PreTrainedTokenizerFast) -> dict:
    return json.loads(tokenizer.backend_tokenizer.to_str())


def _why_not(state: dict) -> str | None:
    normalizer = state.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        return ("its tokenizer does not lowercase" if not normalizer else
                f"its tokenizer's normalizer is {normalizer['type']}; cased pieces need a BertNormalizer")
    if not normalizer.get("lowercase"):
        return "its tokenizer does not lowercase"
    if state["model"]["type"] != "WordPiece":
        return f"its tokenizer is {state['model']['type']}, and cased pieces are added to WordPiece ones only"
    return None


def why_not_cased(tokenizer: PreTrainedTokenizerFast) -> str | None:
    """None when :func:`add_case_tokens` applies to ``tokenizer``; otherwise why it does not."""
    return _why_not(_state(tokenizer))


def cased_forms(piece: str) -> list[str]:
    """The Capitalized and UPPER forms of a lowercase piece, in :data:`FORMS` order (the piece itself where case
    does not apply, as for digits); none for special tokens."""
    if piece.startswith("[") and piece.endswith("]"):
        return []
    prefix, body = ("##", piece[2:]) if piece.startswith("##") and len(piece) > 2 else ("", piece)
    return [prefix + body[:1].upper() + body[1:], prefix + body.upper()]


def add_case_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """Give ``model`` the cased forms of ``tokenizer``'s pieces (see the module) and return the tokenizer that
    produces them; ``model``'s input embeddings are resized in place. The original pieces keep their ids and
    embeddings. Draws the two directions from torch's global generator (seed it first)."""
    state = _state(tokenizer)
    reason = _why_not(state)
    if reason:
        raise ValueError(f"cased pieces cannot be added: {reason}")
    vocab: dict[str, int] = state["model"]["vocab"]
    pieces = sorted(vocab, key=vocab.get)
    base, form_of = [], []
    for piece in pieces:
        for form, cased in enumerate(cased_forms(piece)):
            if cased not in vocab:  # nor the piece itself, nor a form added before
                vocab[cased] = len(vocab)
                base.append(vocab[piece])
                form_of.append(form)
    normalizer = state["normalizer"]
    normalizer["strip_accents"] = normalizer.get("strip_accents") is not False  # None followed lowercase
    normalizer["lowercase"] = False
    model.resize_token_embeddings(len(vocab), mean_resizing=False)  # the old rows are copied over
    with torch.no_grad():
        weight = model.get_input_embeddings().weight
        directions = torch.randn(len(FORMS), weight.shape[1])
        directions *= weight[:len(pieces)].norm(dim=1).median() / directions.norm(dim=1, keepdim=True)
        weight[len(pieces):] = (weight[torch.tensor(base, dtype=torch.long)]
                                + directions[torch.tensor(form_of, dtype=torch.long)])
    kwargs = {key: value for key, value in tokenizer.init_kwargs.items()
              if key not in ("tokenizer_object", "tokenizer_file", "vocab_file", "name_or_path")}
    kwargs.update(do_lower_case=False, strip_accents=normalizer["strip_accents"])
    return type(tokenizer)(tokenizer_object=Tokenizer.from_str(json.dumps(state)), **kwargs)
