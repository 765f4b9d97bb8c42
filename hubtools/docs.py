"""The generated pages of the documentation site: the command-line reference from the argument parsers and the
configuration reference from the configuration dataclasses, so neither can drift from the code.

``mkdocs.yml`` names this file as a hook: :func:`on_files` adds ``reference/cli.md`` and
``reference/configuration.md`` to the site at build time, :func:`on_page_content` shows the docstrings' Sphinx
roles as code. :func:`cli_reference` and
:func:`configuration_reference` return the Markdown.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import textwrap
from typing import Any

import yaml

from hubtools import config
from hubtools.cli import build_parser
from hubtools.recipe.cli import script_parser
from hubtools.recipe.scripts import recipe_module, recipe_parts
from hubtools.training import arguments

RECIPES = ("finer", "multinerd", "conll_distil", "fewnerd", "ner_uk", "ner")  # the order of the site's pages
TRANSFORMERS_TRAINING_ARGUMENTS = "https://huggingface.co/docs/transformers/main_classes/trainer#transformers.TrainingArguments"


def _markdown(text: str) -> str:
    """Docstring text as Markdown: Sphinx roles (``:mod:`x```) become code spans."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)


def _script_doc(doc: str) -> str:
    """A recipe script's docstring as Markdown: its paragraphs of example commands become code blocks."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    commands = ("accelerate ", "python ")
    return "\n\n".join(f"```bash\n{textwrap.dedent(p)}\n```" if all(line.strip().startswith(commands)
                                                                      for line in p.splitlines())
                        else _markdown(p) for p in paragraphs)


def _cell(text: Any) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return _markdown(" ".join(str(text).split())).replace("|", "\\|")


def _value(value: Any) -> str:
    """A default value as YAML writes it inline."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _argument_name(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    takes_value = action.nargs != 0
    metavar = action.metavar or (action.dest.upper() if not action.choices else None)
    return ", ".join(f"{flag} {metavar}" if takes_value and metavar else flag for flag in action.option_strings)


def parser_markdown(parser: argparse.ArgumentParser) -> str:
    """The usage line and a table of the arguments of one parser (subcommands excepted)."""
    parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=90)
    rows = []
    for action in parser._actions:  # argparse offers no public listing of its arguments
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        default = action.default
        shown = "" if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 else _value(default)
        choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
        rows.append(f"| `{_cell(_argument_name(action))}` | {_cell(action.help or '')} | {choices} | "
                    f"{'`' + _cell(shown) + '`' if shown else ''} |")
    usage = parser.format_usage().removeprefix("usage: ").rstrip()
    return "\n".join(["```text", usage, "```", "", "| argument | what | choices | default |",
                      "|---|---|---|---|", *rows, ""])


def cli_reference() -> str:
    """The command-line reference: ``hubtools`` and its subcommands, then every recipe script."""
    parser = build_parser()
    out = ["# Command-line reference", "",
           "Generated from the argument parsers (`hubtools/cli.py`, `hubtools/recipe/cli.py` and each recipe "
           "script's own options) when the site is built.", "",
           "## hubtools", "", inspect.cleandoc(parser.description), "", parser_markdown(parser)]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    for name, subparser in sub.choices.items():
        out += [f"### hubtools {name}", "", f"{helps[name][0].upper()}{helps[name][1:]}.", "",
                parser_markdown(subparser)]
    out += ["## Recipes", "",
            "Every recipe script takes the same arguments, plus its own variant option or shortcuts. "
            "Run it with `accelerate launch recipes/NAME.py ...` or `python recipes/NAME.py ...`.", ""]
    for name in RECIPES:
        module = recipe_module(name)
        _, variants, shortcuts = recipe_parts(module)
        parser = script_parser(module.__doc__, variants, shortcuts)
        parser.prog = f"recipes/{name}.py"
        out += [f"### recipes/{name}.py", "", _script_doc(module.__doc__), "", parser_markdown(parser)]
    return "\n".join(out)


def field_descriptions(cls: type) -> dict[str, str]:
    """Field name -> its description in the ``Attributes:`` section of the class docstring (an entry may name
    several fields, ``tokens_column / tags_column: ...``)."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    if "Attributes:" not in lines:
        return {}
    entries: list[tuple[list[str], list[str]]] = []
    for line in lines[lines.index("Attributes:") + 1:]:
        if not line.strip():
            break
        entry = re.match(r"    (\w+(?: / \w+)*): (.*)", line)
        if entry:
            entries.append((entry[1].split(" / "), [entry[2]]))
        elif entries:
            entries[-1][1].append(line.strip())
    return {name: " ".join(text) for names, text in entries for name in names}


def section_markdown(key: str, cls: type) -> str:
    """A table of one configuration section's keys, their types, defaults and descriptions."""
    descriptions = field_descriptions(cls)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in descriptions]
    if missing:
        raise ValueError(f"{cls.__module__}.{cls.__name__}: no description of {', '.join(missing)} in the "
                         f"'Attributes:' section of its docstring")
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = "required" if default is dataclasses.MISSING else f"`{_cell(_value(default))}`"
        rows.append(f"| `{key}.{f.name}` | `{_cell(f.type)}` | {shown} | {_cell(descriptions[f.name])} |")
    summary = inspect.cleandoc(cls.__doc__).split("\n\n")[0]
    return "\n".join([f"`{cls.__module__}.{cls.__name__}`: {_markdown(' '.join(summary.split()))}", "",
                      "| key | type | default | what |", "|---|---|---|---|", *rows, ""])


def configuration_reference() -> str:
    """The configuration reference: the shared sections, ``training``, and each family's options section."""
    sections = {f.name: getattr(config, f.type) for f in dataclasses.fields(config.RecipeConfig)
                if dataclasses.is_dataclass(getattr(config, str(f.type), None))}
    out = ["# Configuration reference", "",
           "Generated from the configuration dataclasses when the site is built. " + _markdown(" ".join(
               inspect.cleandoc(config.__doc__).split("\n\n")[1].split())), "",
           "A recipe's YAML file (`recipes/configs/NAME.yaml`, its tiny preset `NAME-tiny.yaml`) holds `recipe`, "
           "`system` (the variant), `output_dir` and the sections below; every key can be set on the command "
           "line as `section.key=value`.", ""]
    for key, cls in sections.items():
        out += [f"## {key}", "", section_markdown(key, cls)]
    own = {name: f for name, f in arguments.NerTrainingArguments.__dataclass_fields__.items()
           if name in vars(arguments.NerTrainingArguments).get("__annotations__", {})}
    default_help = "nerhub's default"
    rows = [f"| `training.{name}` | `{_cell(_value(f.default))}` | {_cell(f.metadata.get('help', default_help))} |"
            for name, f in own.items()]
    out += ["## training", "", _markdown(inspect.cleandoc(arguments.__doc__)), "",
            f"The options: transformers' [`TrainingArguments`]({TRANSFORMERS_TRAINING_ARGUMENTS}). The defaults "
            "nerhub sets and the keys it adds (`NerTrainingArguments`):", "",
            "| key | default | what |", "|---|---|---|", *rows, ""]
    families: dict[type, list[str]] = {}
    for name in RECIPES:
        recipe = recipe_parts(recipe_module(name))[0]
        if recipe.options_class is not None:
            families.setdefault(recipe.options_class, []).append(name)
    out += ["## Family options", "",
            "A model family's own section; its key is `options` unless the family names another.", ""]
    for cls, names in families.items():
        key = config.options_section(cls)
        out += [f"### {key}: {', '.join(names)}", "", section_markdown(key, cls)]
    return "\n".join(out)


GENERATED = {"reference/cli.md": cli_reference, "reference/configuration.md": configuration_reference}


def on_page_content(html: str, **kwargs: Any) -> str:
    """mkdocs hook: the Sphinx roles of the docstrings (``:func:`name```), rendered by mkdocstrings as
    ``:func:<code>name</code>``, shown as the code span alone."""
    return re.sub(r":\w+:<code>~?", "<code>", html)


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated reference pages to the site."""
    from mkdocs.structure.files import File

    for path, generate in GENERATED.items():
        files.append(File.generated(config, path, content=generate()))
    return files
