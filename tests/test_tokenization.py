import random

import numpy as np
from helpers import LABELS, tiny_dataset, tiny_tokenizer

from hubtools.tokenization import IGNORE, merge_word_predictions, plan_windows, tokenize_dataset


def test_first_subtoken_carries_the_label():
    tok = tiny_tokenizer()
    ds = tiny_dataset()
    feats = tokenize_dataset(ds, tok, max_length=64)
    assert len(feats) == len(ds)
    for row, src in zip(feats, ds):
        labelled = [i for i, w in enumerate(row["word_index"]) if w != IGNORE]
        assert [row["word_index"][i] for i in labelled] == list(range(len(src["tokens"])))
        assert [row["labels"][i] for i in labelled] == src["ner_tags"]
        assert sum(label != IGNORE for label in row["labels"]) == len(src["tokens"])
    # a word split into several sub-tokens has -100 on its continuation pieces
    long_word_row = feats[2]
    assert len(long_word_row["input_ids"]) > len(ds[2]["tokens"]) + 2
    assert long_word_row["input_ids"][0] == tok.cls_token_id


def test_plan_windows_cover_every_word_and_overlap():
    rng = random.Random(0)
    lengths = [rng.randint(1, 4) for _ in range(500)]
    windows = plan_windows(lengths, budget=30, stride=8)
    covered = set()
    for a, b in windows:
        assert sum(lengths[a:b]) <= 30 or b - a == 1
        covered.update(range(a, b))
    assert covered == set(range(500))
    assert all(windows[i + 1][0] < windows[i][1] for i in range(len(windows) - 1))  # overlapping
    assert all(windows[i + 1][1] > windows[i][1] for i in range(len(windows) - 1))  # progressing


def test_a_2000_word_sentence_is_fully_scored():
    tok = tiny_tokenizer()
    words, tags = [], []
    rng = random.Random(1)
    pool = [(s, t) for s, t in zip(tiny_dataset()["tokens"], tiny_dataset()["ner_tags"])]
    while len(words) < 2000:
        s, t = pool[rng.randrange(len(pool))]
        words += s
        tags += t
    words, tags = words[:2000], tags[:2000]
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    ds = Dataset.from_dict({"tokens": [words, ["short"]], "ner_tags": [tags, [0]]}, features=features)
    feats = tokenize_dataset(ds, tok, max_length=64, stride=16)
    assert len(feats) > 40  # many windows for the long sentence, one for the short one
    assert max(len(ids) for ids in feats["input_ids"]) <= 64
    # "predict" each word's gold label from the features and merge: every word comes back exactly
    preds = [[lab if lab != IGNORE else 0 for lab in row] for row in feats["labels"]]
    merged = merge_word_predictions(preds, feats, [len(words), 1])
    assert merged[0] == tags
    assert merged[1] == [0]


def test_merge_prefers_the_most_central_window():
    from datasets import Dataset

    feats = Dataset.from_dict({
        "example_index": [0, 0],
        "window_start": [0, 2],
        "window_end": [4, 6],
        "word_index": [[-100, 0, 1, 2, 3, -100], [-100, 2, 3, 4, 5, -100]],
    })
    preds = np.array([[0, 1, 1, 1, 1, 0], [0, 2, 2, 2, 2, 0]])
    # word 2: centrality 1 in window 0 (min(2, 1)), 0 in window 1 -> window 0; word 3: 0 vs 1 -> window 1
    assert merge_word_predictions(preds, feats, [6]) == [[1, 1, 1, 2, 2, 2]]
