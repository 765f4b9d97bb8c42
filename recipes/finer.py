"""finer: DistilBERT on ``finer-selected-4-labels`` (4 XBRL types selected from FiNER-139).

    accelerate launch recipes/finer.py                 # the published system (nlpaueb/finer-139)
    accelerate launch recipes/finer.py --preset tiny   # offline: generated FiNER-schema data, tiny model
"""

from pathlib import Path

from hubtools.recipe.cli import recipe_main
from hubtools.token_classification import TokenClassificationRecipe

if __name__ == "__main__":
    recipe_main(TokenClassificationRecipe, __doc__, Path(__file__).parent / "configs" / "finer.yaml")
