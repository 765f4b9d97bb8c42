"""multinerd: SpanMarker on the English part of MultiNERD, System A (all types) or B (5 types), with ONNX.

    accelerate launch recipes/multinerd.py --system A               # Babelscape/multinerd, every English type
    accelerate launch recipes/multinerd.py --system B               # PER, ORG, LOC, DIS, ANIM; others -> O
    accelerate launch recipes/multinerd.py --system A,B --output-dir runs/multinerd   # DIR/A, DIR/B, comparison
    accelerate launch recipes/multinerd.py --system B --preset tiny # offline: generated data, tiny encoder
"""

from pathlib import Path

from hubtools.families.span_marker.recipe import SpanMarkerRecipe
from hubtools.recipe.cli import Variants, recipe_main

SYSTEMS = Variants("--system", {"A": [], "B": ["data.types=[PER, ORG, LOC, DIS, ANIM]"]}, default="A",
                   help="System A keeps every English type, B keeps PER, ORG, LOC, DIS and ANIM",
                   suffix_output_dir=True)

if __name__ == "__main__":
    recipe_main(SpanMarkerRecipe, __doc__, Path(__file__).parent / "configs" / "multinerd.yaml", SYSTEMS)
