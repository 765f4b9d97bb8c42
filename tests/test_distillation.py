"""Tests for hubtools.families.distillation (teacher, trainer): loss, label mapping, word alignment, student init,
trainer."""

from __future__ import annotations

import random
from types import SimpleNamespace

import datasets
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from seqeval.metrics import f1_score
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForTokenClassification,
    DistilBertConfig,
    DistilBertForTokenClassification,
    GPT2Config,
    GPT2ForTokenClassification,
    PreTrainedTokenizerFast,
    TrainingArguments,
)

from hubtools.errors import ConfigError, DataError
from hubtools.families.distillation.features import augment_sentences
from hubtools.families.distillation.model import (
    attach_teacher_logits,
    build_student_from_teacher,
    label_permutation,
    teacher_word_logits,
)
from hubtools.families.distillation.trainer import (
    DistillationDataCollator,
    DistillationTrainer,
    distillation_loss,
    grid_search,
)
from hubtools.families.token_classification.trainer import WordMetrics, build_trainer
from hubtools.tokenization import tokenize_dataset

CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
DSLIM = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TEACHER_LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]  # another order, as dslim vs CoNLL
# The label is a function of the word: first names B-PER, surnames I-PER, cities B-LOC, their suffixes I-LOC.
LEXICON = {
    "B-PER": ["anna", "boris", "carla", "dmitri", "elena", "farid"],
    "I-PER": ["smith", "ivanova", "okafor", "tanaka", "garcia"],
    "B-LOC": ["paris", "lagos", "quito", "oslo", "lima", "kyiv"],
    "I-LOC": ["harbour", "heights", "central"],
    "O": ["the", "went", "to", "with", "saw", "and", "from", "met", "a", "big", "river", "near", "today"],
}


def generate(num_sentences: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of filler words and one- or two-word PER / LOC entities."""
    rng = random.Random(seed)
    sentences, tags = [], []
    for _ in range(num_sentences):
        labels: list[str] = []
        while len(labels) < rng.randint(4, 10):
            kind = rng.choice(["O", "O", "PER", "LOC"])
            if kind == "O":
                labels.append("O")
            else:
                labels += [f"B-{kind}", f"I-{kind}"][: rng.randint(1, 2)] + ["O"]
        sentences.append([rng.choice(LEXICON[label]) for label in labels])
        tags.append(labels)
    return sentences, tags


def wordpiece_tokenizer(sentences: list[list[str]], vocab_size: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(
        [" ".join(words) for words in sentences],
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special),
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


def char_bpe_tokenizer(sentences: list[list[str]]) -> PreTrainedTokenizerFast:
    """A nearly character-level BPE tokenizer with other special tokens than the WordPiece one."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    special = ["<pad>", "<unk>", "<s>", "</s>"]
    tokenizer.train_from_iterator(
        [" ".join(words) for words in sentences], trainers.BpeTrainer(vocab_size=45, special_tokens=special)
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> <s> $A </s>", special_tokens=[("<s>", 2), ("</s>", 3)]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>")


def encode(
    tokenizer, sentences, tags, label_names, max_length: int = 64, stride: int = 8
) -> datasets.Dataset:
    """The shared feature rows (hubtools.tokenization) of a generated split."""
    split = datasets.Dataset.from_dict(
        {"tokens": sentences, "ner_tags": [[label_names.index(tag) for tag in row] for row in tags]}
    )
    return tokenize_dataset(split, tokenizer, max_length=max_length, stride=stride)


def tiny_bert(
    vocab_size: int, label_names: list[str], layers: int = 2, seed: int = 0
) -> BertForTokenClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )
    return BertForTokenClassification(config)


class TokenwiseTeacher(torch.nn.Module):
    """Logits that depend on the token id only, so windowing must not change a word's logits."""

    def __init__(self, vocab_size: int, num_labels: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(vocab_size, num_labels)
        self.device = torch.device("cpu")

    def forward(self, input_ids, **_):
        return SimpleNamespace(logits=self.embedding(input_ids))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models on a shared machine: several intra-op threads only contend with each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- loss -------------------------------------------------------------------------------------------


def random_batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    student = torch.randn(2, 5, 4, generator=generator)
    teacher = torch.randn(2, 5, 4, generator=generator)
    labels = torch.tensor([[-100, 1, 3, -100, 0], [-100, 2, -100, -100, -100]])
    return student, teacher, labels


def test_alpha_one_is_cross_entropy():
    student, teacher, labels = random_batch()
    expected = F.cross_entropy(student.view(-1, 4), labels.view(-1), ignore_index=-100)
    torch.testing.assert_close(distillation_loss(student, teacher, labels, 1.0, 3.0), expected)


def test_loss_matches_formula():
    student, teacher, labels = random_batch()
    alpha, temperature = 0.3, 2.0
    mask = labels != -100
    s, t = student[mask], teacher[mask]
    p_teacher = torch.softmax(t / temperature, -1)
    kl = (p_teacher * (p_teacher.log() - torch.log_softmax(s / temperature, -1))).sum(-1).mean()
    ce = -torch.log_softmax(s, -1)[torch.arange(len(s)), labels[mask]].mean()
    expected = alpha * ce + (1 - alpha) * temperature**2 * kl
    torch.testing.assert_close(distillation_loss(student, teacher, labels, alpha, temperature), expected)


def test_kl_part_is_zero_for_identical_logits():
    student, _, labels = random_batch()
    for temperature in (0.5, 1.0, 4.0):
        loss = distillation_loss(student, student.clone(), labels, 0.0, temperature)
        assert abs(loss.item()) < 1e-6


def test_temperature_squared_keeps_gradient_scale():
    student, teacher, labels = random_batch()
    norms = {}
    for temperature in (8.0, 16.0):
        logits = student.clone().requires_grad_()
        distillation_loss(logits, teacher, labels, 0.0, temperature).backward()
        norms[temperature] = logits.grad.norm().item()
    # Without the T^2 factor the ratio would be about 1/4.
    assert norms[16.0] / norms[8.0] == pytest.approx(1.0, rel=0.1)


def test_masked_positions_change_nothing():
    student, teacher, labels = random_batch()
    logits = student.clone().requires_grad_()
    loss = distillation_loss(logits, teacher, labels, 0.5, 2.0)
    loss.backward()
    changed_student, changed_teacher = student.clone(), teacher.clone()
    masked = labels == -100
    changed_student[masked] = 100.0
    changed_teacher[masked] = -50.0
    changed_logits = changed_student.requires_grad_()
    changed_loss = distillation_loss(changed_logits, changed_teacher, labels, 0.5, 2.0)
    changed_loss.backward()
    torch.testing.assert_close(changed_loss, loss)
    torch.testing.assert_close(changed_logits.grad, logits.grad)
    assert changed_logits.grad[masked].abs().max() == 0


def test_loss_rejects_bad_parameters_and_shapes():
    student, teacher, labels = random_batch()
    with pytest.raises(ConfigError, match="alpha"):
        distillation_loss(student, teacher, labels, 1.5, 2.0)
    with pytest.raises(ConfigError, match="temperature"):
        distillation_loss(student, teacher, labels, 0.5, 0.0)
    with pytest.raises(DataError, match="shape"):
        distillation_loss(student, teacher[..., :3], labels, 0.5, 2.0)


def test_batch_without_labels_gives_zero_loss():
    student, teacher, labels = random_batch()
    loss = distillation_loss(student, teacher, torch.full_like(labels, -100), 0.5, 2.0)
    assert loss.item() == 0.0


# --- labels -----------------------------------------------------------------------------------------


def test_label_permutation_dslim_to_conll():
    permutation = label_permutation(dict(enumerate(DSLIM)), CONLL)
    assert permutation == [0, 3, 4, 5, 6, 7, 8, 1, 2]
    assert [DSLIM[i] for i in permutation] == CONLL
    teacher_logits = torch.eye(9)  # row i: teacher predicts its label i
    reordered = teacher_logits[:, permutation]
    assert CONLL[reordered[DSLIM.index("B-PER")].argmax()] == "B-PER"
    # config.json keys are strings
    assert label_permutation({str(i): name for i, name in enumerate(DSLIM)}, CONLL) == permutation


def test_label_permutation_names_the_mismatch():
    teacher = dict(enumerate([*DSLIM[:-2], "B-GPE", "I-GPE"]))
    with pytest.raises(
        ConfigError, match=r"missing from the teacher \['B-LOC', 'I-LOC'\].*\['B-GPE', 'I-GPE'\]"
    ):
        label_permutation(teacher, CONLL)
    with pytest.raises(ConfigError, match="duplicate"):
        label_permutation(dict(enumerate(DSLIM)), [*CONLL, "O"])


# --- word alignment ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    sentences, tags = generate(160, seed=1)
    # a word WordPiece must split into many sub-tokens
    sentences[0] = [*sentences[0], "zyxwvutsrq"]
    tags[0] = [*tags[0], "O"]
    return sentences, tags


@pytest.fixture(scope="module")
def teacher_tokenizer(corpus):
    return wordpiece_tokenizer(corpus[0], vocab_size=90)


@pytest.fixture(scope="module")
def student_tokenizer(corpus):
    return char_bpe_tokenizer(corpus[0])


def first_subtoken_logits(model, tokenizer, words, permutation) -> np.ndarray:
    """Reference: the whole sentence in one pass, logits at each word's first sub-token."""
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoding).logits[0][:, permutation].numpy()
    word_ids = encoding.word_ids()
    return np.stack([logits[word_ids.index(w)] for w in range(len(words))])


def test_teacher_word_logits_match_the_teachers_first_subtokens(corpus, teacher_tokenizer):
    sentences = corpus[0][:20]
    teacher = tiny_bert(teacher_tokenizer.vocab_size, TEACHER_LABELS)
    permutation = label_permutation(teacher.config.id2label, LABELS)
    word_logits = teacher_word_logits(teacher, teacher_tokenizer, sentences, permutation, batch_size=8)
    assert len(word_logits) == len(sentences)
    for words, logits in zip(sentences, word_logits, strict=True):
        assert logits.shape == (len(words), len(LABELS))
        np.testing.assert_allclose(
            logits, first_subtoken_logits(teacher, teacher_tokenizer, words, permutation), atol=1e-5
        )


def test_long_sentences_are_read_in_windows(teacher_tokenizer):
    teacher = TokenwiseTeacher(teacher_tokenizer.vocab_size, len(LABELS))
    words = ["anna", "went", "to", "zyxwvutsrq", "paris", "with", "boris", "and", "carla"] * 4
    identity = list(range(len(LABELS)))
    windowed = teacher_word_logits(teacher, teacher_tokenizer, [words, []], identity, max_length=10, stride=3)
    reference = first_subtoken_logits(teacher, teacher_tokenizer, words, identity)
    np.testing.assert_allclose(windowed[0], reference, atol=1e-6)
    assert windowed[1].shape == (0, len(LABELS))
    with pytest.raises(ConfigError, match="stride"):
        teacher_word_logits(teacher, teacher_tokenizer, [words], identity, max_length=10, stride=8)


def test_attach_aligns_teacher_words_to_student_subtokens(corpus, teacher_tokenizer, student_tokenizer):
    sentences, tags = corpus[0][:20], corpus[1][:20]
    assert any(
        teacher_tokenizer(s, is_split_into_words=True).word_ids()
        != student_tokenizer(s, is_split_into_words=True).word_ids()
        for s in sentences
    )
    teacher = tiny_bert(teacher_tokenizer.vocab_size, TEACHER_LABELS)
    permutation = label_permutation(teacher.config.id2label, LABELS)
    word_logits = teacher_word_logits(teacher, teacher_tokenizer, sentences, permutation)
    # small windows: several rows per sentence; shuffled: rows are not in example order
    student_features = encode(student_tokenizer, sentences, tags, LABELS, max_length=12, stride=4).shuffle(
        seed=0
    )
    assert len(student_features) > len(sentences)
    student_features = attach_teacher_logits(student_features, word_logits)
    checked = 0
    for row in student_features:
        teacher_logits = np.asarray(row["teacher_logits"])
        assert teacher_logits.shape == (len(row["input_ids"]), len(LABELS))
        for position, (label, word) in enumerate(zip(row["labels"], row["word_index"], strict=True)):
            if label == -100:
                assert not teacher_logits[position].any()
            else:
                np.testing.assert_allclose(teacher_logits[position], word_logits[row["example_index"]][word])
                checked += 1
    assert checked >= sum(len(s) for s in sentences)


def test_attach_rejects_inconsistent_features():
    word_logits = [np.ones((2, 3), dtype=np.float32)]
    row = {"input_ids": [5, 6, 7], "labels": [-100, 1, 0], "word_index": [-100, 0, 2], "example_index": 0}
    with pytest.raises(DataError, match="row 0.*2 words"):
        attach_teacher_logits(datasets.Dataset.from_list([row]), word_logits)
    with pytest.raises(DataError, match="example_index 3"):
        attach_teacher_logits(datasets.Dataset.from_list([{**row, "example_index": 3}]), word_logits)


def test_collator_pads_teacher_logits_like_labels(student_tokenizer):
    rows = [
        {
            "input_ids": [2, 5, 3],
            "labels": [-100, 1, -100],
            "teacher_logits": [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]],
        },
        {"input_ids": [2, 5, 6, 7, 3], "labels": [-100, 0, 1, 1, -100], "teacher_logits": [[3.0, 4.0]] * 5},
    ]
    batch = DistillationDataCollator(student_tokenizer)(rows)
    assert batch["teacher_logits"].shape == (2, 5, 2)
    assert batch["labels"][0].tolist() == [-100, 1, -100, -100, -100]
    assert batch["teacher_logits"][0, 1].tolist() == [1.0, 2.0]
    assert not batch["teacher_logits"][0, 3:].any()
    assert "teacher_logits" not in DistillationDataCollator(student_tokenizer)(
        [{"input_ids": [2, 3], "labels": [0, 0]}]
    )


# --- student initialization -------------------------------------------------------------------------


def test_build_student_from_bert_copies_every_other_layer():
    teacher = tiny_bert(50, LABELS, layers=4)
    student = build_student_from_teacher(teacher)
    assert isinstance(student, BertForTokenClassification)
    assert student.config.num_hidden_layers == 2 and teacher.config.num_hidden_layers == 4
    for student_layer, teacher_layer in ((0, 0), (1, 2)):
        for name, tensor in student.bert.encoder.layer[student_layer].state_dict().items():
            torch.testing.assert_close(tensor, teacher.bert.encoder.layer[teacher_layer].state_dict()[name])
    assert not torch.equal(
        student.bert.encoder.layer[1].attention.self.query.weight,
        teacher.bert.encoder.layer[1].attention.self.query.weight,
    )
    torch.testing.assert_close(
        student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight
    )
    torch.testing.assert_close(student.classifier.weight, teacher.classifier.weight)
    assert student.config.id2label == teacher.config.id2label
    one = build_student_from_teacher(teacher, num_layers=3)  # layers 0, 1, 2 (i * 4 // 3)
    torch.testing.assert_close(
        one.bert.encoder.layer[2].output.dense.weight, teacher.bert.encoder.layer[2].output.dense.weight
    )


def test_build_student_from_distilbert():
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=50, dim=32, n_layers=6, n_heads=2, hidden_dim=64, num_labels=5)
    teacher = DistilBertForTokenClassification(config)
    student = build_student_from_teacher(teacher)
    assert student.config.n_layers == 3
    for student_layer, teacher_layer in ((0, 0), (1, 2), (2, 4)):
        torch.testing.assert_close(
            student.distilbert.transformer.layer[student_layer].ffn.lin1.weight,
            teacher.distilbert.transformer.layer[teacher_layer].ffn.lin1.weight,
        )
    torch.testing.assert_close(student.classifier.weight, teacher.classifier.weight)


def test_build_student_rejects_what_it_cannot_shrink():
    gpt2 = GPT2ForTokenClassification(GPT2Config(vocab_size=50, n_embd=16, n_layer=2, n_head=2, num_labels=3))
    with pytest.raises(ConfigError, match="GPT2ForTokenClassification.*gpt2"):
        build_student_from_teacher(gpt2)
    with pytest.raises(ConfigError, match="num_layers"):
        build_student_from_teacher(tiny_bert(50, LABELS, layers=2), num_layers=3)


# --- grid search ------------------------------------------------------------------------------------


def test_grid_search_order_budget_and_best():
    calls = []

    def train_fn(alpha: float, temperature: float) -> float:
        calls.append((alpha, temperature))
        return {(0.5, 1.0): 0.7, (0.5, 2.0): 0.9, (0.9, 1.0): 0.9}.get((alpha, temperature), float("nan"))

    best, table = grid_search(train_fn, [0.5, 0.9], [1.0, 2.0], budget=3)
    assert calls == [(0.5, 1.0), (0.5, 2.0), (0.9, 1.0)]
    assert best == {"alpha": 0.5, "temperature": 2.0, "score": 0.9}  # first of the ties
    assert [row["score"] for row in table] == [0.7, 0.9, 0.9]
    best, table = grid_search(train_fn, [0.9, 0.1], [2.0], budget=None)
    assert len(table) == 2 and best["alpha"] == 0.9  # NaN never wins
    with pytest.raises(ConfigError, match="alpha"):
        grid_search(train_fn, [0.5, 2.0], [1.0])
    with pytest.raises(ConfigError, match="budget"):
        grid_search(train_fn, [0.5], [1.0], budget=0)


# --- end to end -------------------------------------------------------------------------------------


def test_distillation_end_to_end(corpus, teacher_tokenizer, student_tokenizer, tmp_path):
    sentences, tags = corpus
    train_sentences, train_tags = sentences[:130], tags[:130]
    test_sentences, test_tags = sentences[130:], tags[130:]
    common = dict(report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True, seed=0)

    # Teacher: trained on its own label order and its own tokenizer.
    teacher = tiny_bert(teacher_tokenizer.vocab_size, TEACHER_LABELS, layers=2)
    teacher_args = TrainingArguments(tmp_path / "teacher", num_train_epochs=8, learning_rate=5e-3, **common)
    teacher_train = encode(teacher_tokenizer, train_sentences, train_tags, TEACHER_LABELS)
    build_trainer(teacher, teacher_tokenizer, teacher_args, teacher_train, None, None).train()
    permutation = label_permutation(teacher.config.id2label, LABELS)
    teacher_test = teacher_word_logits(teacher, teacher_tokenizer, test_sentences, permutation)
    teacher_f1 = f1_score(test_tags, [[LABELS[i] for i in logits.argmax(-1)] for logits in teacher_test])
    assert teacher_f1 > 0.9

    # Student: fresh, 1 layer, another tokenizer; alpha=0 so it learns from the teacher alone.
    word_logits = teacher_word_logits(teacher, teacher_tokenizer, train_sentences, permutation)
    train = attach_teacher_logits(encode(student_tokenizer, train_sentences, train_tags, LABELS), word_logits)
    test = encode(student_tokenizer, test_sentences, test_tags, LABELS)
    metrics = WordMetrics(test, [[LABELS.index(tag) for tag in row] for row in test_tags], LABELS)
    student = tiny_bert(student_tokenizer.vocab_size, LABELS, layers=1, seed=1)
    student_args = TrainingArguments(tmp_path / "student", num_train_epochs=10, learning_rate=5e-3, **common)
    trainer = build_trainer(
        student,
        student_tokenizer,
        student_args,
        train,
        test,
        metrics,
        trainer_cls=DistillationTrainer,
        alpha=0.0,
        temperature=2.0,
    )
    assert isinstance(trainer.data_collator, DistillationDataCollator)
    batch = next(iter(trainer.get_train_dataloader()))
    assert "teacher_logits" in batch and "word_index" not in batch
    assert batch["teacher_logits"].shape == (*batch["labels"].shape, len(LABELS))
    student.eval()  # no dropout: the trainer's loss on this batch is the distillation loss
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "teacher_logits")}
        expected = distillation_loss(
            student(**inputs).logits, batch["teacher_logits"], batch["labels"], 0.0, 2.0
        )
        torch.testing.assert_close(trainer.compute_loss(student, dict(batch)), expected)

    before = trainer.evaluate()  # the eval set has no teacher logits: plain cross-entropy
    trainer.train()
    after = trainer.evaluate()
    assert after["eval_loss"] < before["eval_loss"]
    assert after["eval_f1"] > max(before["eval_f1"] + 0.3, 0.7), (before, after, teacher_f1)


def test_augmented_copies_replace_words_by_words_of_the_same_tag():
    tokens = [["Kohl", "met", "Yeltsin", "in", "Bonn"], ["Graf", "won", "in", "Paris"]]
    tags = [[1, 0, 1, 0, 5], [1, 0, 0, 5]]  # B-PER, O, B-LOC
    copies = augment_sentences(tokens, tags, copies=3, rate=0.5, seed=0)
    assert len(copies) == 6
    assert [len(c) for c in copies] == [5, 4] * 3
    pools = {1: {"Kohl", "Yeltsin", "Graf"}, 0: {"met", "in", "won"}, 5: {"Bonn", "Paris"}}
    for copy, labels in zip(copies, tags * 3):
        assert all(word in pools[label] for word, label in zip(copy, labels))
    assert copies != tokens * 3  # some words were replaced
    assert augment_sentences(tokens, tags, copies=3, rate=0.5, seed=0) == copies
    assert augment_sentences(tokens, tags, copies=2, rate=0.0, seed=0) == tokens * 2
    with pytest.raises(ConfigError, match="rate in"):
        augment_sentences(tokens, tags, copies=1, rate=1.5, seed=0)
