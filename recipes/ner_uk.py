"""ner_uk: RNN / GRU / LSTM taggers over WordPiece pieces trained from scratch on Ukrainian NER (PERS/LOC/ORG/MISC).

    accelerate launch recipes/ner_uk.py --cell gru                   # benjamin/ner-uk from the Hub
    accelerate launch recipes/ner_uk.py --cell gru --preset tiny     # offline: generated ner-uk-schema data
    accelerate launch recipes/ner_uk.py data.source=PATH/ner-uk/v1.0 # lang-uk brat files + dev-test-split.txt
    python recipes/ner_uk.py --compare rnn,gru,lstm --preset tiny    # the three cells, same settings
"""

from pathlib import Path

from hubtools.families.rnn_tagger.configuration_rnn_tagger import CELLS
from hubtools.families.rnn_tagger.recipe import RnnTaggerRecipe
from hubtools.recipe.cli import Variants, recipe_main

CELL = Variants("--cell", {cell: [] for cell in CELLS}, help="recurrent cell (default: the configuration's system)",
                compare_flag="--compare")

if __name__ == "__main__":
    recipe_main(RnnTaggerRecipe, __doc__, Path(__file__).parent / "configs" / "ner_uk.yaml", CELL)
