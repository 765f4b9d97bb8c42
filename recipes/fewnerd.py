"""fewnerd: bert-base-uncased on Few-NERD (supervised), coarse (8 types) or fine (66 types).

    accelerate launch recipes/fewnerd.py --granularity coarse   # DFKI-SLT/few-nerd, ner_tags
    accelerate launch recipes/fewnerd.py --granularity fine     # DFKI-SLT/few-nerd, fine_ner_tags
    python recipes/fewnerd.py --preset tiny --granularity fine  # offline: generated Few-NERD-schema data

Few-NERD is tagged IO (bare type names). The loader converts it to IOB2, so two adjacent entities of the same
type merge into one entity. results.json has the BIO entity scores (``test``, seqeval) and the scores of the
literature, over maximal runs of one type (``test_io``); ``options.reference`` holds the published numbers of
the chosen granularity.
"""

import argparse
from pathlib import Path

from hubtools.config import RecipeConfig
from hubtools.metrics import io_entity_scores
from hubtools.recipe import recipe_main, run_token_classification

TAGS_COLUMNS = {"coarse": "ner_tags", "fine": "fine_ner_tags"}


def add_granularity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--granularity", choices=sorted(TAGS_COLUMNS), default="coarse",
                        help="coarse: 8 types (ner_tags); fine: 66 types (fine_ner_tags)")


def granularity_overrides(args: argparse.Namespace) -> list[str]:
    suffix = f"{args.preset}-{args.granularity}" if args.preset else args.granularity
    return [f"data.tags_column={TAGS_COLUMNS[args.granularity]}", f"system={args.granularity}",
            f"data.name=few-nerd-supervised-{args.granularity}", f"output_dir=runs/fewnerd-{suffix}"]


def run(cfg: RecipeConfig) -> Path:
    """The shared stages, with ``options.reference`` picked from ``options.references`` by granularity and the
    IO entity scores in results.json ``test_io``."""
    references = cfg.options.pop("references", {})
    if cfg.system in references:
        cfg.options["reference"] = references[cfg.system]
    return run_token_classification(cfg, extra_metrics=lambda gold, pred: {"test_io": io_entity_scores(gold, pred)})


if __name__ == "__main__":
    recipe_main(__doc__.splitlines()[0], Path(__file__).parent / "configs" / "fewnerd.yaml", run,
                add_granularity, granularity_overrides)
