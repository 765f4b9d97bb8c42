"""The ``hubtools`` command: check a data source, render and check cards, export a run to ONNX, score and tag
with a model (evaluate, predict), preview a run's card and demo Space, publish a run to the Hub."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hubtools.errors import run_reporting_errors
from hubtools.results import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hubtools``."""
    parser = argparse.ArgumentParser(prog="hubtools", description=__doc__.replace("``", ""))  # plain text
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error (or HUBTOOLS_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    card = sub.add_parser("card", help="render the model and dataset cards of a run folder")
    card.add_argument("run_dir", type=Path)
    card.add_argument("--model-repo-id", help="model repo the cards link to")
    card.add_argument("--dataset-repo-id", help="dataset repo the cards link to")
    card.add_argument("--templates", type=Path, help="folder of card templates replacing the shipped ones of "
                      "the same name (default: the run's publish.templates)")

    check = sub.add_parser("check", help="validate the cards of a run folder and what a push would publish "
                           "(the Hub's metadata rules, no machine path), offline")
    check.add_argument("run_dir", type=Path)
    check.add_argument("--repo-id", help="model repo to check the published card for (default: publish.model_repo_id)")
    check.add_argument("--dataset-repo-id", help="dataset repo (default: publish.dataset_repo_id)")

    export = sub.add_parser("export", help="export, quantize, verify and benchmark a run's model with ONNX "
                            "(transformers, SpanMarker and RNN-tagger runs)")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--device", choices=["cpu", "cuda"])
    export.add_argument("--no-benchmark", action="store_true")
    export.add_argument("--max-f1-drop", type=float, help="F1 points a variant may lose before it is refused")

    evaluate = sub.add_parser(
        "evaluate", help="score a run folder, model folder or Hub model repo on words, on a split of its own saved "
        "data or of another dataset (types matched by name or --label-map); same scores with 1 or N processes "
        "(accelerate launch)")
    _model_arguments(evaluate, "pytorch")
    evaluate.add_argument("--data", metavar="SRC", help="Hub dataset id, local file or folder, or generate:NAME "
                          "(default: the run's own saved splits); the scores are recorded in the run's results.json")
    _data_options(evaluate)
    evaluate.add_argument("--split", help="the split scored (default: the only split of a source that has one, such "
                          "as a single file, else test; for the run's own saved splits, the one the run was scored on)")
    evaluate.add_argument("--label-map", metavar="MODEL=DATA,...", help="score model type MODEL as data type DATA "
                          "(types of the same name match without it)")
    evaluate.add_argument("--no-record", action="store_true", help="do not add the scores to the run's results.json")
    evaluate.add_argument("--output", type=Path, help="write the evaluation as JSON")

    predict = sub.add_parser(
        "predict", help="tag every sentence of a dataset or a text file with a run folder, model folder or Hub "
        "model repo (int8 ONNX by default, long sentences windowed) and write JSON lines")
    _model_arguments(predict, "onnx_int8")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="SRC", help="Hub dataset id, local file or folder, or generate:NAME")
    source.add_argument("--text", type=Path, metavar="FILE", help="a text file, one sentence per line, words split "
                        "at whitespace")
    _data_options(predict)
    predict.add_argument("--split", help="the split of --data to tag (default: every split)")
    predict.add_argument("--encoding", default="utf-8", help="of --text (default utf-8)")
    predict.add_argument("--output", type=Path, required=True, help="the JSON lines file written")

    push = sub.add_parser("push", help="publish a run folder (model, ONNX, dataset, cards) to the Hub")
    push.add_argument("run_dir", type=Path)
    push.add_argument("--repo-id", help="model repo, as namespace/name (default: publish.model_repo_id)")
    push.add_argument("--dataset-repo-id", help="dataset repo, as namespace/name (default: publish.dataset_repo_id)")
    push.add_argument("--space", metavar="NS/NAME", help="also publish the demo Space (a static page that tags text "
                      "with the int8 ONNX file in the browser) to this Space repo; the model card links it")
    push.add_argument("--private", action="store_true", help="create the repos private (an existing public repo is "
                      "refused: see --visibility)")
    push.add_argument("--visibility", choices=["private", "public"], help="create the repos so, or change the "
                      "visibility of existing ones to it")
    push.add_argument("--revision", help="branch to commit to (created if missing)")
    push.add_argument("--commit-message")
    push.add_argument("--dry-run", action="store_true", help="check everything and print, per repo, the exact files "
                      "that would be published and those left out; touch nothing")

    preview = sub.add_parser("preview", help="serve a run's model card (as the Hub renders it) and its demo Space "
                             "page on 127.0.0.1, before anything is pushed")
    preview.add_argument("run_dir", type=Path)
    preview.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0: any free port)")
    preview.add_argument("--node-modules", type=Path, metavar="DIR", help="load Transformers.js and ONNX Runtime "
                         "Web from this node_modules folder instead of jsdelivr (offline; the pinned version)")

    data = sub.add_parser("data", help="load and validate a data source as a recipe would, and summarize it")
    data.add_argument("source", help="Hub dataset id, local file or folder, or generate:NAME (data.source)")
    data.add_argument("overrides", nargs="*", help="data.key=value settings, as in a recipe (e.g. data.scheme=IOB1)")
    data.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    data.add_argument("--head", type=int, default=3, help="first rows shown per split (default 3)")
    data.add_argument("--build", action="store_true", help="summarize the splits a recipe would train on "
                      "(selection, remapping, split, caps applied) instead of the source splits")
    for subparser in sub.choices.values():
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                               help="print the traceback of an error (or HUBTOOLS_DEBUG=1)")
    return parser


def _model_arguments(parser: argparse.ArgumentParser, variant: str) -> None:
    """RUN_OR_REPO and how to load it (evaluate, predict)."""
    parser.add_argument("model", metavar="RUN_OR_REPO", help="run folder, model folder or Hub model repo id")
    parser.add_argument("--variant", choices=VARIANTS, default=variant,
                        help=f"the PyTorch weights or an exported ONNX file (default {variant})")
    parser.add_argument("--revision", help="Hub revision of RUN_OR_REPO")
    parser.add_argument("--trust-remote-code", action="store_true", help="run the model's own code (config.json "
                        "auto_map) from its folder or repo; this project's RNN taggers load without it")
    parser.add_argument("--batch-size", type=int, default=32)


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                        help="how to read --data: a data key of the recipes, e.g. scheme=IOB1, config_name=en "
                        "(repeat for several)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a subcommand; known errors print one line and exit 2 (traceback with --debug)."""
    args = build_parser().parse_args(argv)
    # Loaded once the arguments are valid: the library takes seconds to import, --help and usage errors do not wait
    # for it (the one import inside a function that tests/test_architecture.py allows, in LAZY_IMPORTS).
    from hubtools.commands import COMMANDS

    return run_reporting_errors(f"hubtools {args.command}", lambda: COMMANDS[args.command](args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
