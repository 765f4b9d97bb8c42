"""fewnerd: bert-base-uncased on Few-NERD (supervised), coarse (8 types) or fine (66 types).

    accelerate launch recipes/fewnerd.py --granularity coarse   # DFKI-SLT/few-nerd, ner_tags
    accelerate launch recipes/fewnerd.py --granularity fine     # DFKI-SLT/few-nerd, fine_ner_tags
    python recipes/fewnerd.py --preset tiny --granularity fine  # offline: generated Few-NERD-schema data

Few-NERD is tagged IO (bare type names). The loader converts it to IOB2, so two adjacent entities of the same
type merge into one entity. results.json has the BIO entity scores (``test``, seqeval), the scores of the
literature over maximal runs of one type (extra score ``io``) and the published numbers of the chosen
granularity (extra score ``reference``).
"""

from pathlib import Path

from hubtools.families.token_classification.recipe import TokenClassificationRecipe
from hubtools.recipe.cli import Variants, recipe_main

GRANULARITY = Variants("--granularity", {
    "coarse": ["data.tags_column=ner_tags", "data.name=few-nerd-supervised-coarse"],
    "fine": ["data.tags_column=fine_ner_tags", "data.name=few-nerd-supervised-fine"],
}, default="coarse", help="coarse: 8 types (ner_tags); fine: 66 types (fine_ner_tags)", suffix_output_dir=True)

if __name__ == "__main__":
    recipe_main(TokenClassificationRecipe, __doc__, Path(__file__).parent / "configs" / "fewnerd.yaml", GRANULARITY)
