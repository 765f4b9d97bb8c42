"""ner_uk: RNN / GRU / LSTM taggers over WordPiece pieces trained from scratch on Ukrainian NER (PERS/LOC/ORG/MISC).

    accelerate launch recipes/ner_uk.py --cell gru                   # benjamin/ner-uk from the Hub
    accelerate launch recipes/ner_uk.py --cell gru --preset tiny     # offline: generated ner-uk-schema data
    accelerate launch recipes/ner_uk.py data.source=PATH/ner-uk/v1.0 # lang-uk brat files + dev-test-split.txt
    python recipes/ner_uk.py --compare rnn,gru,lstm --preset tiny    # the three cells, same settings
"""

from pathlib import Path

from hubtools.recipe import recipe_main
from hubtools.rnn.recipe import add_cell_arguments, cell_overrides, run_rnn_recipe

if __name__ == "__main__":
    recipe_main(__doc__.splitlines()[0], Path(__file__).parent / "configs" / "ner_uk.yaml", run=run_rnn_recipe,
                extra_args=add_cell_arguments, to_overrides=cell_overrides)
