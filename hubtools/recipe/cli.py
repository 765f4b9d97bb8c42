"""The command line every recipe shares, and variants of a system run side by side.

    accelerate launch recipes/NAME.py [--config FILE] [--preset tiny] [--output-dir DIR] [--no-export]
                                      [--overwrite] [--restart] [VARIANT OPTION] [section.key=value ...]

(also runnable with ``python``). A recipe script names its recipe class, its default configuration and,
optionally, a :class:`Variants` option (multinerd's ``--system A,B``, fewnerd's ``--granularity``, ner_uk's
``--cell`` / ``--compare``): several comma-separated values train one run each into ``OUTPUT_DIR/VALUE``
and write ``comparison.json`` and ``comparison.png`` beside them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from accelerate import PartialState

from hubtools import plots
from hubtools.console import setup_logging, summary
from hubtools.errors import run_reporting_errors
from hubtools.recipe.base import Recipe
from hubtools.recipe.config import RecipeConfig
from hubtools.run import RunFolder, read_results, write_comparison


@dataclass
class Variants:
    """A recipe option that picks a variant of the system, or several to run side by side.

    Attributes:
        flag: the option (``--system``); its value becomes the configuration's ``system``.
        choices: variant -> its configuration overrides.
        default: the variant without the option (None: the configuration's own ``system``).
        compare_flag: a second option taking several comma-separated variants (``--compare``); without
            it, ``flag`` itself takes them.
        suffix_output_dir: a single variant writes ``OUTPUT_DIR-VARIANT`` unless an output folder is given.
    """

    flag: str
    choices: dict[str, list[str]]
    default: str | None = None
    help: str = ""
    compare_flag: str | None = None
    suffix_output_dir: bool = False
    dest: str = field(init=False)

    def __post_init__(self) -> None:
        self.dest = self.flag.lstrip("-").replace("-", "_")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        several = "" if self.compare_flag else "; several, comma-separated, run side by side"
        parser.add_argument(self.flag, default=self.default, help=f"{self.help} ({', '.join(self.choices)}"
                                                                   f"{several})")
        if self.compare_flag:
            parser.add_argument(self.compare_flag, help="comma-separated variants to train with the same "
                                                        f"settings and compare, e.g. {','.join(self.choices)}")

    def selected(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str | None]:
        """The variants the command line asks for (``[None]``: the configuration's own)."""
        raw = getattr(args, self.compare_flag.lstrip("-"), None) if self.compare_flag else None
        raw = raw or getattr(args, self.dest)
        if raw is None:
            return [None]
        values = [v.strip() for v in raw.split(",") if v.strip()]
        unknown = [v for v in values if v not in self.choices]
        if unknown or not values:
            parser.error(f"{self.flag}: unknown {unknown}; choose from {sorted(self.choices)}")
        return values

    def overrides(self, value: str | None) -> list[str]:
        return [] if value is None else [f"system={value}", *self.choices[value]]


def recipe_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every recipe shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="YAML configuration (default: the recipe's own)")
    parser.add_argument("--preset", help="preset merged over the configuration, e.g. 'tiny' (offline, minutes)")
    parser.add_argument("--output-dir", help="run folder to write (default: from the configuration)")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export stage")
    parser.add_argument("--overwrite", action="store_true", help="replace the finished run in the output folder "
                        "(moved aside only once the new run has finished; a folder that is not a run is never "
                        "replaced)")
    parser.add_argument("--restart", action="store_true", help="discard the staged work of a crashed run "
                        "(OUTPUT_DIR.partial) instead of resuming it")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error in the input or "
                        "configuration (or HUBTOOLS_DEBUG=1); without it such errors print one line, exit status 2")
    parser.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. training.num_train_epochs=2")
    return parser


@dataclass(frozen=True)
class Shortcut:
    """A recipe option standing for one configuration key (``--search-budget N`` for
    ``distillation.search_budget=N``)."""

    flag: str
    key: str
    help: str
    metavar: str = "VALUE"

    def add_argument(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.flag, dest=self.dest, metavar=self.metavar,
                            help=f"{self.help} (= {self.key}={self.metavar})")

    @property
    def dest(self) -> str:
        return "shortcut_" + self.flag.lstrip("-").replace("-", "_")

    def override(self, args: argparse.Namespace) -> list[str]:
        value = getattr(args, self.dest, None)
        return [] if value is None else [f"{self.key}={value}"]


def script_parser(doc: str, variants: Variants | None = None, shortcuts: tuple[Shortcut, ...] = ()) \
        -> argparse.ArgumentParser:
    """The command line of a recipe script: the shared arguments, its variant option and its shortcuts."""
    parser = recipe_parser(doc.strip().splitlines()[0])
    if variants:
        variants.add_arguments(parser)
    for shortcut in shortcuts:
        shortcut.add_argument(parser)
    return parser


def config_from_args(recipe: type[Recipe], args: argparse.Namespace, default_config: Path,
                     extra: list[str] | None = None) -> RecipeConfig:
    """The configuration named by the command line, ``extra`` overrides first (the user's win)."""
    overrides = list(extra or []) + list(getattr(args, "shortcut_overrides", [])) + list(args.overrides)
    if args.no_export:
        overrides.append("export.enabled=false")
    return recipe.load_config(args.config or default_config, args.preset, overrides, args.output_dir)


def variant_configs(recipe: type[Recipe], args: argparse.Namespace, default_config: Path,
                    variants: Variants | None, values: list[str | None]) -> dict[str, RecipeConfig]:
    """One configuration per selected variant, with its output folder."""
    configs = {}
    explicit = bool(args.output_dir) or any(o.startswith("output_dir=") for o in args.overrides)
    for value in values:
        cfg = config_from_args(recipe, args, default_config, variants.overrides(value) if variants else None)
        if len(values) > 1:
            cfg.output_dir = str(Path(cfg.output_dir) / value)
        elif value is not None and variants.suffix_output_dir and not explicit:
            cfg.output_dir = f"{cfg.output_dir}-{value}"
        configs[value or cfg.system or cfg.recipe] = cfg
    return configs


def compare_runs(runs: dict[str, Path], recipe: str) -> Path:
    """``comparison.json`` and ``comparison.png`` beside runs of several variants; returns the folder."""
    folder = Path(next(iter(runs.values()))).parent
    write_comparison(folder / "comparison.json", runs, recipe)
    histories = {name: read_results(run).training.history for name, run in runs.items()}
    plots.compare_curves(histories, folder / "comparison.png", f"{recipe}: {', '.join(runs)}")
    return folder


def recipe_main(recipe: type[Recipe], doc: str, default_config: Path, variants: Variants | None = None,
                shortcuts: tuple[Shortcut, ...] = ()) -> dict[str, Path]:
    """Parse the shared command line, run the recipe (once per selected variant) and print the run folders."""
    setup_logging()
    parser = script_parser(doc, variants, shortcuts)
    args = parser.parse_intermixed_args()  # overrides before and after options alike
    args.shortcut_overrides = [o for shortcut in shortcuts for o in shortcut.override(args)]
    values = variants.selected(parser, args) if variants else [None]

    running: list[Recipe] = []  # the recipe at work, whose staging folder an interruption or a full disk names

    def main() -> dict[str, Path]:
        configs = variant_configs(recipe, args, default_config, variants, values)
        folders = {"overwrite": args.overwrite, "restart": args.restart}
        for cfg in configs.values():  # every variant's output folder refused or accepted before any work
            RunFolder(cfg.output_dir, **folders).check_output()
        runs = {}
        for name, cfg in configs.items():
            running[:] = [recipe(cfg, **folders)]
            runs[name] = running[0].run()
        if PartialState().is_main_process:
            for out in runs.values():
                print(f"\n{summary(out, read_results(out))}", flush=True)
            if len(runs) > 1:
                print(f"comparison  {compare_runs(runs, next(iter(configs.values())).recipe) / 'comparison.json'}")
        return runs

    return run_reporting_errors(parser.prog, main, args.debug, lambda: running[0].folder.path if running else None)
