"""ner: your own dataset and your own encoder.

    accelerate launch recipes/ner.py --data SRC --model ID_OR_PATH [--output-dir DIR] [section.key=value ...]
    python recipes/ner.py --preset tiny            # offline: generated CoNLL-2003-schema data, tiny BERT

SRC is anything ``data.source`` takes: a Hub dataset id (``data.config_name``, ``data.revision``,
``data.tokens_column`` / ``data.tags_column``, ``data.label_names`` for integer tags), or local files (CoNLL /
IOB column files in any scheme, parquet, JSON lines, a brat folder). Without a validation split one is carved
from train (stratified, seeded); without a test split the run is scored on validation and the card says so.
The model's name, language, license and widget sentences come from the data and the encoder unless the
configuration gives them.
"""

from pathlib import Path

from hubtools.families.token_classification.recipe import TokenClassificationRecipe
from hubtools.recipe.cli import Shortcut, recipe_main

SHORTCUTS = (Shortcut("--data", "data.source", "the dataset: a Hub id, a local file or folder, or generate:NAME",
                      "SRC"),
             Shortcut("--model", "model.name_or_path", "the pretrained encoder: a Hub id or a local folder",
                      "ID_OR_PATH"))

if __name__ == "__main__":
    recipe_main(TokenClassificationRecipe, __doc__, Path(__file__).parent / "configs" / "ner.yaml",
                shortcuts=SHORTCUTS)
