"""The WordPiece vocabulary of the tiny models (:mod:`hubtools.families.token_classification.wordpiece`): tokenizers'
merges with the ``##`` pieces
numbered in sorted order, so one set of words always gives one vocabulary and one tokenization."""

from __future__ import annotations

from hubtools.data.generate_conll import generate_conll
from hubtools.families.token_classification.model import SPECIAL_TOKENS, train_wordpiece_tokenizer
from hubtools.families.token_classification.wordpiece import wordpiece_vocabulary


def test_merges_take_the_most_frequent_pair_and_the_pair_of_smaller_ids_on_ties():
    counts = {"cd": 2, "ab": 2, "abe": 1}
    # every character, the ## forms (both sorted), then (a, ##b) seen 3 times, (c, ##d) twice, (ab, ##e) once
    assert wordpiece_vocabulary(counts, 100, ["[UNK]"]) == ["[UNK]", "a", "b", "c", "d", "e", "##b", "##d", "##e",
                                                            "ab", "cd", "abe"]
    assert wordpiece_vocabulary({"ab": 1, "cd": 1}, 100) == ["a", "b", "c", "d", "##b", "##d", "ab", "cd"]
    assert wordpiece_vocabulary({"cd": 1, "ab": 1}, 7) == ["a", "b", "c", "d", "##b", "##d", "ab"]  # order given: moot
    # (##a, ##a) twice; then a tie of (a, ##aa) and (##aa, ##a): the pair of the smaller ids, a before ##aa, first
    assert wordpiece_vocabulary({"aaaa": 1}, 100) == ["a", "##a", "##aa", "aaa", "aaaa"]


def test_the_tiny_tokenizer_is_the_same_on_every_training():
    """tokenizers' trainer gave two tokenizations of this sentence on 100 trainings (huggingface/tokenizers#1794);
    the tiny CoNLL preset's words gave two vocabularies too."""
    issue = [["Wel", "come", "to", "the", "Tok", "en", "izers", "libr", "ary", "."]]
    tokenizations = {tuple(train_wordpiece_tokenizer(issue, 30).tokenize("Welcome to the Tokenizers library."))
                     for _ in range(30)}
    assert len(tokenizations) == 1
    train = generate_conll(num_sentences=600, seed=0)["train"]["tokens"]
    vocabularies = {tuple(sorted(train_wordpiece_tokenizer(train, 400).get_vocab().items())) for _ in range(5)}
    assert len(vocabularies) == 1
    vocab = train_wordpiece_tokenizer(train, 400).get_vocab()
    assert len(vocab) == 400 and [token for token, _ in sorted(vocab.items(), key=lambda kv: kv[1])][:5] == \
        SPECIAL_TOKENS
    assert train_wordpiece_tokenizer(train, 400).tokenize("Paris") == ["paris"]
