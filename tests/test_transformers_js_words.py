"""The word-level reading of per-token pipeline output (tests/transformers_js.py), on hand-made tokens: the
fast tier's check of what tests/test_transformers_js.py and scripts/check_browser.py compare."""

from __future__ import annotations

from transformers_js import compare, sentence_text, word_labels, word_spans

WORDS = ["Revenue", "was", "U.S.", "$", "3.5bn", "."]
# "[CLS] revenue was u . s . $ 3 . 5 ##bn . [SEP]" with its character offsets in "Revenue was U.S. $ 3.5bn ."
OFFSETS = [[0, 0], [0, 7], [8, 11], [12, 13], [13, 14], [14, 15], [15, 16], [17, 18], [19, 20], [20, 21],
           [21, 22], [22, 24], [25, 26], [0, 0]]


def tokens(labels: dict[int, str]) -> list[dict]:
    return [{"index": i, "entity": labels.get(i, "O"), "score": 0.5} for i in range(1, 13)]


def test_spans_follow_the_joined_sentence():
    text = sentence_text(WORDS)
    assert [text[a:b] for a, b in word_spans(WORDS)] == WORDS


def test_a_word_takes_the_label_of_its_first_sub_token():
    # "U.S." is four tokens (the pre-tokenizer splits punctuation), "3.5bn" four: only the first counts
    labels = word_labels(WORDS, OFFSETS, tokens({3: "B-LOC", 4: "I-LOC", 5: "O", 8: "B-MONEY", 11: "I-MONEY"}))
    assert labels == ["O", "O", "B-LOC", "O", "B-MONEY", "O"]
    # the order of the tokens in the output does not matter, their index does
    assert word_labels(WORDS, OFFSETS, list(reversed(tokens({3: "B-LOC"})))) == ["O", "O", "B-LOC", "O", "O", "O"]


def test_words_without_tokens_have_no_label():
    truncated = OFFSETS[:8] + [[0, 0]]  # the tokenizer stopped after "$"
    got = word_labels(WORDS, truncated, [{"index": i, "entity": "O", "score": 1.0} for i in range(1, 8)])
    assert got == ["O", "O", "O", "O", None, None]


def test_compare_counts_words_not_tokens():
    a = tokens({1: "B-ORG", 4: "I-LOC"})  # 4 is the second token of "U.S.": not a word's label
    b = tokens({1: "B-ORG"})
    agreement = compare("a vs b", [WORDS], [{"offsets": OFFSETS}], [a], [b])
    assert (agreement.same, agreement.words, agreement.fraction) == (6, 6, 1.0)
    assert (agreement.entity_same, agreement.entity_words) == (1, 1)
    worse = compare("a vs c", [WORDS], [{"offsets": OFFSETS}], [a], [tokens({1: "B-PER"})])
    assert worse.same == 5 and worse.disagreements == ["sentence 0 word 0 'Revenue': B-ORG vs B-PER"]
