"""Entity-level scores (seqeval), per-type table, token accuracy and the type confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hubtools.data.schemes import entity_type
from hubtools.results import Confusion, TestScores, TypeScores


def entity_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Micro precision/recall/F1 over entities (seqeval, default conlleval-style mode), token accuracy,
    and a per-type table ``{type: {precision, recall, f1, support}}``."""
    from seqeval.metrics import accuracy_score, classification_report  # loads scikit-learn (~1 s): when scoring

    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted")
    for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} gold tags but {len(p)} predicted")
    true_tags = [list(t) for t in true_tags]
    pred_tags = [list(p) for p in pred_tags]
    report = classification_report(true_tags, pred_tags, output_dict=True, zero_division=0)
    per_type = {
        name: {"precision": float(v["precision"]), "recall": float(v["recall"]),
               "f1": float(v["f1-score"]), "support": int(v["support"])}
        for name, v in report.items() if not name.endswith(" avg")
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(accuracy_score(true_tags, pred_tags)),
        "num_sentences": len(true_tags),
        "num_words": sum(len(t) for t in true_tags),
        "per_type": dict(sorted(per_type.items())),
    }


def io_entities(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Entities as maximal runs of one type, prefixes ignored: ``(start, end, type)`` with ``end`` exclusive.

    This is how IO-tagged data (Few-NERD) is scored: ``B-X I-X B-X`` is one entity, not two.
    """
    spans: set[tuple[int, int, str]] = set()
    start, current = 0, None
    for i, typ in enumerate([*map(entity_type, tags), None]):
        if typ != current:
            if current is not None:
                spans.add((start, i, current))
            start, current = i, typ
    return spans


def io_entity_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """Micro precision/recall/F1 over IO entities (see :func:`io_entities`), the literature's Few-NERD score."""
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted")
    gold = pred = correct = 0
    for t, p in zip(true_tags, pred_tags):
        t_spans, p_spans = io_entities(t), io_entities(p)
        gold, pred, correct = gold + len(t_spans), pred + len(p_spans), correct + len(t_spans & p_spans)
    precision = correct / pred if pred else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def type_confusion(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]],
                   types: Sequence[str]) -> dict:
    """Word-level confusion between entity types (B-/I- prefixes dropped); rows are gold, columns predicted.

    Returns ``{"labels": ["O", *types], "matrix": [[int]]}``.
    """
    labels = ["O", *types]
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t_seq, p_seq in zip(true_tags, pred_tags):
        for t, p in zip(t_seq, p_seq):
            matrix[index[entity_type(t) or "O"], index[entity_type(p) or "O"]] += 1
    return {"labels": labels, "matrix": matrix.tolist()}


def ids_to_tags(sequences: Sequence[Sequence[int]], label_names: Sequence[str]) -> list[list[str]]:
    """Map label ids to tag names."""
    return [[label_names[i] for i in seq] for seq in sequences]


def test_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]],
                types: Sequence[str], split: str = "test") -> TestScores:
    """The run's typed ``test`` section of ``split``: :func:`entity_scores` with the type confusion over
    ``types``."""
    scores = entity_scores(true_tags, pred_tags)
    per_type = {name: TypeScores(**row) for name, row in scores.pop("per_type").items()}
    return TestScores(**scores, per_type=per_type, confusion=Confusion(**type_confusion(true_tags, pred_tags,
                                                                                         types)), split=split)
