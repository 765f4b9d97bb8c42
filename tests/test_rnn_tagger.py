"""RNN tagger: tokenizer, model, CRF, remote-code reload, pipeline, ONNX, schedulers, legacy metric."""

import itertools
import json
import os
import random
import subprocess
import sys

import pytest
import torch
from datasets import Dataset
from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

from hubtools.export.inference import feature_logits, input_rows, ort_forward, ort_session, pad_batch
from hubtools.families.rnn_tagger.configuration_rnn_tagger import RnnTaggerConfig
from hubtools.families.rnn_tagger.decode import RnnTaggerDecoder
from hubtools.families.rnn_tagger.export import decoder, emissions_forward, export_rnn_onnx
from hubtools.families.rnn_tagger.features import (
    build_word_tokenizer,
    build_wordpiece_tokenizer,
    piece_characters,
    word_start_flags,
)
from hubtools.families.rnn_tagger.legacy_metric import per_class_mean_score
from hubtools.families.rnn_tagger.modeling_rnn_tagger import LinearChainCrf, RnnTaggerForTokenClassification
from hubtools.families.rnn_tagger.schedulers import SCHEDULERS, build_scheduler
from hubtools.families.token_classification.decode import argmax, decoded_words
from hubtools.tagging import ModelSource

LABELS = ["O", "B-LOC", "I-LOC", "B-PERS", "I-PERS"]
FIRST = ["Олена", "Тарас", "Іван", "Марія", "Петро", "Оксана"]
LAST = ["Коваленко", "Шевченко", "Бондар", "Мельник", "Ткачук"]
CITIES = ["Львова", "Києва", "Харкова", "Одеси", "Полтави", "Івано-Франківська"]
VERBS = ["приїхав", "поїхала", "прибув", "повернулася"]


def generate(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Sentences "Ім'я Прізвище дієслово до Міста ." with PERS / LOC tags (some without a person)."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        city = ["до", rng.choice(CITIES), "."]
        if rng.random() < 0.3:
            sentences.append(
                (["Учора", "хтось", rng.choice(VERBS), *city], ["O", "O", "O", "O", "B-LOC", "O"])
            )
        else:
            tokens = [rng.choice(FIRST), rng.choice(LAST), rng.choice(VERBS), *city]
            sentences.append((tokens, ["B-PERS", "I-PERS", "O", "O", "B-LOC", "O"]))
    return sentences


def make_model(
    vocab_size: int, cell: str = "lstm", use_crf: bool = False, **kwargs
) -> RnnTaggerForTokenClassification:
    config = RnnTaggerConfig(
        vocab_size=vocab_size,
        embedding_dim=kwargs.pop("embedding_dim", 8),
        hidden_size=kwargs.pop("hidden_size", 6),
        cell=cell,
        use_crf=use_crf,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        **kwargs,
    )
    torch.manual_seed(0)
    return RnnTaggerForTokenClassification(config).eval()


def make_char_model(tokenizer, cell: str = "lstm", use_crf: bool = False, **kwargs) -> RnnTaggerForTokenClassification:
    """A tagger that also reads each token's characters (the tokenizer's vocabulary spelled out); with
    ``word_starts=True`` or ``word_units=True`` its word starts are taken from the tokenizer."""
    rows, num_chars = piece_characters(tokenizer)
    model = make_model(len(tokenizer), cell=cell, use_crf=use_crf, char_embedding_dim=4, char_filters=5,
                       char_vocab_size=num_chars, max_token_chars=len(rows[0]), **kwargs)
    model.chars.set_token_characters(rows)
    if model.config.word_starts:
        model.set_word_starts(word_start_flags(tokenizer))
    return model


def save_with_code(model, tokenizer, path) -> None:
    RnnTaggerConfig.register_for_auto_class()
    RnnTaggerForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


# --- tokenizer ---------------------------------------------------------------------------------------


def test_vocabulary_from_train_only_and_unknown_words():
    train = [tokens for tokens, _ in generate(30, seed=1)]
    tokenizer = build_word_tokenizer(train)
    vocab = tokenizer.get_vocab()
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1 and tokenizer.pad_token_id == 0
    assert "Житомира" not in vocab  # a test-only word: no leakage
    encoded = tokenizer(["Тарас", "поїхав", "до", "Житомира", "."], is_split_into_words=True)
    assert encoded["input_ids"][3] == tokenizer.unk_token_id == 1
    assert encoded["input_ids"][4] == vocab["."] and encoded.word_ids() == [0, 1, 2, 3, 4]
    assert vocab["Івано-Франківська"] > 1  # hyphenated words stay one piece
    assert tokenizer.model_input_names == ["input_ids", "attention_mask"]


def test_tokenizer_raw_text_offsets_frequency_and_lowercase():
    tokenizer = build_word_tokenizer([["Київ", "Київ", "."], ["Львів", "."]], min_frequency=2)
    assert set(tokenizer.get_vocab()) == {"[PAD]", "[UNK]", "Київ", "."}
    encoded = tokenizer("Київ, В'ячеслав.", return_offsets_mapping=True)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert pieces == ["Київ", "[UNK]", "[UNK]", "."]
    assert encoded["offset_mapping"] == [(0, 4), (4, 5), (6, 15), (15, 16)]
    lower = build_word_tokenizer([["Київ"]], lowercase=True)
    assert lower("КИЇВ")["input_ids"] == lower("київ")["input_ids"] == [2]
    padded = tokenizer([["Київ"], ["Київ", ".", "Київ"]], is_split_into_words=True, padding=True)
    assert padded["input_ids"][0] == [tokenizer.get_vocab()["Київ"], 0, 0] and padded["attention_mask"][
        0
    ] == [1, 0, 0]


def test_wordpiece_splits_unseen_words_into_train_pieces_and_labels_first_piece():
    train = [tokens for tokens, _ in generate(60, seed=1)]
    tokenizer = build_wordpiece_tokenizer(train, vocab_size=120)
    vocab = tokenizer.get_vocab()
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1 and len(vocab) <= 120
    assert build_wordpiece_tokenizer(train, vocab_size=120).get_vocab() == vocab  # deterministic
    assert "Ковальова" not in vocab and "Ковальова" not in {w for s in train for w in s}
    words = ["Тарас", "поїхав", "до", "Ковальова", "."]
    encoded = tokenizer(words, is_split_into_words=True)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    ids = encoded.word_ids()
    unseen = [p for p, w in zip(pieces, ids, strict=True) if w == 3]
    assert len(unseen) > 1 and unseen[1].startswith("##")  # pieces, not one [UNK]
    assert "".join(p.removeprefix("##") for p in unseen) == "Ковальова"
    assert ids == sorted(ids) and set(ids) == set(range(len(words)))
    assert tokenizer.decode(encoded["input_ids"]) == "Тарас поїхав до Ковальова."
    text = "Тарас, до Ковальова."
    raw = tokenizer(text, return_offsets_mapping=True)
    spans: dict[int, list[int]] = {}
    for w, (start, end) in zip(raw.word_ids(), raw["offset_mapping"], strict=True):
        spans.setdefault(w, [start, end])[1] = end
    assert [text[a:b] for a, b in spans.values()] == ["Тарас", ",", "до", "Ковальова", "."]


def test_piece_characters_spell_every_entry_and_mark_continuations():
    tokenizer = build_wordpiece_tokenizer([["Київ", "Києва", "Київ"]], vocab_size=40)
    rows, num_chars = piece_characters(tokenizer)
    vocab = tokenizer.get_vocab()
    chars = sorted(set("КиївКиєва"))
    assert num_chars == len(chars) + 2 and len(rows) == len(vocab)
    assert rows[vocab["[PAD]"]] == rows[vocab["[UNK]"]] == [0] * len(rows[0])
    spelled = {token: [i for i in rows[i] if i] for token, i in vocab.items()}
    assert spelled["Київ"] == [chars.index(c) + 2 for c in "Київ"]
    assert spelled["##ва"] == [1] + [chars.index(c) + 2 for c in "ва"]  # 1 marks a continuation
    assert len(rows[0]) == max(len(ids) for ids in spelled.values())


# --- model -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"vocab_size": 5, "pad_token_id": 5}, "pad_token_id 5 is outside"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"embedding_dropout": -0.1}, "embedding_dropout must be in"),
        ({"token_dropout": 0.1}, "token_dropout needs unk_token_id"),
        ({"unk_token_id": 10}, "unk_token_id 10 is outside"),
        ({"char_embedding_dim": -1}, "char_embedding_dim must be 0"),
        ({"max_token_chars": 0}, "max_token_chars must be a positive integer"),
    ],
)
def test_config_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        RnnTaggerConfig(**{"vocab_size": 10, **bad})


@pytest.mark.parametrize(
    ("cell", "use_crf", "chars", "word_units"),
    [("rnn", False, False, False), ("gru", False, False, False), ("lstm", False, False, False),
     ("lstm", True, False, False), ("gru", True, True, False), ("gru", True, True, True),
     ("lstm", False, True, True)],
)
def test_padding_does_not_change_a_sentence(cell, use_crf, chars, word_units):
    if chars:
        tokenizer = build_wordpiece_tokenizer([tokens for tokens, _ in generate(30, seed=4)], vocab_size=100)
        model = make_char_model(tokenizer, cell=cell, use_crf=use_crf, num_layers=2, word_units=word_units)
        assert model.chars.token_chars[5:18].count_nonzero() > 0
    else:
        model = make_model(30, cell=cell, use_crf=use_crf, num_layers=2)
    sentence = torch.tensor([[5, 9, 3, 17]])
    batch = torch.tensor([[5, 9, 3, 17, 0, 0, 0], [4, 4, 8, 2, 11, 12, 13]])
    if word_units:  # "##" pieces continue the words: 2 words, 4 words
        cont = int(model.word_starts.eq(0).nonzero()[1])
        sentence = torch.tensor([[5, cont, 3, cont + 2]])
        batch = torch.tensor([[5, cont, 3, cont + 2, 0, 0, 0], [4, cont + 1, 8, 2, cont, 12, 13]])
        assert model.word_index(sentence, torch.ones_like(sentence)).tolist() == [[0, 0, 1, 1]]
    mask = (batch != 0).long()
    with torch.no_grad():
        alone = model(input_ids=sentence).logits[0]
        padded = model(input_ids=batch, attention_mask=mask).logits[0, :4]
        if use_crf:  # the emissions too, not only the decoded one-hot logits
            torch.testing.assert_close(model.emissions(batch, mask)[0, :4], model.emissions(sentence)[0])
    torch.testing.assert_close(padded, alone, rtol=0, atol=1e-6)


def test_token_dropout_reads_unknown_tokens_in_training_only():
    model = make_model(30, dropout=0.0, token_dropout=0.999, unk_token_id=1)
    ids = torch.tensor([[5, 9, 3, 17, 0]])
    mask = (ids != 0).long()
    unknown = torch.tensor([[1, 1, 1, 1, 0]])
    with torch.no_grad():
        evaluated = model.emissions(ids, mask)
        torch.manual_seed(0)
        trained = model.train().emissions(ids, mask)
        model.eval()
        torch.testing.assert_close(trained, model.emissions(unknown, mask))
        assert not torch.allclose(evaluated, trained)
        torch.testing.assert_close(model.emissions(ids, mask), evaluated)  # eval: the ids as given


def test_cross_entropy_ignores_minus_100():
    model = make_model(30)
    ids = torch.tensor([[5, 9, 3, 0, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([[3, 4, 0, -100, -100]])
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        expected = torch.nn.functional.cross_entropy(out.logits[0, :3], labels[0, :3])
    torch.testing.assert_close(out.loss, expected)


def _brute_force(crf: LinearChainCrf, emissions: torch.Tensor, positions: list[int]):
    scores = {}
    for path in itertools.product(range(emissions.shape[-1]), repeat=len(positions)):
        score = (
            crf.start[path[0]]
            + crf.end[path[-1]]
            + sum(emissions[p, tag] for p, tag in zip(positions, path, strict=True))
        )
        score = score + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))
        scores[path] = score
    best = max(scores, key=lambda p: scores[p].item())
    return best, torch.logsumexp(torch.stack(list(scores.values())), dim=0), scores


def test_crf_viterbi_partition_and_nll_match_brute_force():
    torch.manual_seed(3)
    crf = LinearChainCrf(3)
    with torch.no_grad():
        crf.transitions.copy_(torch.randn(3, 3) * 2)
    emissions = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)  # a gap and right padding
    with torch.no_grad():
        paths = crf.decode(emissions, mask)
        log_z = crf.log_partition(emissions, mask)
        tags = torch.tensor([[2, 0, -100, 1, -100], [0, 1, 2, 2, 1]])
        nll = crf.neg_log_likelihood(emissions, tags, mask)
    expected_nll = 0.0
    for b in range(2):
        positions = [t for t in range(5) if mask[b, t]]
        best, expected_log_z, scores = _brute_force(crf, emissions[b], positions)
        assert paths[b, positions].tolist() == list(best)
        torch.testing.assert_close(log_z[b], expected_log_z)
        expected_nll += (expected_log_z - scores[tuple(tags[b, positions].tolist())]).item() / 2
    assert paths[0, 4].item() == paths[0, 3].item()  # padding repeats the last tag
    assert nll.item() == pytest.approx(expected_nll, rel=1e-5) and nll.item() > 0


def test_crf_model_logits_argmax_is_viterbi_and_loss_backpropagates():
    model = make_model(30, use_crf=True).train()
    ids = torch.tensor([[5, 9, 3, 7], [4, 2, 0, 0]])
    mask = (ids != 0).long()
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([[3, 4, 0, 1], [1, 0, -100, -100]]))
    out.loss.backward()
    assert model.crf.transitions.grad.abs().sum() > 0 and model.embeddings.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        viterbi = model.crf.decode(model.emissions(ids, mask), mask.bool())
    assert torch.equal(logits.argmax(-1), viterbi)
    assert torch.equal(logits.amax(-1), torch.full((2, 4), 1e4))


def test_crf_gaps_repeat_the_previous_tag_and_empty_rows_decode():
    torch.manual_seed(5)
    crf = LinearChainCrf(4)
    emissions = torch.randn(3, 6, 4) * 3
    mask = torch.tensor([[0, 1, 0, 0, 1, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    tags = torch.tensor([[-100, 2, -100, -100, 1, -100], [0, 1, 2, 3, 0, 1], [-100] * 6])
    with torch.no_grad():
        path = crf.decode(emissions, mask)
        log_z = crf.log_partition(emissions, mask)
        score = crf.path_score(emissions, tags.clamp(min=0), mask)
    assert path[0].tolist() == [path[0, 1]] * 4 + [path[0, 4]] * 2  # before the first: the first; gaps: previous
    assert path[2].tolist() == [crf.end.argmax().item()] * 6 and log_z[2] == 0 and score[2] == 0
    best, expected_log_z, scores = _brute_force(crf, emissions[0], [1, 4])
    assert (path[0, 1].item(), path[0, 4].item()) == best
    torch.testing.assert_close(log_z[0], expected_log_z)
    torch.testing.assert_close(score[0], scores[(2, 1)])
    empty = crf.neg_log_likelihood(emissions.requires_grad_(), tags, torch.zeros_like(mask))
    empty.backward()  # a batch without a labelled position still backpropagates (zero loss)
    assert empty.item() == 0


def _per_step_reference(crf: LinearChainCrf, emissions: torch.Tensor, mask: torch.Tensor):
    """log Z and the Viterbi path by a loop over every position, masked positions skipped (the CRF's
    recursions before the unmasked positions were gathered)."""
    batch, length, num_tags = emissions.shape
    alpha = torch.zeros_like(emissions[:, 0])
    best = torch.zeros_like(emissions[:, 0])
    seen = torch.zeros(batch, dtype=torch.bool)
    identity = torch.arange(num_tags).expand(batch, num_tags)
    pointers = []
    for t in range(length):
        step, emit = mask[:, t], emissions[:, t]
        first, cont = (step & ~seen).unsqueeze(1), (step & seen).unsqueeze(1)
        alpha = (torch.logsumexp(alpha.unsqueeze(2) + crf.transitions, dim=1) + emit).where(
            cont, (crf.start + emit).where(first, alpha))
        top, arg = (best.unsqueeze(2) + crf.transitions).max(dim=1)
        best = (top + emit).where(cont, (crf.start + emit).where(first, best))
        pointers.append(arg.where(cont, identity))
        seen = seen | step
    log_z = torch.logsumexp(alpha + crf.end, dim=1).where(seen, torch.zeros_like(alpha[:, 0]))
    tag = (best + crf.end).argmax(dim=1)
    path = [tag]
    for t in range(length - 1, 0, -1):
        tag = pointers[t].gather(1, tag.unsqueeze(1)).squeeze(1)
        path.append(tag)
    return log_z, torch.stack(path[::-1], dim=1)


def test_crf_matches_the_per_step_reference_on_random_masks():
    torch.manual_seed(11)
    for _ in range(50):
        num_tags, batch, length = (int(torch.randint(2, 9, ())), int(torch.randint(1, 6, ())),
                                   int(torch.randint(1, 14, ())))
        crf = LinearChainCrf(num_tags)
        with torch.no_grad():
            for param in crf.parameters():
                param.copy_(torch.randn_like(param))
            emissions = torch.randn(batch, length, num_tags)
            mask = torch.rand(batch, length) < torch.rand(batch, 1)
            log_z, path = _per_step_reference(crf, emissions, mask)
            torch.testing.assert_close(crf.log_partition(emissions, mask), log_z)
            assert torch.equal(crf.decode(emissions, mask), path)


def test_crf_model_skips_decoding_in_training():
    model = make_model(30, use_crf=True).train()
    ids = torch.tensor([[5, 9, 3, 7]])
    torch.manual_seed(0)
    out = model(input_ids=ids, labels=torch.tensor([[3, 4, 0, 1]]))
    torch.manual_seed(0)
    torch.testing.assert_close(out.logits, model.emissions(ids))  # the scores, not a decoded one-hot path


def test_word_starts_crf_decodes_words_and_trains_as_before():
    tokenizer = build_wordpiece_tokenizer([tokens for tokens, _ in generate(40, seed=1)], vocab_size=100)
    model = make_char_model(tokenizer, cell="lstm", use_crf=True, word_starts=True)
    pieces = make_char_model(tokenizer, cell="lstm", use_crf=True)  # same seed: same weights, every piece decoded
    batch = tokenizer([["Тарас", "Ковальова", "до", "Житомира"], ["до", "Львова"]], is_split_into_words=True,
                      padding=True, return_tensors="pt")
    first = torch.tensor([[w is not None and (i == 0 or batch.word_ids(r)[i - 1] != w)
                           for i, w in enumerate(batch.word_ids(r))] for r in range(2)])
    labels = torch.full(first.shape, 0).masked_fill(~first, -100)
    labels[0, 0] = 3
    with torch.no_grad():
        out = model(**batch, labels=labels)
        torch.testing.assert_close(out.loss, pieces(**batch, labels=labels).loss)  # trained on first pieces
        starts = model.starts_word(batch["input_ids"], batch["attention_mask"])
        assert torch.equal(starts, first)  # here every corpus word is one word
        emissions = model.emissions(batch["input_ids"], batch["attention_mask"])
        tags = out.logits.argmax(-1)
    assert torch.equal(tags, model.crf.decode(emissions, starts))
    words = model.word_index(batch["input_ids"], batch["attention_mask"])
    for row in range(2):
        for i in range(1, int(batch["attention_mask"][row].sum())):
            if not starts[row, i]:
                assert words[row, i] == words[row, i - 1] and tags[row, i] == tags[row, i - 1]


def test_word_units_read_words_and_train_on_first_pieces():
    tokenizer = build_wordpiece_tokenizer([tokens for tokens, _ in generate(40, seed=1)], vocab_size=100)
    model = make_char_model(tokenizer, cell="gru", use_crf=True, word_units=True)
    batch = tokenizer([["Тарас", "Ковальова", "до", "Житомира"], ["до", "Львова"]], is_split_into_words=True,
                      padding=True, return_tensors="pt")
    words = model.word_index(batch["input_ids"], batch["attention_mask"])
    for row in range(2):
        expected = [w if w is not None else -1 for w in batch.word_ids(row)]
        assert words[row].tolist() == expected  # one word per corpus word here, -1 on padding
    labels = torch.tensor([[3 if w == 0 else 0 if w is not None else -100 for w in batch.word_ids(0)],
                           [0 if w is not None else -100 for w in batch.word_ids(1)]])
    first = torch.tensor([[w is not None and (i == 0 or batch.word_ids(r)[i - 1] != w)
                           for i, w in enumerate(batch.word_ids(r))] for r in range(2)])
    with torch.no_grad():
        emissions = model.emissions(batch["input_ids"], batch["attention_mask"])
        out = model(**batch, labels=labels.masked_fill(~first, -100))
        relabelled = model(**batch, labels=labels.masked_fill(~first, 2))  # only the first piece counts
    same_word = words[0, 1:] == words[0, :-1]
    assert same_word.any() and torch.equal(emissions[0, 1:][same_word], emissions[0, :-1][same_word])
    torch.testing.assert_close(out.loss, relabelled.loss)
    tags = out.logits.argmax(-1)
    assert torch.equal(tags[0, 1:][same_word], tags[0, :-1][same_word])  # every piece has its word's tag
    model.train()
    model(**batch, labels=labels).loss.backward()
    assert model.word_starts.dtype == torch.long and model.embeddings.weight.grad.abs().sum() > 0


# --- training, remote-code reload and pipeline -----------------------------------------------------


RELOAD_SCRIPT = """
import json, sys
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline
path = sys.argv[1]
model = AutoModelForTokenClassification.from_pretrained(path, trust_remote_code=True).eval()
tokenizer = AutoTokenizer.from_pretrained(path)
batch = tokenizer(json.loads(sys.argv[2]), is_split_into_words=True, padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**batch).logits
ner = pipeline("ner", model=path, trust_remote_code=True, aggregation_strategy="simple")
entities = [{k: e[k] for k in ("entity_group", "word", "start", "end")} for e in ner(sys.argv[3])]
print(json.dumps({"class": type(model).__module__, "logits": logits.tolist(), "entities": entities}))
"""
PROBE = [["Марія", "Ткачук", "прибув", "до", "Одеси", "."], ["Учора", "хтось", "поїхала", "до", "Житомира"]]
RAW = "Оксана Бондар повернулася до Харкова."


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bi-LSTM trained briefly with Trainer + DataCollatorForTokenClassification, saved with auto_map."""
    path = tmp_path_factory.mktemp("rnn_model")
    rows = generate(120, seed=7)
    tokenizer = build_word_tokenizer(tokens for tokens, _ in rows)
    label_id = {label: i for i, label in enumerate(LABELS)}

    def encode(example):
        encoded = tokenizer(example["tokens"], is_split_into_words=True)
        encoded["labels"] = [label_id[example["tags"][w]] for w in encoded.word_ids()]
        return encoded

    data = Dataset.from_dict({"tokens": [t for t, _ in rows], "tags": [g for _, g in rows]})
    features = data.map(encode, remove_columns=["tokens", "tags"])
    model = make_model(len(tokenizer), embedding_dim=16, hidden_size=16).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    args = TrainingArguments(
        output_dir=str(path / "checkpoints"),
        per_device_train_batch_size=16,
        num_train_epochs=4,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=42,
        disable_tqdm=True,
    )
    steps = 4 * -(-len(features) // 16)
    scheduler = build_scheduler("cosine", optimizer, num_training_steps=steps, steps_per_epoch=steps // 4)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        optimizers=(optimizer, scheduler),
    )
    trainer.train()
    model.eval()
    save_with_code(model, tokenizer, path / "model")
    batch = tokenizer(PROBE, is_split_into_words=True, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(path / "modules")}
    result = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, str(path / "model"), json.dumps(PROBE), RAW],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return path / "model", logits, json.loads(result.stdout.strip().splitlines()[-1])


def test_reload_in_fresh_process_with_remote_code_gives_identical_logits(trained):
    model_dir, logits, reloaded = trained
    assert (model_dir / "modeling_rnn_tagger.py").is_file() and (
        model_dir / "configuration_rnn_tagger.py"
    ).is_file()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["auto_map"]["AutoModelForTokenClassification"] == (
        "modeling_rnn_tagger.RnnTaggerForTokenClassification"
    )
    assert not reloaded["class"].startswith("hubtools")  # the copied code, not the library
    torch.testing.assert_close(torch.tensor(reloaded["logits"]), logits, rtol=0, atol=1e-6)


def test_pipeline_finds_entities_in_raw_ukrainian_text(trained):
    _, _, reloaded = trained
    entities = {(e["entity_group"], e["word"]) for e in reloaded["entities"]}
    assert ("LOC", "Харкова") in entities
    assert ("PERS", "Оксана Бондар") in entities
    loc = next(e for e in reloaded["entities"] if e["word"] == "Харкова")
    assert RAW[loc["start"] : loc["end"]] == "Харкова"


# --- ONNX --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "use_crf", "wordpiece", "chars", "word_units"),
                         [("lstm", False, False, False, False), ("gru", True, False, False, False),
                          ("lstm", True, True, False, False), ("lstm", True, True, True, False),
                          ("lstm", True, True, True, "starts"), ("gru", True, True, True, True),
                          ("rnn", False, True, True, True)])
def test_onnx_export_parity(tmp_path, cell, use_crf, wordpiece, chars, word_units):
    rows = generate(20, seed=2)
    train = [tokens for tokens, _ in rows]
    tokenizer = build_wordpiece_tokenizer(train, 100) if wordpiece else build_word_tokenizer(train)
    if chars:
        model = make_char_model(tokenizer, cell=cell, use_crf=use_crf, word_units=word_units is True,
                                word_starts=bool(word_units))
    else:
        model = make_model(len(tokenizer), cell=cell, use_crf=use_crf)
    save_with_code(model, tokenizer, tmp_path / "model")
    if chars:  # the characters of the vocabulary are saved with the weights
        reloaded = RnnTaggerForTokenClassification.from_pretrained(tmp_path / "model")
        assert torch.equal(reloaded.chars.token_chars, model.chars.token_chars)
    onnx_path = export_rnn_onnx(tmp_path / "model", tmp_path / "onnx")
    assert (tmp_path / "onnx" / "crf.json").is_file() == use_crf
    if use_crf:
        assert ("word_starts" in json.loads((tmp_path / "onnx" / "crf.json").read_text())) == bool(word_units)
    sentences = [
        rows[0][0],
        ["Житомир"],
        rows[1][0] + rows[2][0],
        ["до", "Львова"],
    ]  # 4 x 12: not the dummy shape
    reloaded = RnnTaggerForTokenClassification.from_pretrained(tmp_path / "model").eval()
    torch_side, names = emissions_forward(reloaded)
    onnx_side, onnx_names = ort_forward(ort_session(onnx_path))
    assert onnx_names == names
    crf = json.loads((tmp_path / "onnx" / "crf.json").read_text()) if use_crf else None
    decode = decoder(crf)
    for sentences_in_batch in (sentences, sentences[:1]):
        rows = [dict(tokenizer(words, is_split_into_words=True)) for words in sentences_in_batch]
        batch = pad_batch(rows, names, tokenizer.pad_token_id)
        expected, got = torch_side(batch), onnx_side(batch)
        attended = batch["attention_mask"].astype(bool)
        assert abs(expected - got)[attended].max() < 1e-5
        with torch.no_grad():  # the tags of the PyTorch model itself (its own CRF decoding)
            tags = reloaded(**{k: torch.from_numpy(v) for k, v in batch.items()}).logits.argmax(-1).numpy()
        for row, ids in enumerate(rows):
            length = len(ids["input_ids"])
            assert (decode(got[row, :length], ids["input_ids"]) == tags[row, :length]).all()


def test_the_family_decoder_tags_onnx_emissions_with_the_crf_as_pytorch_does(tmp_path):
    """A folder with a CRF tagger and its ONNX export (no results.json): the registry finds the RNN tagger decoder
    by config.json, which decodes the graph's emissions with onnx/crf.json (argmax would differ) and gives the
    tags of the PyTorch model, loaded with the installed classes."""
    rows = generate(20, seed=2)
    tokenizer = build_word_tokenizer([tokens for tokens, _ in rows])
    save_with_code(make_model(len(tokenizer), cell="gru", use_crf=True), tokenizer, tmp_path / "model")
    export_rnn_onnx(tmp_path / "model", tmp_path / "onnx")
    source = ModelSource(str(tmp_path), tmp_path, tmp_path / "model")
    assert source.family == "rnn-tagger" and isinstance(source.decoder(), RnnTaggerDecoder)
    ds = Dataset.from_dict({"tokens": [tokens for tokens, _ in rows]})
    onnx = source.decoder("onnx")
    tags = onnx.tag(ds)
    assert tags == source.decoder("pytorch").tag(ds)
    features = onnx.features(ds)
    inputs = input_rows(features)
    forward, names = ort_forward(ort_session(tmp_path / "onnx" / "model.onnx"))
    logits = feature_logits(forward, inputs, names, 0)
    assert decoded_words(argmax, logits, inputs, features, [len(t) for t in ds["tokens"]]) != tags

# --- schedulers --------------------------------------------------------------------------------------


def _lrs(name: str, steps: int = 20, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = build_scheduler(name, optimizer, num_training_steps=steps, steps_per_epoch=5, **kwargs)
    lrs = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step(
            1.0
        ) if name == "plateau" else scheduler.step()  # plateau: a metric that never improves
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_builds_and_steps(name):
    lrs = _lrs(name)
    if name == "constant":
        assert set(lrs) == {0.1}
    elif name == "onecycle":
        assert max(lrs) == pytest.approx(0.1, rel=0.05) and lrs[0] < 0.05 and lrs[-2] < 0.01
    elif name == "cosine":
        assert lrs[9] == pytest.approx(0.05) and lrs[-1] == pytest.approx(0.0, abs=1e-9)
    elif name == "multistep":  # 4 epochs of 5 steps: milestones at epochs 2 and 3
        assert (
            lrs[8] == pytest.approx(0.1) and lrs[9] == pytest.approx(0.01) and lrs[14] == pytest.approx(0.001)
        )
    else:
        assert lrs[-1] < lrs[0] == 0.1
    with pytest.raises(ValueError, match="unknown scheduler"):
        build_scheduler("warmup", torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), 10, 5)


def test_trainer_steps_custom_plateau_scheduler_with_eval_metric(tmp_path):
    tokenizer = build_word_tokenizer([["а", "б"]])
    features = Dataset.from_dict({"input_ids": [[2, 3]] * 8, "labels": [[1, 0]] * 8})
    model = make_model(len(tokenizer))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    # mode="max" on a decreasing loss: every evaluation after the first is "worse" -> the lr halves
    scheduler = build_scheduler("plateau", optimizer, 3, 1, mode="max", patience=0, factor=0.5)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_train_epochs=3,
        eval_strategy="epoch",
        metric_for_best_model="loss",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    Trainer(
        model=model,
        args=args,
        train_dataset=features,
        eval_dataset=features,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        optimizers=(optimizer, scheduler),
    ).train()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**2)


# --- legacy metric -----------------------------------------------------------------------------------


def test_per_class_mean_score_reading():
    true = [["B-PERS", "I-PERS", "O", "B-LOC"], ["O", "O"], ["B-LOC", "O"]]
    pred = [["B-PERS", "O", "O", "B-LOC"], ["O", "O"], ["O", "B-LOC"]]
    # labels B-LOC, B-PERS, I-PERS; sentence 1: (1 + 1 + 0) / 3; sentence 2: 0 (no entities); sentence 3: 0
    assert per_class_mean_score(true, pred) == pytest.approx((2 / 3) / 3)
    assert per_class_mean_score(true, true, labels=["B-LOC"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="sentence 0"):
        per_class_mean_score([["O"]], [["O", "O"]])
    assert per_class_mean_score([["O"]], [["O"]]) == 0.0
