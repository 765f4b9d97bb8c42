"""What each ``hubtools`` subcommand does, over :mod:`hubtools.api` (:mod:`hubtools.cli` parses the arguments and
loads this module only once they are valid, so that ``--help`` and a wrong argument answer at once)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from hubtools.api import Run
from hubtools.cards import card_paths
from hubtools.config import data_section
from hubtools.data.inspect import format_summary, summarize
from hubtools.errors import UsageError
from hubtools.evaluation import format_evaluation
from hubtools.prediction import read_text_file, write_jsonl
from hubtools.preview import serve_preview
from hubtools.push import format_report
from hubtools.results import to_dict
from hubtools.run import write_json
from hubtools.tagging import data_argument
from hubtools.units import megabytes


def card(args: argparse.Namespace) -> int:
    Run.from_folder(args.run_dir).card(model_repo_id=args.model_repo_id, dataset_repo_id=args.dataset_repo_id,
                                       templates=args.templates)
    model_card, dataset_card = card_paths(args.run_dir)
    print(f"model card: {model_card}\ndataset card: {dataset_card}")
    return 0


def check(args: argparse.Namespace) -> int:
    problems = Run.from_folder(args.run_dir).check(args.repo_id, args.dataset_repo_id)
    for problem in problems:
        print(f"- {problem}")
    print("cards OK" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


def export(args: argparse.Namespace) -> int:
    export = Run.from_folder(args.run_dir).export(device=args.device, benchmark=False if args.no_benchmark else None,
                                                  max_f1_drop=args.max_f1_drop)
    for v in export.variants:
        status = v.status if v.passed else f"failed: {v.reason}"
        print(f"{v.name}: {status} (f1 {v.f1}, {megabytes(v.size_bytes)} MB)")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    if args.data_option and not args.data:
        raise UsageError(f"--data-option {args.data_option[0]}: needs --data SRC")
    if args.output:
        check_output_file(args.output)
    data = data_argument(args.data, args.data_option) if args.data else None
    from accelerate import PartialState  # torch: only where a model is scored

    main_process = PartialState().is_main_process
    if args.variant != "pytorch" and not main_process:
        return 0  # ONNX Runtime scores in the main process
    run = load_model(args)
    evaluation = run.evaluate(data, split=args.split, label_map=args.label_map, batch_size=args.batch_size)
    if not main_process:
        return 0
    print(format_evaluation(evaluation))
    if data is not None and run.folder is not None and not args.no_record:
        run.record(evaluation)
        print(f"\nrecorded in {run.folder / 'results.json'} (evaluations); `hubtools card {run.folder}` "
              "puts it into the model card and its model-index")
    if args.output:
        write_json(args.output, to_dict(evaluation))
    return 0


def load_model(args: argparse.Namespace) -> Run:
    """RUN_OR_REPO loaded as ``--variant``, ``--revision`` and ``--trust-remote-code`` say (evaluate, predict)."""
    return Run.load(args.model, variant=args.variant, revision=args.revision,
                    trust_remote_code=args.trust_remote_code)


def check_output_file(path: Path, flag: str = "--output") -> None:
    """UsageError naming ``flag`` when no file can be written at ``path`` (a folder, under a file, in a folder
    where no file can be created: tried with a temporary file), checked before any work."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: a folder; give the name of the file to write")
    folder = next(p for p in path.absolute().parents if p.exists())
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: {folder} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot write in {folder} ({err.strerror or type(err).__name__})") from None


def push(args: argparse.Namespace) -> int:
    report = Run.from_folder(args.run_dir).push(
        args.repo_id, dataset_repo_id=args.dataset_repo_id, space_repo_id=args.space, private=args.private,
        visibility=args.visibility, revision=args.revision, commit_message=args.commit_message, dry_run=args.dry_run)
    print(format_report(report))
    return 0


def preview(args: argparse.Namespace) -> int:
    serve_preview(args.run_dir, args.port, args.node_modules)
    return 0


def data(args: argparse.Namespace) -> int:
    summary = summarize(data_section(args.source, args.overrides), head=args.head, build=args.build)
    print(format_summary(summary, as_json=args.json))
    return 0


def predict(args: argparse.Namespace) -> int:
    if args.data_option and not args.data:
        raise UsageError(f"--data-option {args.data_option[0]}: needs --data SRC")
    check_output_file(args.output)
    run = load_model(args)
    if args.text:
        rows, where = run.predict(read_text_file(args.text, args.encoding), batch_size=args.batch_size), ""
    else:
        rows = run.predict(data=data_argument(args.data, args.data_option), split=args.split,
                           batch_size=args.batch_size)
        splits = list(dict.fromkeys(row["split"] for row in rows))
        where = f" of split {splits[0]}" if len(splits) == 1 else f" of the splits {', '.join(splits)}"
    count = write_jsonl(args.output, rows)
    print(f"{count} sentences{where} tagged by {args.model} ({args.variant}): {args.output}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "card": card, "check": check, "export": export, "evaluate": evaluate, "predict": predict, "push": push,
    "preview": preview, "data": data}
