"""finer: DistilBERT on ``finer-selected-4-labels`` (4 XBRL types selected from FiNER-139).

    accelerate launch recipes/finer.py                 # the published system (nlpaueb/finer-139)
    accelerate launch recipes/finer.py --preset tiny   # offline: generated FiNER-schema data, tiny model
"""

from pathlib import Path

from hubtools.recipe import recipe_main

if __name__ == "__main__":
    recipe_main(__doc__.splitlines()[0], Path(__file__).parent / "configs" / "finer.yaml")
