"""finer: DistilBERT on ``finer-selected-4-labels`` (4 XBRL types selected from FiNER-139).

    accelerate launch recipes/finer.py                 # the published system (nlpaueb/finer-139)
    accelerate launch recipes/finer.py --preset tiny   # offline: generated FiNER-schema data, tiny model
"""

from pathlib import Path

from hubtools.families.token_classification.recipe import TokenClassificationRecipe
from hubtools.recipe.cli import recipe_main

if __name__ == "__main__":
    recipe_main(TokenClassificationRecipe, __doc__, Path(__file__).parent / "configs" / "finer.yaml")
