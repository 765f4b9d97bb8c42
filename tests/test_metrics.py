import pytest

from hubtools.metrics import entity_scores, type_confusion


def test_entity_scores_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-LOC"]]
    s = entity_scores(gold, pred)
    # gold entities: PER(2), LOC(1), ORG(1) = 4; predicted: PER, ORG, LOC = 3; correct: PER, ORG = 2
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 4)
    assert s["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert s["accuracy"] == pytest.approx(5 / 7)
    assert s["per_type"]["PER"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert s["per_type"]["LOC"]["support"] == 1 and s["per_type"]["LOC"]["f1"] == 0.0
    assert s["num_sentences"] == 2 and s["num_words"] == 7


def test_partial_span_is_not_a_match():
    s = entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert s["f1"] == 0.0 and s["accuracy"] == 0.5


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        entity_scores([["O", "O"]], [["O"]])


def test_type_confusion():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "B-LOC", "O", "O"]]
    c = type_confusion(gold, pred, ["PER", "LOC"])
    assert c["labels"] == ["O", "PER", "LOC"]
    assert c["matrix"] == [[1, 0, 0], [0, 1, 1], [1, 0, 0]]
