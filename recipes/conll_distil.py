"""conll_distil: a BERT NER teacher distilled into a DistilBERT student on CoNLL-2003.

    accelerate launch recipes/conll_distil.py                   # dslim/bert-base-NER -> distilbert-base-cased
    accelerate launch recipes/conll_distil.py --preset tiny     # offline: generated CoNLL data, tiny models
    accelerate launch recipes/conll_distil.py --search-budget 2 data.source=/path/to/conll2003

The student is the run's model (RUN/model); see hubtools.families.distillation.recipe for the runs beside it.
"""

from pathlib import Path

from hubtools.families.distillation.recipe import DistillationRecipe
from hubtools.recipe.cli import Shortcut, recipe_main

SEARCH_BUDGET = Shortcut("--search-budget", "distillation.search_budget", "at most N (alpha, temperature) pairs", "N")

if __name__ == "__main__":
    recipe_main(DistillationRecipe, __doc__, Path(__file__).parent / "configs" / "conll_distil.yaml",
                shortcuts=(SEARCH_BUDGET,))
