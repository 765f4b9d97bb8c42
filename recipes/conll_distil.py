"""conll_distil: a BERT NER teacher distilled into a DistilBERT student on CoNLL-2003.

    accelerate launch recipes/conll_distil.py                   # dslim/bert-base-NER -> distilbert-base-cased
    accelerate launch recipes/conll_distil.py --preset tiny     # offline: generated CoNLL data, tiny models
    accelerate launch recipes/conll_distil.py --search-budget 2 data.source=/path/to/conll2003

The student is the run's model (RUN/model); see hubtools.recipe_distillation for the stages and sibling runs.
"""

from pathlib import Path

from hubtools.recipe import recipe_main
from hubtools.recipe_distillation import run_distillation


def search_budget_arg(parser):
    parser.add_argument("--search-budget", type=int, help="at most N (alpha, temperature) pairs to try")


def search_budget_override(args) -> list[str]:
    return [] if args.search_budget is None else [f"distillation.search_budget={args.search_budget}"]


if __name__ == "__main__":
    recipe_main(__doc__.splitlines()[0], Path(__file__).parent / "configs" / "conll_distil.yaml",
                run=run_distillation, extra_args=search_budget_arg, to_overrides=search_budget_override)
