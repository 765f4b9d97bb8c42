import pytest

from hubtools.data.schemes import detect_scheme, iob2_label_names, split_tag, to_iob2, types_of


@pytest.mark.parametrize(
    "tags, scheme, expected",
    [
        # IOB1: I- starts an entity; B- only separates two adjacent entities of the same type
        (["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1", ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]),
        # IOB1: a type change without B- starts a new entity
        (["I-ORG", "I-LOC", "I-LOC"], "IOB1", ["B-ORG", "B-LOC", "I-LOC"]),
        # IOB1: first token of the sentence, and right after O
        (["I-MISC"], "IOB1", ["B-MISC"]),
        (["O", "I-MISC", "I-MISC", "O", "I-MISC"], "IOB1", ["O", "B-MISC", "I-MISC", "O", "B-MISC"]),
        # IOB2 stays as it is, a stray I- after O is repaired
        (["B-PER", "I-PER", "O", "I-LOC"], "IOB2", ["B-PER", "I-PER", "O", "B-LOC"]),
        # BIOES: S- is a one-token entity, E- closes
        (["S-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "O"], "BIOES",
         ["B-PER", "B-PER", "B-LOC", "I-LOC", "I-LOC", "O"]),
        (["B-ORG", "E-ORG", "B-ORG", "E-ORG"], "BIOES", ["B-ORG", "I-ORG", "B-ORG", "I-ORG"]),
        # IO (Few-NERD): bare type names; adjacent same-type words merge into one entity
        (["person-actor", "person-actor", "O", "art-film", "location-GPE"], "IO",
         ["B-person-actor", "I-person-actor", "O", "B-art-film", "B-location-GPE"]),
    ],
)
def test_to_iob2(tags, scheme, expected):
    assert to_iob2(tags, scheme) == expected


def test_detect_scheme():
    assert detect_scheme([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "IOB2"
    assert detect_scheme([["I-PER", "I-PER", "O"], ["B-LOC"]]) == "IOB1"
    assert detect_scheme([["S-PER", "O"], ["B-LOC", "E-LOC"]]) == "BIOES"
    assert detect_scheme([["art-film", "O"]]) == "IO"
    assert detect_scheme([["I-PER", "O", "I-LOC"]]) == "IO"
    assert detect_scheme([["O", "O"]]) == "IOB2"


def test_split_tag_and_labels():
    assert split_tag("B-person-actor") == ("B", "person-actor")
    assert split_tag("person-actor") == ("I", "person-actor")
    assert split_tag("O") == ("O", None)
    assert iob2_label_names(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    assert types_of(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) == ["PER", "LOC"]


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown tagging scheme"):
        to_iob2(["O"], "BILOU2")
