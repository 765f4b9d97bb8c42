"""The original ner-uk notebook's score, kept only to compare with its reported 0.135.

Reading used (the notebook averaged per-class scores per sentence, then over sentences):
for each sentence, for each entity tag ``c`` of ``labels`` (default: every tag other than ``"O"`` seen
in ``true_tags`` or ``pred_tags`` of the whole corpus), the token-level F1 of ``c`` in that sentence
(precision and recall over the sentence's tokens; 0 when the sentence has neither a true nor a predicted
``c``, i.e. sklearn's ``f1_score(..., labels=labels, average="macro", zero_division=0)``); the sentence
score is the mean over ``labels`` and the result is the mean over sentences. Sentences without entities
therefore score 0 even when predicted perfectly, which is why the number is far below entity-level F1.
Use seqeval (hubtools.metrics) for real evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence


def per_class_mean_score(
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    labels: Sequence[str] | None = None,
) -> float:
    """Mean over sentences of the mean over ``labels`` of the per-sentence token-level F1 (see module doc)."""
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true sentences but {len(pred_tags)} predicted")
    for i, (true, pred) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(true) != len(pred):
            raise ValueError(f"sentence {i}: {len(true)} true tags but {len(pred)} predicted")
    if labels is None:
        labels = sorted({t for sent in (*true_tags, *pred_tags) for t in sent if t != "O"})
    if not labels or not true_tags:
        return 0.0
    total = 0.0
    for true, pred in zip(true_tags, pred_tags, strict=True):
        sentence = 0.0
        for label in labels:
            hits = sum(t == p == label for t, p in zip(true, pred, strict=True))
            denominator = sum(t == label for t in true) + sum(p == label for p in pred)
            sentence += 2 * hits / denominator if denominator else 0.0
        total += sentence / len(labels)
    return total / len(true_tags)
